// erofsfs serve-fanotify: lazy-load an image through fanotify pre-content events.
//
//   erofsfs serve-fanotify IMAGE SPARSE [--device SRC SPARSE]... [--mount DIR]
//
// Creates SPARSE (and one sparse file per --device, in device-table order) at the source's
// size, copies the image's metadata into it, marks it for FAN_PRE_ACCESS and then fills data
// blocks from IMAGE / SRC as the kernel asks for them. With --mount, also mounts SPARSE on DIR
// (file-backed EROFS mount, device= options for the blobs) and unmounts it on exit. Serves
// until SIGINT or SIGTERM; if the mount is still busy then, it keeps serving and a second
// signal detaches it lazily. Needs root and Linux >= 6.14.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <erofsfs/backends/fanotify/backend.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"

namespace {

using namespace erofsfs;

int usage() {
  std::fprintf(stderr,
               "usage: erofsfs serve-fanotify IMAGE SPARSE [--device SRC SPARSE]... "
               "[--mount DIR]\n");
  return 2;
}

void log_stats(const fanotify::backend& b, const char* when) {
  const fanotify::backend_stats s = b.stats();
  std::fprintf(stderr,
               "serve-fanotify: %s: metadata %llu B, fetched %llu B, events %llu "
               "(allowed %llu, denied %llu), fill errors %llu\n",
               when, static_cast<unsigned long long>(s.metadata_bytes),
               static_cast<unsigned long long>(s.bytes_fetched),
               static_cast<unsigned long long>(s.events),
               static_cast<unsigned long long>(s.allowed),
               static_cast<unsigned long long>(s.denied),
               static_cast<unsigned long long>(s.fill_errors));
}

double now_seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

namespace erofsfs::cli {

// argv[0] is the subcommand name; the arguments follow. --device takes two values here (the
// blob's source and its sparse file), so the shared option parser does not apply.
int run_serve_fanotify(int argc, char** argv) {
  std::vector<std::string> src_paths, sparse_paths;
  std::string mount_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device") {
      if (i + 2 >= argc) return usage();
      src_paths.push_back(argv[i + 1]);
      sparse_paths.push_back(argv[i + 2]);
      i += 2;
    } else if (a == "--mount") {
      if (i + 1 >= argc) return usage();
      mount_dir = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "serve-fanotify: unknown option %s\n", a.c_str());
      return usage();
    } else if (src_paths.empty() || (src_paths.size() == 1 && sparse_paths.empty())) {
      // The two positionals come first; --device pairs are appended after them.
      if (src_paths.empty())
        src_paths.push_back(a);
      else
        sparse_paths.push_back(a);
    } else {
      return usage();
    }
  }
  if (src_paths.empty() || sparse_paths.size() != src_paths.size()) return usage();

  // The sparse files are truncated: refuse a sparse path that names one of the sources.
  for (const std::string& sp : sparse_paths) {
    struct stat a;
    if (::stat(sp.c_str(), &a) != 0) continue;
    for (const std::string& p : src_paths) {
      struct stat b;
      if (::stat(p.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        std::fprintf(stderr, "serve-fanotify: %s is a source, not a sparse file\n", sp.c_str());
        return 2;
      }
    }
  }

  std::vector<fd_source> sources;
  sources.reserve(src_paths.size());
  for (const std::string& p : src_paths) {
    auto s = fd_source::open(p.c_str());
    if (!s) {
      std::fprintf(stderr, "serve-fanotify: %s: %s\n", p.c_str(), s.error().message().c_str());
      return 1;
    }
    sources.push_back(std::move(*s));
  }
  std::vector<fanotify::device_spec> devs;
  for (std::size_t i = 0; i < sources.size(); ++i) devs.push_back({sources[i], sparse_paths[i]});

  // Signals arrive through a descriptor polled beside the fanotify one: no handler, no global
  // flag. Blocked before any thread starts so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &sigs, nullptr) != 0) return 1;
  const int sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
  if (sigfd < 0) {
    std::fprintf(stderr, "serve-fanotify: signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  auto created = fanotify::backend::create(devs);
  if (!created) {
    std::fprintf(stderr, "serve-fanotify: %s\n", created.error().message().c_str());
    ::close(sigfd);
    return 1;
  }
  std::unique_ptr<fanotify::backend> be = std::move(*created);
  log_stats(*be, "metadata prefetched");

  // Mounting may read through the backing file, which waits for this process's answers:
  // mount from a second thread while this one serves.
  std::atomic<int> mount_state{0};  // 0 pending, 1 mounted, -1 failed, 2 unmounted
  std::string mount_error;
  std::thread mounter;
  if (!mount_dir.empty()) {
    std::vector<std::string> blobs(sparse_paths.begin() + 1, sparse_paths.end());
    mounter = std::thread([&, blobs] {
      const status st = fanotify::mount_erofs(sparse_paths[0], blobs, mount_dir);
      if (!st) mount_error = st.error().message();
      mount_state = st ? 1 : -1;
    });
  }

  int rc = 0;
  bool stop_requested = false, reported_mount = false;
  double last_log = now_seconds();
  while (true) {  // runs until a signal (or a fatal error); each pass waits at most 1 s
    pollfd p[2] = {{be->fd(), POLLIN, 0}, {sigfd, POLLIN, 0}};
    const int r = ::poll(p, 2, 1000);
    if (r < 0 && errno != EINTR) {
      std::fprintf(stderr, "serve-fanotify: poll: %s\n", std::strerror(errno));
      rc = 1;
      break;
    }
    if (r > 0 && (p[0].revents & POLLIN)) {
      auto h = be->handle_ready();
      if (!h) {
        std::fprintf(stderr, "serve-fanotify: %s\n", h.error().message().c_str());
        rc = 1;
        break;
      }
    }
    if (!reported_mount && mount_state != 0) {
      reported_mount = true;
      if (mount_state < 0) {
        std::fprintf(stderr, "serve-fanotify: mounting on %s: %s\n", mount_dir.c_str(),
                     mount_error.c_str());
        rc = 1;
        break;
      }
      std::fprintf(stderr, "serve-fanotify: mounted on %s\n", mount_dir.c_str());
    }
    if (now_seconds() - last_log >= 10) {
      log_stats(*be, "serving");
      last_log = now_seconds();
    }
    if (r > 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si;
      if (::read(sigfd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
      if (mount_state != 1) break;
      if (::umount2(mount_dir.c_str(), 0) == 0) {
        mount_state = 2;
        break;
      }
      if (errno == EBUSY && !stop_requested) {
        std::fprintf(stderr,
                     "serve-fanotify: %s is busy; still serving (signal again to detach it "
                     "lazily)\n",
                     mount_dir.c_str());
        stop_requested = true;
        continue;
      }
      // Detached files still open read holes as zeros once nobody answers their events.
      std::fprintf(stderr, "serve-fanotify: detaching %s lazily\n", mount_dir.c_str());
      ::umount2(mount_dir.c_str(), MNT_DETACH);
      mount_state = 2;
      break;
    }
  }
  if (mounter.joinable()) {
    // A mount still in progress needs answers to finish; keep serving until it does.
    while (mount_state == 0) {  // bounded by the mount(2) call returning
      if (!be->run_once(100)) break;
    }
    mounter.join();
    if (mount_state == 1) ::umount2(mount_dir.c_str(), MNT_DETACH);
  }
  log_stats(*be, "exiting");
  be.reset();
  ::close(sigfd);
  return rc;
}

}  // namespace erofsfs::cli
