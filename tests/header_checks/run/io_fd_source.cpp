// erofsfs/io/fd_source.hpp alone: its entry points link and work on a real image.
#include <erofsfs/io/fd_source.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  auto src = erofsfs::fd_source::open(in.path);
  HEADER_EXPECT(src && src->fd() >= 0 && src->size() == in.bytes.size());
  std::byte magic[4];
  HEADER_EXPECT(!src->read_at(1024, magic) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(!erofsfs::fd_source::open("/nonexistent/erofsfs-header-check"));
  return 0;
}
