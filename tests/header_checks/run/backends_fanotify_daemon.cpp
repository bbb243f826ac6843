// erofsfs/backends/fanotify/daemon.hpp alone: its options and the prefetcher's reads link and
// work (run_daemon itself needs a fanotify group, so root and Linux 6.14+; not called here).
#include <erofsfs/backends/fanotify/daemon.hpp>

#include <string>
#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  namespace fa = erofsfs::fanotify;
  std::vector<std::string> lines;
  fa::daemon_options opt;
  HEADER_EXPECT(opt.mount_dir.empty() && !opt.prefetch_all && opt.fill_threads == 8 && opt.log);
  HEADER_EXPECT(opt.relay.max_pending > 0);
  opt.log = [&](const std::string& s) { lines.push_back(s); };
  // The prefetcher reads a file to its end in prefetch_chunk reads.
  std::vector<char> buf(fa::detail::prefetch_chunk);
  std::uint64_t total = 0;
  HEADER_EXPECT(fa::detail::prefetch_read(in.path, buf, total, opt));
  HEADER_EXPECT(total == in.bytes.size() && lines.empty());
  HEADER_EXPECT(!fa::detail::prefetch_read("/nonexistent/erofsfs-header-check", buf, total, opt));
  HEADER_EXPECT(total == in.bytes.size() && lines.size() == 1 &&
                lines[0].find("prefetch") != std::string::npos);
  // run_daemon is declared with what it needs; taking its address links it.
  int (*run)(std::unique_ptr<fa::backend>, const fa::daemon_options&) = &fa::run_daemon;
  HEADER_EXPECT(run != nullptr);
  return 0;
}
