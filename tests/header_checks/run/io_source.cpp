// erofsfs/io/source.hpp alone: its entry points link and work on a real image.
#include <erofsfs/io/source.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::memory_source mem(in.bytes);
  const erofsfs::source_ref ref = mem;
  std::byte magic[4];
  HEADER_EXPECT(!ref.read_at(1024, magic) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(ref.read_at(in.bytes.size() - 2, magic));  // past the end
  HEADER_EXPECT(ref.contiguous() && ref.bytes().size() == in.bytes.size());
  HEADER_EXPECT(erofsfs::memory_source(in.bytes.data(), 8).size() == 8);
  return 0;
}
