// erofsfs/version.hpp alone: its entry points link and work on a real image.
#include <erofsfs/version.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  static_assert(EROFSFS_VERSION_MAJOR >= 0 && EROFSFS_VERSION_MINOR >= 0 && EROFSFS_VERSION_PATCH >= 0);
  return 0;
}
