// erofsfs/format/disk.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/disk.hpp>

#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const auto sb = erofsfs::disk::load<erofsfs::disk::super_block>(in.bytes.data() + erofsfs::disk::super_offset);
  HEADER_EXPECT(sb.magic.get() == erofsfs::disk::super_magic);
  HEADER_EXPECT(std::string_view(erofsfs::disk::compression_name(erofsfs::disk::compression_lz4)) == "lz4");
  return 0;
}
