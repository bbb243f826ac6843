// erofsfs/format/inode.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/inode.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const auto area = in.bytes.subspan(erofsfs::disk::super_offset);
  auto sb = erofsfs::parse_superblock(area.first(erofsfs::superblock_read_size(area)));
  HEADER_EXPECT(sb);
  std::uint64_t pos = 0;
  HEADER_EXPECT(sb->inode_position(sb->root_nid, pos));
  const auto raw = in.bytes.subspan(pos, erofsfs::inode_disk_size(in.bytes.subspan(pos, 2)));
  auto root = erofsfs::parse_inode(raw, sb->root_nid, pos, false, *sb);
  HEADER_EXPECT(root && root->is_dir() && root->has_data() && !root->is_regular() && !root->is_symlink());
  HEADER_EXPECT(root->type() == erofsfs::file_type::directory && !root->is_compressed());
  HEADER_EXPECT(erofsfs::file_type_name(root->type()) != nullptr && erofsfs::data_layout_name(root->layout) != nullptr);
  HEADER_EXPECT(erofsfs::file_type_from_mode(0100644) == erofsfs::file_type::regular);
  HEADER_EXPECT(erofsfs::file_type_from_dirent(2) == erofsfs::file_type::directory);
  return 0;
}
