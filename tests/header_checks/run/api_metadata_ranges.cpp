// erofsfs/api/metadata_ranges.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/metadata_ranges.hpp>

#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  erofsfs::read_context ctx;
  auto ranges = erofsfs::metadata_ranges(img, ctx);
  HEADER_EXPECT(ranges && !ranges->empty() && (*ranges)[0].offset == 0);
  std::vector<erofsfs::metadata_range> each;
  HEADER_EXPECT(erofsfs::for_each_metadata_range(img, ctx, [&](const erofsfs::metadata_range& r) { each.push_back(r); }));
  HEADER_EXPECT(each.size() >= ranges->size());
  erofsfs::merge_metadata_ranges(each);
  HEADER_EXPECT(each.size() == ranges->size());
  HEADER_EXPECT(erofsfs::metadata_kind_name(erofsfs::metadata_kind::superblock) != nullptr);
  return 0;
}
