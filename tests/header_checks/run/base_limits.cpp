// erofsfs/base/limits.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/limits.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  const erofsfs::limits lim;
  HEADER_EXPECT(lim.max_block_size == 64u << 10 && lim.max_symlink_hops == 40 && lim.max_depth > 0);
  return 0;
}
