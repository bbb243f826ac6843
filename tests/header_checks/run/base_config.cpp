// erofsfs/base/config.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/config.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  EROFSFS_ASSERT(in.img != nullptr, "the opener gave an image");
  HEADER_EXPECT(EROFSFS_LIKELY(in.bytes.size() > 1024) && !EROFSFS_UNLIKELY(in.bytes.empty()));
  HEADER_EXPECT(EROFSFS_FUZZING_ENABLED == 0);
  return 0;
}
