// erofsfs mount: serve an image through FUSE.
//
//   erofsfs mount IMG MOUNTPOINT [--device FILE]... [--offset N] [-o allow_other[,...]] [-f]
//                 [--cache-size MIB]
//
// Works as a normal user (through fusermount3) and as root. Without -f it detaches once the
// mount is up (errors before that go to the terminal, failed requests afterwards to syslog);
// with -f it stays in the foreground and logs to stderr. SIGTERM, SIGINT or SIGHUP unmount it
// (lazily: files still open are served until closed), as does `fusermount3 -u MOUNTPOINT`.
// --cache-size MIB shares one decoded-pcluster cache of that budget between all requests.
// Built only with libfuse3 (pkg-config fuse3); otherwise the command says so.
#include "common.hpp"

#ifdef EROFSFS_HAVE_FUSE3
#include <pthread.h>
#include <signal.h>
#include <syslog.h>

#include <atomic>
#include <thread>

#include <erofsfs/backends/fuse/server.hpp>
#endif

namespace erofsfs::cli {

#ifdef EROFSFS_HAVE_FUSE3

namespace {

void log_to_stderr(void*, const char* line) { std::fprintf(stderr, "%s\n", line); }
void log_to_syslog(void*, const char* line) { syslog(LOG_ERR, "%s", line); }

// -o values: a comma-separated list of the options this command knows.
bool parse_mount_options(const std::string& list, fuse::mount_options& mo, std::string& bad) {
  std::size_t at = 0;
  while (at <= list.size()) {  // bounded: `at` moves past one item per pass
    std::size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(at, comma - at);
    if (item == "allow_other")
      mo.allow_other = true;
    else if (item == "default_permissions")
      mo.default_permissions = true;
    else if (item == "ro" || item.empty())
      ;  // always read-only
    else
      return bad = item, false;
    at = comma + 1;
  }
  return true;
}

int run_mount(const args& a) {
  std::unique_ptr<decoded_cache> cache;  // outlives the server below
  if (!make_shared_cache(a, cache)) return exit_usage;
  fuse::mount_options mo;
  for (const std::string& list : a.values("option")) {
    std::string bad;
    if (!parse_mount_options(list, mo, bad))
      return usage_error(a, "unknown mount option '" + bad + "'");
  }
  const bool foreground = a.has("foreground");
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  mo.fsname = a.positional[0];
  mo.shared_cache = cache.get();
  mo.log = foreground ? log_to_stderr : log_to_syslog;

  auto srv = fuse::server::mount(o->img, a.positional[1], mo);
  if (!srv) {
    report(a.cmd, a.positional[1], srv.error());
    return exit_problem;
  }
  if (!foreground) {
    openlog("erofsfs", LOG_PID, LOG_DAEMON);
    if (fuse_daemonize(0) != 0) {
      report(a.cmd, "could not detach from the terminal");
      return exit_problem;
    }
  }

  // Signals are taken by one thread (sigwait), which stops the server; blocked first so no
  // libfuse worker thread ever runs a handler.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&sigs, sig);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::atomic<bool> waiting{true};
  fuse::server& server = **srv;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    waiting = false;
    if (sig != SIGUSR1) server.stop();  // SIGUSR1 only wakes this thread at the end
  });
  const status st = server.run();
  if (waiting) pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  if (!st) {
    report(a.cmd, a.positional[1], st.error());
    return exit_problem;
  }
  return exit_ok;
}

#else

namespace {

int run_mount(const args& a) {
  report(a.cmd, "this erofsfs was built without libfuse3 (Debian libfuse3-dev), so it "
                "cannot mount images; rebuild with libfuse3 installed");
  return exit_problem;
}

#endif

constexpr option_def options[] = {
    {"option", 'o', value_kind::text, "OPTS",
     "mount options, comma-separated: allow_other, default_permissions, ro", true},
    {"foreground", 'f', value_kind::none, nullptr,
     "stay in the foreground and log to stderr (default: detach, log to syslog)"},
    cache_size_option,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}, {"MOUNTPOINT", arity::one}};

}  // namespace

const command_spec mount_command{
    "mount", "serve IMG through FUSE on MOUNTPOINT (any user; -f stays in the foreground)",
    options, common::image_options, positionals, run_mount};

}  // namespace erofsfs::cli
