// erofsfs/io/mmap_source.hpp alone: its entry points link and work on a real image.
#include <erofsfs/io/mmap_source.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  auto src = erofsfs::mmap_source::open(in.path);
  HEADER_EXPECT(src && src->size() == in.bytes.size() && src->bytes().size() == in.bytes.size());
  std::byte magic[4];
  HEADER_EXPECT(!src->read_at(1024, magic) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(!erofsfs::mmap_source::open("/nonexistent/erofsfs-header-check"));
  return 0;
}
