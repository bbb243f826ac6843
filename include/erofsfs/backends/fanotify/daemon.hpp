// A crash-safe fanotify daemon (L8): the holder (relay.hpp) in this process, the filling in a
// worker process it forks and forks again whenever the worker dies, and the mount.
//
//   run_daemon(backend, options)
//     1. takes the fanotify group from the backend (this process becomes the holder),
//     2. forks a worker, which answers relayed events with its copy of the backend (on
//        fill_threads threads, so a slow source serves several readers at once),
//     3. forks a mounter, which mounts the sparse files (mounting reads through the marked file,
//        so it needs a worker answering),
//     4. once mounted, forks a prefetcher when asked to (see prefetch_main below),
//     5. relays until SIGTERM or SIGINT; a worker that dies is replaced, and the events it had
//        not answered are sent to the new one,
//     6. stops: unmounts (a busy mount is retried every second, never detached: a detached
//        mount whose files are still open would read holes as zeros once nobody answers), then
//        closes the worker's socket and waits for it.
//
// The holder does no source I/O and no filling, so what kills a worker (a hung source, a bug,
// the OOM killer choosing the big process, kill -9) does not reach it. If the holder itself is
// killed, Linux allows the events pending then, as for any fanotify daemon; keep it small and
// out of reach (it is one process doing poll/read/write/sendmsg).
//
// Takes over the process: blocks SIGINT, SIGTERM and SIGCHLD and reads them from a signalfd;
// call it from a single-threaded process (it forks).
#pragma once

#include <signal.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../../base/error.hpp"
#include "../../io/posix.hpp"
#include "backend.hpp"
#include "relay.hpp"

namespace erofsfs::fanotify {

struct daemon_options {
  std::string mount_dir;  // empty: serve the sparse files without mounting them
  holder::options relay{};
  // Background fill once the image is mounted: these files (paths inside the image, read
  // through mount_dir, so mount_dir must be set), in this order, then with prefetch_all every
  // device's whole sparse file, in image order.
  std::vector<std::string> prefetch_paths;
  bool prefetch_all = false;
  // Threads in the worker answering events in parallel (fills of overlapping ranges merge).
  unsigned fill_threads = 8;
  // Logs one line per event whose answer copied bytes from a source (offset, count, bytes).
  bool log_fills = false;
  // Where the daemon says what happens (mounted, worker died, stats); never null in practice.
  std::function<void(const std::string&)> log = [](const std::string& s) {
    std::fprintf(stderr, "%s\n", s.c_str());
  };
};

namespace detail {

inline std::string stats_line(const backend& b) {
  const backend_stats s = b.stats();
  char line[320];
  std::snprintf(line, sizeof line,
                "metadata %llu B, fetched %llu B, reused %llu B, events %llu (allowed %llu, "
                "denied %llu), fill errors %llu",
                static_cast<unsigned long long>(s.metadata_bytes),
                static_cast<unsigned long long>(s.bytes_fetched),
                static_cast<unsigned long long>(s.reused_bytes),
                static_cast<unsigned long long>(s.events),
                static_cast<unsigned long long>(s.allowed),
                static_cast<unsigned long long>(s.denied),
                static_cast<unsigned long long>(s.fill_errors));
  return line;
}

inline constexpr std::size_t prefetch_chunk = std::size_t{1} << 20;

// Reads `path` to its end in prefetch_chunk reads; adds the bytes read to `total`.
inline bool prefetch_read(const std::string& path, std::vector<char>& buf, std::uint64_t& total,
                          const daemon_options& opt) {
  posix::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    opt.log("serve-fanotify: prefetch: " + path + ": " + std::strerror(errno));
    return false;
  }
  while (true) {  // bounded: each read advances through a finite file (or fails)
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      opt.log("serve-fanotify: prefetch: " + path + ": " + std::strerror(errno));
      return false;
    }
    if (n == 0) return true;
    total += static_cast<std::uint64_t>(n);
  }
}

// The prefetcher process: fills in the background by reading, so its fills are ordinary events
// the worker answers (filled once, journaled, skipped when already present). It reads one chunk
// at a time, so it has at most one event queued: an event of a real reader that arrives
// meanwhile is relayed before the prefetcher's next chunk, and waits for one chunk at most.
// Reading (not filling behind the worker's back) needs no descriptor exempt from the group's
// events, which a process cannot reliably open for itself. Never returns.
[[noreturn]] inline void prefetch_main(const backend& be, const daemon_options& opt) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<char> buf(prefetch_chunk);
  std::uint64_t total = 0;
  std::size_t failed = 0;
  for (const std::string& p : opt.prefetch_paths)
    if (!prefetch_read(opt.mount_dir + p, buf, total, opt)) ++failed;
  if (opt.prefetch_all)
    for (std::size_t i = 0; i < be.device_count(); ++i)
      if (!prefetch_read(be.sparse_path(i), buf, total, opt)) ++failed;
  opt.log("serve-fanotify: prefetch done: " + std::to_string(opt.prefetch_paths.size()) +
          " files" + (opt.prefetch_all ? " and all devices" : "") + ", " + std::to_string(total) +
          " B read, " + std::to_string(failed) + " failed");
  ::_exit(failed ? 1 : 0);
}

// The worker process: learns what earlier workers filled, answers relayed events until the
// holder closes the socket. Never returns.
[[noreturn]] inline void worker_main(backend& be, int sock, const daemon_options& opt) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a worker never outlives its holder
  int rc = 0;
  std::function<void(const event&, std::uint64_t)> on_fill;
  if (opt.log_fills)
    on_fill = [&](const event& e, std::uint64_t fetched) {
      opt.log("serve-fanotify: fill for pid " + std::to_string(e.pid) + ": offset " +
              std::to_string(e.offset) + " count " + std::to_string(e.count) + ", fetched " +
              std::to_string(fetched) + " B");
    };
  if (status st = be.reload_filled(); !st) {
    opt.log("serve-fanotify: worker: " + st.error().message());
    rc = 1;
  } else if (status r = serve_relayed(be, sock, on_fill, opt.fill_threads); !r) {
    opt.log("serve-fanotify: worker: " + r.error().message());
    rc = 1;
  }
  opt.log("serve-fanotify: worker " + std::to_string(::getpid()) + " exiting: " +
          stats_line(be));
  ::_exit(rc);
}

}  // namespace detail

// Runs the daemon until a stop signal; returns the exit status (0: stopped cleanly).
inline int run_daemon(std::unique_ptr<backend> be, const daemon_options& opt) {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &sigs, nullptr) != 0) return 1;
  posix::unique_fd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    opt.log(std::string("serve-fanotify: signalfd: ") + std::strerror(errno));
    return 1;
  }
  holder h(be->release_group(), opt.relay);
  std::vector<std::string> blobs;
  for (std::size_t i = 1; i < be->device_count(); ++i) blobs.push_back(be->sparse_path(i));

  // Children close what only the holder may hold: the group (a worker must not keep it alive
  // or answer behind the holder's back) and the signalfd. They keep SIGINT and SIGTERM blocked:
  // a Ctrl-C reaches the whole process group, and stopping is the holder's decision (it may
  // need a worker to serve a busy mount until it can be unmounted).
  auto child_cleanup = [&] {
    ::close(h.group_fd());
    ::close(sigfd.get());
  };
  pid_t worker = -1;
  auto spawn_worker = [&]() -> bool {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      opt.log(std::string("serve-fanotify: socketpair: ") + std::strerror(errno));
      return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      opt.log(std::string("serve-fanotify: fork: ") + std::strerror(errno));
      ::close(sv[0]);
      ::close(sv[1]);
      return false;
    }
    if (pid == 0) {
      child_cleanup();
      ::close(sv[0]);
      detail::worker_main(*be, sv[1], opt);
    }
    ::close(sv[1]);
    worker = pid;
    h.attach(posix::unique_fd(sv[0]));
    opt.log("serve-fanotify: worker pid " + std::to_string(pid) + " started");
    return true;
  };
  if (!spawn_worker()) return 1;

  pid_t mounter = -1, prefetcher = -1;
  bool mounted = false;
  const bool prefetch = opt.prefetch_all || !opt.prefetch_paths.empty();
  auto spawn_prefetcher = [&] {
    prefetcher = ::fork();
    if (prefetcher == 0) {
      child_cleanup();
      detail::prefetch_main(*be, opt);
    }
    if (prefetcher < 0) opt.log(std::string("serve-fanotify: fork: ") + std::strerror(errno));
    else opt.log("serve-fanotify: prefetch pid " + std::to_string(prefetcher) + " started");
  };
  if (!opt.mount_dir.empty()) {
    mounter = ::fork();
    if (mounter == 0) {
      child_cleanup();
      const status st = mount_erofs(be->sparse_path(0), blobs, opt.mount_dir);
      if (!st) opt.log("serve-fanotify: mounting on " + opt.mount_dir + ": " + st.error().message());
      ::_exit(st ? 0 : 1);
    }
    if (mounter < 0) {
      opt.log(std::string("serve-fanotify: fork: ") + std::strerror(errno));
      h.deny_all();
      return 1;
    }
  } else if (prefetch) {
    spawn_prefetcher();  // the sparse files are served from now on
  }

  int rc = 0;
  bool stopping = false, restart_due = false;
  std::uint64_t restarts = 0;
  while (true) {  // runs until a stop signal (or a fatal error); each pass waits at most 1 s
    pollfd extra[1] = {{sigfd.get(), POLLIN, 0}};
    if (status st = h.run_once(restart_due ? 100 : 1000, extra); !st) {
      opt.log("serve-fanotify: " + st.error().message());
      rc = 1;
      break;
    }
    if (restart_due) restart_due = !spawn_worker();
    bool stop_signal = false;
    signalfd_siginfo si;
    while (::read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
      if (si.ssi_signo != SIGCHLD) stop_signal = true;
    int wst = 0;
    for (pid_t p; (p = ::waitpid(-1, &wst, WNOHANG)) > 0;) {  // bounded: finite children
      if (p == mounter) {
        mounter = -1;
        if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
          rc = 1;
          stopping = true;
        } else {
          mounted = true;
          opt.log("serve-fanotify: mounted on " + opt.mount_dir);
          if (prefetch && !stopping) spawn_prefetcher();
        }
      } else if (p == prefetcher) {
        prefetcher = -1;  // it logged its outcome; a failed prefetch only leaves holes to fill
      } else if (p == worker) {
        worker = -1;
        h.detach();
        ++restarts;
        opt.log("serve-fanotify: worker " + std::to_string(p) + " died (" +
                (WIFSIGNALED(wst) ? "signal " + std::to_string(WTERMSIG(wst))
                                  : "status " + std::to_string(WEXITSTATUS(wst))) +
                "); " + std::to_string(h.pending()) + " events pending, restarting it");
        restart_due = !spawn_worker();  // also while stopping: a busy mount is still served
      }
    }
    if (stop_signal) {
      stopping = true;
      // Prefetching is only worth finishing while serving: its open files would keep the mount
      // busy. It is reaped above on a later pass.
      if (prefetcher > 0) ::kill(prefetcher, SIGKILL);
    }
    if (!stopping || mounter > 0) continue;  // a mount in progress needs answers to finish
    if (mounted) {
      if (::umount2(opt.mount_dir.c_str(), 0) == 0) {
        mounted = false;
      } else if (errno == EBUSY) {
        if (stop_signal)
          opt.log("serve-fanotify: " + opt.mount_dir +
                  " is busy; still serving until it can be unmounted");
        continue;
      } else {
        opt.log("serve-fanotify: unmounting " + opt.mount_dir + ": " + std::strerror(errno));
        continue;
      }
    }
    break;
  }
  // Nothing is mounted any more (or serving failed): no reader can be waiting for a fill that
  // matters, and none may be allowed through a hole.
  if (prefetcher > 0) {
    // Its reads are denied from now on; it must not keep the mount busy or outlive the daemon.
    ::kill(prefetcher, SIGKILL);
    while (::waitpid(prefetcher, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  h.deny_all();
  h.detach();  // closes the socket: the worker logs its stats and exits
  if (worker > 0) {
    int wst;
    while (::waitpid(worker, &wst, 0) < 0 && errno == EINTR) {
    }
  }
  if (mounted) ::umount2(opt.mount_dir.c_str(), MNT_DETACH);  // only after a fatal error
  if (restarts) opt.log("serve-fanotify: " + std::to_string(restarts) + " worker restarts");
  return rc;
}

}  // namespace erofsfs::fanotify
