// erofsfs/backends/fanotify/sparse_store.hpp alone: its entry points link and work in a
// temporary directory (no fanotify group needed).
#include <erofsfs/backends/fanotify/sparse_store.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "check.hpp"

namespace {
int check(const std::string& root, std::uint64_t image_size) {
  namespace fa = erofsfs::fanotify;
  HEADER_EXPECT(fa::valid_cache_id("abc123") && !fa::valid_cache_id(".x") && !fa::valid_cache_id(""));
  HEADER_EXPECT(!fa::valid_cache_id("a/b"));
  const std::uint64_t sizes[] = {image_size};
  std::vector<fa::interval_set> present(1);
  {
    auto s = fa::sparse_store::open_cache(root, "img", 1);
    HEADER_EXPECT(s && s->persistent() && s->size() == 1 && s->recorded_sizes().empty());
    HEADER_EXPECT(s->dir() == root + "/img");
    // A second daemon is refused while this one holds the lock.
    auto other = fa::sparse_store::open_cache(root, "img", 1);
    HEADER_EXPECT(!other && other.error().code.value() == EBUSY);
    HEADER_EXPECT(s->prepare(sizes, present) && s->journal().is_open());
    struct stat st;
    HEADER_EXPECT(::fstat(s->at(0).fd.get(), &st) == 0 &&
                  static_cast<std::uint64_t>(st.st_size) == image_size);
    HEADER_EXPECT(s->journal().append(0, 0, 4096));
    auto busy = fa::inspect_cache(root, "img");
    HEADER_EXPECT(busy && busy->in_use && busy->owner_pid == static_cast<std::uint64_t>(::getpid()));
  }
  // Reopened: the recorded sizes and the journal come back.
  {
    auto s = fa::sparse_store::open_cache(root, "img", 1);
    HEADER_EXPECT(s && s->recorded_sizes().size() == 1 && s->recorded_sizes()[0] == image_size);
    HEADER_EXPECT(s->prepare(sizes, present) && present[0].contains(0, 4096));
    const std::uint64_t other_sizes[] = {image_size + 1};
    HEADER_EXPECT(!s->prepare(other_sizes, present));
  }
  auto info = fa::inspect_cache(root, "img");
  HEADER_EXPECT(info && !info->in_use && info->device_sizes.size() == 1);
  HEADER_EXPECT(info->filled_bytes.size() == 1 && info->filled_bytes[0] == 4096);
  auto all = fa::list_caches(root);
  HEADER_EXPECT(all && all->size() == 1 && (*all)[0].id == "img");
  HEADER_EXPECT(!fa::inspect_cache(root, "nope"));
  // Plain sparse files: locked, sized, no journal.
  {
    const std::string paths[] = {root + "/plain.sparse"};
    auto s = fa::sparse_store::open_files(paths);
    HEADER_EXPECT(s && !s->persistent() && s->size() == 1);
    HEADER_EXPECT(s->prepare(sizes, present) && !s->journal().is_open());
    HEADER_EXPECT(!fa::sparse_store::open_files(paths));  // locked by `s`
    const std::string twice[] = {root + "/b.sparse", root + "/b.sparse"};
    HEADER_EXPECT(!fa::sparse_store::open_files(twice));
  }
  HEADER_EXPECT(!fa::sparse_store::open_cache(root, "img", 0));
  HEADER_EXPECT(fa::remove_cache(root, "img"));
  HEADER_EXPECT(!fa::inspect_cache(root, "img"));
  return 0;
}
}  // namespace

int header_check(const header_check_input& in) {
  char dir[] = "/tmp/erofsfs-header-check-XXXXXX";
  HEADER_EXPECT(::mkdtemp(dir) != nullptr);
  const int rc = check(dir, in.bytes.size());
  ::unlink((std::string(dir) + "/plain.sparse").c_str());
  ::unlink((std::string(dir) + "/b.sparse").c_str());
  ::rmdir(dir);
  return rc;
}
