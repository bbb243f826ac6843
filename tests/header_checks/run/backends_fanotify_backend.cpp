// erofsfs/backends/fanotify/backend.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fanotify/backend.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // A backend over the image: fanotify pre-content needs root and Linux 6.14+, so "unsupported"
  // or a permission error is an answer too; anything else must work.
  char dir[] = "/tmp/erofsfs-header-check-XXXXXX";
  HEADER_EXPECT(::mkdtemp(dir) != nullptr);
  const std::string sparse = std::string(dir) + "/sparse";
  const erofsfs::memory_source src(in.bytes);
  const erofsfs::fanotify::device_spec devices[] = {{src, sparse}};
  HEADER_EXPECT(erofsfs::fanotify::backend::create({}).error().code == erofsfs::errc::invalid_argument);
  int rc = 0;
  {
    auto b = erofsfs::fanotify::backend::create(devices);
    if (b) {
      if (!((*b)->fd() >= 0 && (*b)->device_count() == 1 && (*b)->stats().metadata_bytes > 0)) rc = 1;
      if (!(*b)->run_once(0)) rc = 1;
    } else if (b.error().code != erofsfs::errc::unsupported && b.error().code.value() != EPERM) {
      std::fprintf(stderr, "backend::create: %s\n", b.error().message().c_str());
      rc = 1;
    }
  }
  ::unlink(sparse.c_str());
  ::rmdir(dir);
  return rc;
}
