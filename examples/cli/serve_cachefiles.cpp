// erofsfs serve-cachefiles: serves the blobs of a directory to EROFS mounts in fscache mode
// (mount -t erofs none -o fsid=<blob>[,device=<blob>]) through /dev/cachefiles on-demand
// requests. The cookie key the kernel sends is the blob's file name in --blobs.
//
// Failover: the cache survives a daemon restart only while some process keeps the device
// open. Start the daemon on an fd opened by a holder (--devnode-fd N, e.g. `exec 3<>` in a
// shell); a restarted daemon given the same fd and --restore re-requests everything the
// dead one left unanswered.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <erofsfs/backends/fscache/daemon.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/posix.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "commands.hpp"
#include "options.hpp"

namespace {

namespace fs = erofsfs::fscache;

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
  blob_file(erofsfs::posix::unique_fd fd, std::uint64_t size) noexcept
      : fd_(std::move(fd)), size_(size) {}
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    return erofsfs::fd_source(fd_.get(), size_).read_at(off, dst);  // borrows fd_
  }
  std::uint64_t size() const noexcept { return size_; }

 private:
  erofsfs::posix::unique_fd fd_;
  std::uint64_t size_;
};

struct options {
  const char* blobs = nullptr;
  const char* cache = nullptr;
  const char* tag = "";
  const char* devnode = "/dev/cachefiles";
  int devnode_fd = -1;
  bool restore = false;
  bool verbose = false;
  std::uint64_t buffer_size = 1 << 20;
  std::uint64_t exit_after_reads = 0;
  bool crash_test = false;
};

// The combinations the option table cannot express. Returns -1 to go on, else the exit code.
int check_options(const erofsfs::cli::args& a, options& o) {
  using erofsfs::cli::usage_error;
  auto text = [&](const char* name, const char*& out) {
    if (const std::string* v = a.value(name)) out = v->c_str();
  };
  text("blobs", o.blobs);
  text("cache", o.cache);
  text("tag", o.tag);
  text("devnode", o.devnode);
  o.restore = a.has("restore");
  o.verbose = a.has("verbose");
  if (a.has("devnode-fd")) {
    const std::uint64_t n = a.number("devnode-fd");
    if (n > 1000000) return usage_error(a, "--devnode-fd is not a descriptor number");
    o.devnode_fd = static_cast<int>(n);
  }
  if (a.has("devnode") && a.has("devnode-fd"))
    return usage_error(a, "--devnode and --devnode-fd exclude each other");
  o.buffer_size = a.number("buffer-size", o.buffer_size);
  if (o.buffer_size == 0 || o.buffer_size % 4096 != 0 || o.buffer_size > (std::uint64_t{1} << 30))
    return usage_error(a, "--buffer-size must be a multiple of 4096, at most 1 GiB");
  if (a.has("exit-after-reads")) {
    o.exit_after_reads = a.number("exit-after-reads");
    o.crash_test = true;
  }
  if (!o.blobs) return usage_error(a, "--blobs is required");
  if (o.restore && o.devnode_fd < 0)
    return usage_error(a,
                       "--restore needs --devnode-fd: a closed device has already failed every "
                       "request");
  if (!o.restore && !o.cache) return usage_error(a, "--cache is required (or --restore)");
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

namespace {

int run_serve_cachefiles(const args& a) {
  options o;
  if (int rc = check_options(a, o); rc >= 0) return rc;

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
  if (o.devnode_fd >= 0) {
    dev = fs::cachefiles_device::adopt(o.devnode_fd);
  } else {
    auto d = fs::cachefiles_device::open(o.devnode);
    if (!d) {
      std::fprintf(stderr, "serve-cachefiles: %s: %s\n", o.devnode, d.error().message().c_str());
      return 1;
    }
    dev = std::move(*d);
  }

  auto resolve = [blob_dir](std::string_view, std::string_view cookie)
      -> erofsfs::result<fs::blob> {
    if (!valid_blob_name(cookie))
      return erofsfs::make_error(erofsfs::errc::not_found, "blob name is not a plain file name");
    std::string name(cookie);
    erofsfs::posix::unique_fd fd(::openat(blob_dir, name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return erofsfs::make_error(std::error_code(errno, std::system_category()), "open blob");
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return erofsfs::make_error(erofsfs::errc::not_found, "blob is not a regular file");
    return fs::make_blob(blob_file(std::move(fd), static_cast<std::uint64_t>(st.st_size)));
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

constexpr option_def options_table[] = {
    {"blobs", 0, value_kind::text, "DIR",
     "blobs by name: the fsid= and device= values of a mount are file names here"},
    {"cache", 0, value_kind::text, "DIR", "cachefiles cache directory to bind (fresh start)"},
    {"tag", 0, value_kind::text, "T", "cache tag (default: the kernel's)"},
    {"restore", 0, value_kind::none, nullptr,
     "take over a bound device from a dead daemon (needs --devnode-fd)"},
    {"devnode", 0, value_kind::text, "PATH", "the cachefiles control device (default /dev/cachefiles)"},
    {"devnode-fd", 0, value_kind::number, "N",
     "use the control device already open as descriptor N (kept open by a holder)"},
    {"buffer-size", 0, value_kind::number, "BYTES",
     "READ copy buffer, a multiple of 4096 (default 1 MiB)"},
    {"exit-after-reads", 0, value_kind::number, "N",
     "testing: serve N READs, then exit on the next one without answering it (a crash)"},
    {"verbose", 'v', value_kind::none, nullptr, "log every request"},
};

}  // namespace

const command_spec serve_cachefiles_command{
    "serve-cachefiles", "serve blob files to EROFS fscache mounts (cachefiles on-demand daemon)",
    options_table, {}, {}, run_serve_cachefiles,
    "--blobs DIR (--cache DIR [--tag T] | --restore) [--devnode PATH | --devnode-fd N] [-v]"};

}  // namespace erofsfs::cli
