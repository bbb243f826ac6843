// erofsfs/map/map_extent.hpp alone: its entry points link and work on a real image.
#include <erofsfs/map/map_extent.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  auto root = erofsfs::read_inode(img, img.sb().root_nid);
  HEADER_EXPECT(root && root->is_dir() && root->nid == img.sb().root_nid);
  auto e = erofsfs::map_extent(img, *in.file, in.file_extent->logical);
  HEADER_EXPECT(e && e->kind == erofsfs::extent_kind::encoded && e->physical == in.file_extent->physical);
  HEADER_EXPECT(!erofsfs::map_extent(img, *in.file, in.file->size));  // past the end
  return 0;
}
