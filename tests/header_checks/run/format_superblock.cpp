// erofsfs/format/superblock.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/superblock.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const auto area = in.bytes.subspan(erofsfs::disk::super_offset);
  const std::uint64_t need = erofsfs::superblock_read_size(area);
  HEADER_EXPECT(need >= erofsfs::disk::sb_base_size && need <= area.size());
  auto sb = erofsfs::parse_superblock(area.first(need));
  HEADER_EXPECT(sb && sb->compression_capable() && sb->block_size == 4096);
  std::uint64_t pos = 0;
  HEADER_EXPECT(sb->inode_position(sb->root_nid, pos) && pos < in.bytes.size());
  HEADER_EXPECT(erofsfs::device_table_size(*sb) == 0 || erofsfs::device_table_offset(*sb) > 0);
  auto devices = erofsfs::parse_device_table(*sb, {});
  HEADER_EXPECT(devices && devices->empty());
  (void)sb->volume_name();
  HEADER_EXPECT(!erofsfs::parse_superblock(area.first(16)));
  return 0;
}
