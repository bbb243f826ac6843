// erofsfs/map/extent_iterator.hpp alone: its entry points link and work on a real image.
#include <erofsfs/map/extent_iterator.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::extent_iterator it(*in.img, *in.file);
  erofsfs::extent e;
  std::uint64_t covered = 0;
  for (int n = 0; n < 1000; ++n) {  // bounded: the file has a few extents
    auto more = it.next(e);
    HEADER_EXPECT(more);
    if (!*more) break;
    HEADER_EXPECT(e.logical == covered);
    covered += e.length;
  }
  HEADER_EXPECT(covered == header_check_file_size);
  return 0;
}
