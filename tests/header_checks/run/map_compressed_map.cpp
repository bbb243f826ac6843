// erofsfs/map/compressed_map.hpp alone: its entry points link and work on a real image.
#include <erofsfs/map/compressed_map.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  auto e = erofsfs::zmap_extent(*in.img, *in.file, in.file_extent->logical);
  HEADER_EXPECT(e && e->kind == erofsfs::extent_kind::encoded && e->length == in.file_extent->length);
  erofsfs::inode fresh = *in.file;
  HEADER_EXPECT(erofsfs::zmap_init(*in.img, fresh));
  return 0;
}
