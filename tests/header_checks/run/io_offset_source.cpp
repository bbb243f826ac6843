// erofsfs/io/offset_source.hpp alone: its entry points link and work on a real image.
#include <erofsfs/io/offset_source.hpp>

#include <cstring>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::memory_source whole(in.bytes);
  // A window starting at the superblock: its magic is at 0.
  auto sb = erofsfs::offset_source::create(whole, 1024, 4096);
  HEADER_EXPECT(sb && sb->size() == 4096 && sb->offset() == 1024);
  std::byte magic[4];
  HEADER_EXPECT(!sb->read_at(0, magic) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(sb->bytes().data() == in.bytes.data() + 1024 && sb->bytes().size() == 4096);
  HEADER_EXPECT(sb->read_at(4093, magic));  // past the window
  // To the end of the source when no length is given.
  auto tail = erofsfs::offset_source::create(whole, 4096);
  HEADER_EXPECT(tail && tail->size() == in.bytes.size() - 4096);
  std::byte last[1];
  HEADER_EXPECT(!tail->read_at(tail->size() - 1, last) && last[0] == in.bytes.back());
  // Windows that do not fit are refused.
  HEADER_EXPECT(!erofsfs::offset_source::create(whole, in.bytes.size() + 1));
  HEADER_EXPECT(!erofsfs::offset_source::create(whole, 4096, in.bytes.size()));
  HEADER_EXPECT(!erofsfs::offset_source::create(whole, ~std::uint64_t{0} - 1, 4));
  return 0;
}
