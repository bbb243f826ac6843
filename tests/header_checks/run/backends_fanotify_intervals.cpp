// erofsfs/backends/fanotify/intervals.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fanotify/intervals.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  erofsfs::fanotify::interval_set set(16);
  HEADER_EXPECT(set.insert(0, 4096) && set.insert(8192, 12288));
  HEADER_EXPECT(set.contains(0, 4096) && !set.contains(0, 12288) && set.size() == 2);
  std::uint64_t gap = 0;
  set.for_each_gap(0, 12288, [&](std::uint64_t a, std::uint64_t b) { gap += b - a; });
  HEADER_EXPECT(gap == 4096);
  set.clear();
  HEADER_EXPECT(set.size() == 0);
  return 0;
}
