// erofsfs/backends/fscache/protocol.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fscache/protocol.hpp>

#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  namespace fs = erofsfs::fscache;
  std::byte buf[fs::max_msg_size];
  auto n = fs::encode_open(buf, 1, 2, "erofs,img", "blob", 7);
  HEADER_EXPECT(n);
  auto m = fs::parse_message(std::span(buf, *n));
  HEADER_EXPECT(m && m->op == fs::opcode::open && m->open.cookie_key == "blob");
  HEADER_EXPECT(fs::erofs_volume_id(m->open.volume_key) == "img");
  n = fs::encode_read(buf, 3, 2, 4096, 8192);
  HEADER_EXPECT(n && fs::parse_message(std::span(buf, *n))->op == fs::opcode::read);
  n = fs::encode_close(buf, 4, 2);
  HEADER_EXPECT(n && fs::parse_header(std::span(buf, *n)));
  HEADER_EXPECT(fs::format_copen(1, 4096).view() == "copen 1,4096");
  HEADER_EXPECT(fs::format_copen_error(1, 5).view() == "copen 1,-5");
  HEADER_EXPECT(std::string_view(fs::opcode_name(fs::opcode::read)) == "READ");
  return 0;
}
