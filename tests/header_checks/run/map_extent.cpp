// erofsfs/map/extent.hpp alone: its entry points link and work on a real image.
#include <erofsfs/map/extent.hpp>

#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::extent& e = *in.file_extent;
  HEADER_EXPECT(e.kind == erofsfs::extent_kind::encoded && e.length > 0);
  HEADER_EXPECT(std::string_view(erofsfs::extent_kind_name(e.kind)) == "encoded");
  HEADER_EXPECT((e.flags & erofsfs::extent_flags::in_metabox) == 0 && erofsfs::algorithm_interlaced != 0);
  return 0;
}
