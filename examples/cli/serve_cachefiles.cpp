// erofsfs serve-cachefiles: serves the blobs of a directory to EROFS mounts in fscache mode
// (mount -t erofs none -o fsid=<blob>[,device=<blob>]) through /dev/cachefiles on-demand
// requests. The cookie key the kernel sends is the blob's file name in --blobs.
//
// Failover: the cache survives a daemon restart only while some process keeps the device
// open. Start the daemon on an fd opened by a holder (--device-fd N, e.g. `exec 3<>` in a
// shell); a restarted daemon given the same fd and --restore re-requests everything the
// dead one left unanswered.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <erofsfs/backends/fscache/daemon.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "commands.hpp"

namespace {

namespace fs = erofsfs::fscache;

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: erofsfs serve-cachefiles --blobs DIR (--cache DIR [--tag T] | --restore)\n"
               "         [--device PATH | --device-fd N] [--buffer-size BYTES] [-v]\n"
               "  --blobs DIR       blobs by name: fsid= and device= values are file names here\n"
               "  --cache DIR       cachefiles cache directory (\"dir\" command), fresh device\n"
               "  --tag T           cache tag (default: kernel default)\n"
               "  --restore         take over a bound device from a dead daemon (needs --device-fd)\n"
               "  --device PATH     control device (default /dev/cachefiles)\n"
               "  --device-fd N     use the already open device fd N (kept open by a holder)\n"
               "  --buffer-size B   READ copy buffer, multiple of 4096 (default 1 MiB)\n"
               "  --exit-after-reads N  testing: serve N READs, then exit on the next one\n"
               "                        without answering it (simulates a crash)\n"
               "  -v                log every request\n");
}

bool parse_u64(const char* s, std::uint64_t& out) {
  std::string_view v(s);
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size() && !v.empty();
}

// Blob names come from the kernel (from mount options): one path component, nothing else.
bool valid_blob_name(std::string_view n) {
  return !n.empty() && n.size() <= 255 && n != "." && n != ".." &&
         n.find('/') == std::string_view::npos && n.find('\0') == std::string_view::npos;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += c;
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(c));
      out += b;
    }
  }
  return out;
}

// An open blob file, owned: closed when the kernel's last object for it goes away.
class blob_file {
 public:
  blob_file(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  blob_file(blob_file&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
  blob_file(const blob_file&) = delete;
  blob_file& operator=(const blob_file&) = delete;
  blob_file& operator=(blob_file&&) = delete;
  ~blob_file() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    return erofsfs::fd_source(fd_, size_).read_at(off, dst);  // borrows fd_
  }
  std::uint64_t size() const noexcept { return size_; }

 private:
  int fd_;
  std::uint64_t size_;
};

struct options {
  const char* blobs = nullptr;
  const char* cache = nullptr;
  const char* tag = "";
  const char* device = "/dev/cachefiles";
  int device_fd = -1;
  bool restore = false;
  bool verbose = false;
  std::uint64_t buffer_size = 1 << 20;
  std::uint64_t exit_after_reads = 0;
  bool crash_test = false;
};

int parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](const char*& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "serve-cachefiles: %s needs a value\n", argv[i]);
        return false;
      }
      out = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else if (a == "--restore") {
      o.restore = true;
    } else if (a == "--blobs") {
      if (!value(o.blobs)) return 2;
    } else if (a == "--cache") {
      if (!value(o.cache)) return 2;
    } else if (a == "--tag") {
      if (!value(o.tag)) return 2;
    } else if (a == "--device") {
      if (!value(o.device)) return 2;
    } else if (a == "--device-fd") {
      std::uint64_t n;
      if (!value(v) || !parse_u64(v, n) || n > 1000000) {
        std::fprintf(stderr, "serve-cachefiles: bad --device-fd\n");
        return 2;
      }
      o.device_fd = static_cast<int>(n);
    } else if (a == "--buffer-size") {
      if (!value(v) || !parse_u64(v, o.buffer_size) || o.buffer_size == 0 ||
          o.buffer_size % 4096 != 0 || o.buffer_size > (std::uint64_t{1} << 30)) {
        std::fprintf(stderr, "serve-cachefiles: --buffer-size must be a multiple of 4096\n");
        return 2;
      }
    } else if (a == "--exit-after-reads") {
      if (!value(v) || !parse_u64(v, o.exit_after_reads)) {
        std::fprintf(stderr, "serve-cachefiles: bad --exit-after-reads\n");
        return 2;
      }
      o.crash_test = true;
    } else {
      std::fprintf(stderr, "serve-cachefiles: unknown argument %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!o.blobs) {
    std::fprintf(stderr, "serve-cachefiles: --blobs is required\n");
    return 2;
  }
  if (o.restore && o.device_fd < 0) {
    std::fprintf(stderr,
                 "serve-cachefiles: --restore needs --device-fd: a closed device has already "
                 "failed every request\n");
    return 2;
  }
  if (!o.restore && !o.cache) {
    std::fprintf(stderr, "serve-cachefiles: --cache is required (or --restore)\n");
    return 2;
  }
  return -1;
}

void log_event(const fs::event& e, bool verbose) {
  const bool failure = e.kind == fs::event_kind::open_failed ||
                       e.kind == fs::event_kind::read_failed ||
                       e.kind == fs::event_kind::bad_message ||
                       e.kind == fs::event_kind::unknown_object ||
                       e.kind == fs::event_kind::reply_failed;
  if (!verbose && !failure && e.kind != fs::event_kind::opened) return;
  const auto& h = e.header;
  switch (e.kind) {
    case fs::event_kind::opened:
    case fs::event_kind::open_failed:
      std::fprintf(stderr, "serve-cachefiles: %s msg=%u object=%u volume=%s blob=%s size=%llu",
                   fs::event_name(e.kind), h.msg_id, h.object_id,
                   printable(e.volume_key).c_str(), printable(e.cookie_key).c_str(),
                   static_cast<unsigned long long>(e.size));
      break;
    case fs::event_kind::read_done:
    case fs::event_kind::read_failed:
      std::fprintf(stderr,
                   "serve-cachefiles: %s msg=%u object=%u blob=%s off=%llu len=%llu written=%llu",
                   fs::event_name(e.kind), h.msg_id, h.object_id, printable(e.cookie_key).c_str(),
                   static_cast<unsigned long long>(e.off), static_cast<unsigned long long>(e.len),
                   static_cast<unsigned long long>(e.size));
      break;
    default:
      std::fprintf(stderr, "serve-cachefiles: %s msg=%u opcode=%u object=%u",
                   fs::event_name(e.kind), h.msg_id, h.opcode, h.object_id);
      break;
  }
  if (failure) std::fprintf(stderr, ": %s", e.err.message().c_str());
  std::fputc('\n', stderr);
}

}  // namespace

namespace erofsfs::cli {

// argv[0] is the command name.
int run_serve_cachefiles(int argc, char** argv) {
  options o;
  if (int rc = parse_args(argc, argv, o); rc >= 0) return rc;

  int blob_dir = ::open(o.blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (blob_dir < 0) {
    std::fprintf(stderr, "serve-cachefiles: %s: %s\n", o.blobs, std::strerror(errno));
    return 1;
  }

  // SIGINT/SIGTERM arrive through a signalfd polled with the device: no async handlers.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    std::perror("serve-cachefiles: sigprocmask");
    return 1;
  }
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    std::perror("serve-cachefiles: signalfd");
    return 1;
  }

  fs::cachefiles_device dev;
  if (o.device_fd >= 0) {
    dev = fs::cachefiles_device::adopt(o.device_fd);
  } else {
    auto d = fs::cachefiles_device::open(o.device);
    if (!d) {
      std::fprintf(stderr, "serve-cachefiles: %s: %s\n", o.device, d.error().message().c_str());
      return 1;
    }
    dev = std::move(*d);
  }

  auto resolve = [blob_dir](std::string_view, std::string_view cookie)
      -> erofsfs::result<fs::blob> {
    if (!valid_blob_name(cookie))
      return erofsfs::make_error(erofsfs::errc::not_found, "blob name is not a plain file name");
    std::string name(cookie);
    int fd = ::openat(blob_dir, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return erofsfs::make_error(std::error_code(errno, std::system_category()), "open blob");
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return erofsfs::make_error(erofsfs::errc::not_found, "blob is not a regular file");
    }
    return fs::make_blob(blob_file(fd, static_cast<std::uint64_t>(st.st_size)));
  };

  fs::daemon_options opt;
  opt.buffer_size = static_cast<std::size_t>(o.buffer_size);
  const bool verbose = o.verbose;
  auto d = fs::daemon::create(dev, resolve, opt,
                              [verbose](const fs::event& e) { log_event(e, verbose); });
  if (!d) {
    std::fprintf(stderr, "serve-cachefiles: %s\n", d.error().message().c_str());
    return 1;
  }

  if (o.restore) {
    if (auto r = d->restore(); !r) {
      std::fprintf(stderr, "serve-cachefiles: restore: %s\n", r.error().message().c_str());
      return 1;
    }
    std::fprintf(stderr, "serve-cachefiles: restored on fd %d, serving %s\n", dev.fd(), o.blobs);
  } else {
    if (auto r = dev.bind(o.cache, o.tag); !r) {
      std::fprintf(stderr, "serve-cachefiles: bind %s: %s\n", o.cache,
                   r.error().message().c_str());
      return 1;
    }
    std::fprintf(stderr, "serve-cachefiles: bound cache %s, serving %s\n", o.cache, o.blobs);
  }
  std::fprintf(stderr, "serve-cachefiles: ready\n");

  alignas(8) std::byte msg[fs::max_msg_size];
  std::uint64_t reads_seen = 0;
  int rc = 0;
  for (;;) {
    pollfd p[2] = {{dev.fd(), POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("serve-cachefiles: poll");
      rc = 1;
      break;
    }
    if (p[1].revents & POLLIN) {
      signalfd_siginfo si;
      if (::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
        std::fprintf(stderr, "serve-cachefiles: signal %u, shutting down\n", si.ssi_signo);
      break;
    }
    if (p[0].revents & (POLLERR | POLLNVAL)) {
      std::fprintf(stderr, "serve-cachefiles: device error\n");
      rc = 1;
      break;
    }
    if (!(p[0].revents & POLLIN)) continue;
    if (!o.crash_test) {
      auto n = d->handle_ready();
      if (!n) {
        std::fprintf(stderr, "serve-cachefiles: %s\n", n.error().message().c_str());
        rc = 1;
        break;
      }
      continue;
    }
    // Crash test: the same drain loop, one message at a time, so the daemon can die holding
    // a READ it has read but not answered.
    for (int i = 0; i < 256; ++i) {
      auto n = dev.read_message(msg);
      if (!n) {
        std::fprintf(stderr, "serve-cachefiles: %s\n", n.error().message().c_str());
        return 1;
      }
      if (*n == 0) break;
      auto h = fs::parse_header(std::span<const std::byte>(msg, *n));
      if (h && h->opcode == static_cast<std::uint32_t>(fs::opcode::read) &&
          reads_seen++ == o.exit_after_reads) {
        std::fprintf(stderr, "serve-cachefiles: exiting with READ msg=%u unanswered (test)\n",
                     h->msg_id);
        std::fflush(stderr);
        ::_exit(3);
      }
      d->handle_message(std::span<const std::byte>(msg, *n));
    }
  }
  const auto& s = d->stats();
  std::fprintf(stderr,
               "serve-cachefiles: opens=%llu open_failures=%llu reads=%llu read_failures=%llu "
               "bytes=%llu closes=%llu bad_messages=%llu\n",
               static_cast<unsigned long long>(s.opens),
               static_cast<unsigned long long>(s.open_failures),
               static_cast<unsigned long long>(s.reads),
               static_cast<unsigned long long>(s.read_failures),
               static_cast<unsigned long long>(s.bytes_written),
               static_cast<unsigned long long>(s.closes),
               static_cast<unsigned long long>(s.bad_messages));
  ::close(sfd);
  ::close(blob_dir);
  return rc;
}

}  // namespace erofsfs::cli
