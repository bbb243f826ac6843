// erofsfs serve-fanotify: lazy-load an image through fanotify pre-content events.
//
//   erofsfs serve-fanotify IMG --sparse FILE [--device BLOB --sparse FILE]... [--mount DIR]
//
// Every source gets a sparse local copy: the first --sparse is IMG's, the next ones belong to
// the --device blobs in order (so there is one more --sparse than --device). Each sparse file is
// created (truncated) at its source's size, the image's metadata is copied in, the files are
// marked for FAN_PRE_ACCESS, and data blocks are filled from IMG / BLOB as the kernel asks for
// them. With --mount, also mounts the image's sparse file on DIR (file-backed EROFS mount,
// device= options for the blobs' sparse files) and unmounts it on exit. Serves until SIGINT or
// SIGTERM; if the mount is still busy then, it keeps serving and a second signal detaches it
// lazily. Needs root and Linux >= 6.14. With --verity-root, IMG is read through its dm-verity
// tree (verity.hpp): a block that does not match is never written to the sparse file, its
// reader gets EIO and a line naming the block is logged.
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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"

namespace {

using namespace erofsfs;

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

namespace {

int run_serve_fanotify(const args& a) {
  std::vector<std::string> src_paths{a.positional[0]};
  for (const std::string& d : a.values("device")) src_paths.push_back(d);
  const std::vector<std::string> sparse_paths = a.values("sparse");
  const std::string mount_dir = a.value("mount") ? *a.value("mount") : std::string();
  if (sparse_paths.size() != src_paths.size())
    return usage_error(a, "give one --sparse FILE for IMG and one for each --device, in order (" +
                              std::to_string(src_paths.size()) + " needed, " +
                              std::to_string(sparse_paths.size()) + " given)");

  // The sparse files are truncated: refuse a sparse path that names one of the sources.
  for (const std::string& sp : sparse_paths) {
    struct stat st_sparse;
    if (::stat(sp.c_str(), &st_sparse) != 0) continue;
    for (const std::string& p : src_paths) {
      struct stat st_src;
      if (::stat(p.c_str(), &st_src) == 0 && st_sparse.st_dev == st_src.st_dev &&
          st_sparse.st_ino == st_src.st_ino)
        return usage_error(a, escape(sp) + " is a source, not a sparse file");
    }
  }

  // The image (from --offset on) and its blobs, opened like every other command opens them.
  std::vector<std::unique_ptr<file_source>> files;
  for (const std::string& p : src_paths) {
    files.push_back(std::make_unique<file_source>());
    if (std::string e = files.back()->open(p.c_str()); !e.empty()) {
      report(a.cmd, p + ": " + e);
      return exit_problem;
    }
  }
  source_ref image_file = files[0]->ref();
  std::unique_ptr<verified_source> verified;
  if (wants_verity(a)) {
    if (std::string e = verified_source::open(image_file, a, verified); !e.empty()) {
      report(a.cmd, src_paths[0] + ": " + e);
      return exit_problem;
    }
    image_file = verified->ref();
  }
  offset_source image_window;
  if (!window_at_offset(a, src_paths[0], image_file, image_window)) return exit_problem;
  std::vector<fanotify::device_spec> devs{{image_window, sparse_paths[0]}};
  for (std::size_t i = 1; i < files.size(); ++i) devs.push_back({files[i]->ref(), sparse_paths[i]});

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

  fanotify::backend_options bo;
  bo.decompressors = &decoders();  // metadata_ranges() reads compressed directories and packed data
  auto created = fanotify::backend::create(devs, bo);
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

constexpr option_def options[] = {
    {"sparse", 0, value_kind::text, "FILE",
     "a sparse local copy to create: first IMG's, then one per --device in order", true},
    {"mount", 0, value_kind::text, "DIR", "also mount the image on DIR (unmounted on exit)"},
    common::device,
    common::offset,
    common::verity_root,
    common::verity_hash,
    common::verity_offset,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}};

}  // namespace

const command_spec serve_fanotify_command{
    "serve-fanotify",
    "lazy-load IMG into sparse files on fanotify pre-content events (root, Linux 6.14+)", options,
    positionals, run_serve_fanotify,
    "IMG --sparse FILE [--device BLOB --sparse FILE]... [--mount DIR] [--verity-root HEX ...]"};

}  // namespace erofsfs::cli
