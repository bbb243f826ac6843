// erofsfs cache: the persistent caches of serve-fanotify --cache-dir.
//
//   erofsfs cache ls ROOT       one line per cache: id, in use (pid) or idle, bytes filled
//   erofsfs cache rm ROOT ID    delete a cache (refused while a daemon uses it)
#include <cstdio>
#include <erofsfs/backends/fanotify/sparse_store.hpp>
#include <string>

#include "common.hpp"

namespace erofsfs::cli {

namespace {

int run_cache(const args& a) {
  const std::string& action = a.positional[0];
  const std::string& root = a.positional[1];
  if (action == "ls" && a.positional.size() == 2) {
    auto caches = fanotify::list_caches(root);
    if (!caches) {
      report(a.cmd, root + ": " + caches.error().message());
      return exit_problem;
    }
    for (const fanotify::cache_info& c : *caches) {
      std::uint64_t size = 0, filled = 0;
      for (std::uint64_t v : c.device_sizes) size += v;
      for (std::uint64_t v : c.filled_bytes) filled += v;
      const std::string state =
          c.in_use ? "in-use(pid " + std::to_string(c.owner_pid) + ")" : "idle";
      std::printf("%s %s devices %zu filled %llu of %llu B\n", c.id.c_str(), state.c_str(),
                  c.device_sizes.size(), static_cast<unsigned long long>(filled),
                  static_cast<unsigned long long>(size));
    }
    return exit_ok;
  }
  if (action == "rm" && a.positional.size() == 3) {
    if (status st = fanotify::remove_cache(root, a.positional[2]); !st) {
      report(a.cmd, a.positional[2] + ": " + st.error().message());
      return exit_problem;
    }
    return exit_ok;
  }
  return usage_error(a, "give ls ROOT or rm ROOT ID");
}

constexpr positional_def positionals[] = {
    {"ls|rm", arity::one}, {"ROOT", arity::one}, {"ID", arity::optional}};

}  // namespace

const command_spec cache_command{
    "cache", "list (ls ROOT) or remove (rm ROOT ID) the caches of serve-fanotify --cache-dir",
    {}, {}, positionals, run_cache, "ls ROOT | rm ROOT ID"};

}  // namespace erofsfs::cli
