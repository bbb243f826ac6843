// erofsfs/format/layout.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/layout.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  static_assert(erofsfs::layout::inline_tail_start(5000, 12) == 4096);
  HEADER_EXPECT(erofsfs::layout::inline_tail_length(5000, 12) == 904);
  HEADER_EXPECT(erofsfs::layout::inline_tail_fits(4096 - 100, 100, 12));
  HEADER_EXPECT(erofsfs::layout::chunk_count(8192, 12) == 2);
  std::uint64_t pos = 0, len = 0;
  HEADER_EXPECT(erofsfs::layout::chunk_array_span(64, 0, 8192, 12, pos, len) && pos == 64);
  HEADER_EXPECT(erofsfs::layout::chunk_entry_position(64, 0, 1, pos) && pos > 64);
  HEADER_EXPECT(erofsfs::layout::chunk_entry_size(0) > 0);
  HEADER_EXPECT(erofsfs::layout::xattr_ibody_size(0) == 0 && erofsfs::layout::xattr_entry_size(4, 4) > 8);
  HEADER_EXPECT(erofsfs::layout::long_prefix_record_start(5) % 4 == 0 && erofsfs::layout::long_prefix_record_size(3) == 5);
  return 0;
}
