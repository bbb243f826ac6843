// erofsfs/api/file_data.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/file_data.hpp>

#include <algorithm>
#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  erofsfs::read_context ctx;
  std::vector<std::byte> buf(100), all, scratch;
  auto n = erofsfs::read(img, *in.file, 10, buf, ctx);
  HEADER_EXPECT(n && *n == 100);
  HEADER_EXPECT(erofsfs::read_all(img, *in.file, all, ctx) && all.size() == header_check_file_size);
  auto view = erofsfs::read_view(img, *in.file, 10, 100, scratch, ctx);
  HEADER_EXPECT(view && view->size() == 100 && std::equal(view->begin(), view->end(), buf.begin()));
  HEADER_EXPECT(erofsfs::read_link(img, *in.root, ctx).error().code == erofsfs::errc::not_a_symlink);
  return 0;
}
