// erofsfs/api/open.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/open.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::memory_source src(in.bytes);
  erofsfs::open_options opt;
  auto img = erofsfs::open_image(src, opt);
  HEADER_EXPECT(img && img->sb().root_nid == in.img->sb().root_nid);
  erofsfs::memory_source cut(in.bytes.first(1100));
  HEADER_EXPECT(!erofsfs::open_image(cut));
  return 0;
}
