// erofsfs/backends/fscache/devnode.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fscache/devnode.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  static_assert(erofsfs::fscache::devnode<erofsfs::fscache::cachefiles_device>);
  HEADER_EXPECT(!erofsfs::fscache::cachefiles_device::open("/nonexistent/erofsfs-header-check"));
  return 0;
}
