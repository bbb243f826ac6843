// erofsfs cache: the persistent caches of serve-fanotify --cache-dir.
//
//   erofsfs cache ls ROOT          one line per cache: id, state, devices, bytes filled
//   erofsfs cache rm ROOT ID...    delete caches (refused while a daemon uses one)
#include <cstdio>
#include <cstring>
#include <erofsfs/backends/fanotify/sparse_store.hpp>
#include <string>

#include "commands.hpp"
#include "common.hpp"

namespace erofsfs::cli {

int run_cache(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0)) {
    std::printf("usage: erofsfs cache ls ROOT | erofsfs cache rm ROOT ID...\n");
    return exit_ok;
  }
  if (argc == 3 && std::strcmp(argv[1], "ls") == 0) {
    auto caches = fanotify::list_caches(argv[2]);
    if (!caches) {
      std::fprintf(stderr, "erofsfs: cache: %s: %s\n", argv[2], caches.error().message().c_str());
      return exit_problem;
    }
    for (const fanotify::cache_info& c : *caches) {
      std::uint64_t size = 0, filled = 0;
      for (std::uint64_t v : c.device_sizes) size += v;
      for (std::uint64_t v : c.filled_bytes) filled += v;
      std::string state = c.in_use ? "in-use(pid " + std::to_string(c.owner_pid) + ")" : "idle";
      std::printf("%s %s devices %zu filled %llu of %llu B\n", c.id.c_str(), state.c_str(),
                  c.device_sizes.size(), static_cast<unsigned long long>(filled),
                  static_cast<unsigned long long>(size));
    }
    return exit_ok;
  }
  if (argc >= 4 && std::strcmp(argv[1], "rm") == 0) {
    int rc = exit_ok;
    for (int i = 3; i < argc; ++i)
      if (status st = fanotify::remove_cache(argv[2], argv[i]); !st) {
        std::fprintf(stderr, "erofsfs: cache: %s: %s\n", argv[i], st.error().message().c_str());
        rc = exit_problem;
      }
    return rc;
  }
  std::fprintf(stderr, "usage: erofsfs cache ls ROOT | erofsfs cache rm ROOT ID...\n");
  return exit_usage;
}

}  // namespace erofsfs::cli
