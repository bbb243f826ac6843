// erofsfs/backends/fuse/server.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fuse/server.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // Mounting is the fuse tests' job (tests/test_fuse.cpp); here the server's whole request
  // table must link, and a mount point that does not exist is refused without mounting.
  auto s = erofsfs::fuse::server::mount(*in.img, "/nonexistent/erofsfs-header-check");
  HEADER_EXPECT(!s);
  return 0;
}
