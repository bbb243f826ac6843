// The cachefiles control device (L8): the `devnode` concept the daemon talks to, and
// cachefiles_device, the real /dev/cachefiles. Tests plug in a fake kernel with the same
// members (tests/support/fake_cachefiles.hpp).
//
// The anon fds of OPEN messages are completed and closed through the devnode too, so a fake
// kernel can hand out ordinary files (the daemon writes data into them with pwrite, as into the
// kernel's anon fds) and check what was written into them.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "../../base/error.hpp"
#include "../../io/posix.hpp"
#include "protocol.hpp"

namespace erofsfs::fscache {

template <class D>
concept devnode = requires(D& d, std::span<std::byte> buf, std::string_view cmd, int fd,
                           std::uint32_t id, int timeout_ms) {
  // One message into buf; 0 when no unread request is pending.
  { d.read_message(buf) } noexcept -> std::same_as<result<std::size_t>>;
  // One command per call ("copen 3,4096", "restore").
  { d.write_command(cmd) } noexcept -> std::same_as<status>;
  // CACHEFILES_IOC_READ_COMPLETE on an anon fd of the READ's object.
  { d.read_complete(fd, id) } noexcept -> std::same_as<status>;
  { d.close_fd(fd) } noexcept;
  // true when a request is pending; false on timeout. timeout_ms < 0 waits forever.
  { d.wait_readable(timeout_ms) } noexcept -> std::same_as<result<bool>>;
  // Pollable descriptor for the caller's own loop (-1 if the devnode has none).
  { d.fd() } noexcept -> std::same_as<int>;
};

namespace detail {
inline result<bool> poll_in(int fd, int timeout_ms) noexcept {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return false;  // let the caller look at its signals
      return posix::sys_error("poll on the cachefiles device", errno);
    }
    if (n == 0) return false;
    if (p.revents & (POLLERR | POLLNVAL))
      return make_error(errc::io_error, what::cachefiles_device_reported_pollerr_pollnval);
    return (p.revents & POLLIN) != 0;
  }
}
}  // namespace detail

// /dev/cachefiles. Only one open instance may exist system-wide; the cache stays bound (and
// mounts keep working across a daemon restart) only while some process keeps it open.
class cachefiles_device {
 public:
  cachefiles_device() noexcept = default;
  cachefiles_device(cachefiles_device&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), owned_(std::move(o.owned_)) {}
  cachefiles_device& operator=(cachefiles_device&& o) noexcept {
    if (this != &o) {
      fd_ = std::exchange(o.fd_, -1);
      owned_ = std::move(o.owned_);
    }
    return *this;
  }
  cachefiles_device(const cachefiles_device&) = delete;
  cachefiles_device& operator=(const cachefiles_device&) = delete;

  static result<cachefiles_device> open(const char* path = "/dev/cachefiles") noexcept {
    posix::unique_fd fd = posix::open_retry(path, O_RDWR | O_CLOEXEC);
    if (!fd) return posix::sys_error("open the cachefiles device", errno);
    cachefiles_device d;
    d.fd_ = fd.get();
    d.owned_ = std::move(fd);
    return d;
  }
  // An already open (and possibly already bound) device fd, e.g. inherited from a supervisor
  // for failover. Borrowed: not closed by this object.
  static cachefiles_device adopt(int fd) noexcept {
    cachefiles_device d;
    d.fd_ = fd;
    return d;
  }

  // "dir <cache_dir>", "tag <tag>" (if not empty), "bind ondemand". Only on a fresh device.
  status bind(std::string_view cache_dir, std::string_view tag) noexcept {
    if (cache_dir.empty() || cache_dir.find_first_of(std::string_view("\0\n", 2)) !=
                                 std::string_view::npos)
      return make_error(errc::invalid_argument, what::cache_directory_empty_or_has_nul_newline);
    if (tag.find_first_of(std::string_view(" \0\n", 3)) != std::string_view::npos)
      return make_error(errc::invalid_argument, what::cache_tag_has_a_space_nul_or_newline);
    std::string cmd;  // setup only; commands are below PAGE_SIZE
    cmd.reserve(cache_dir.size() + 8);
    cmd.assign("dir ").append(cache_dir);
    EROFSFS_TRY(write_command(cmd));
    if (!tag.empty()) {
      cmd.assign("tag ").append(tag);
      EROFSFS_TRY(write_command(cmd));
    }
    return write_command("bind ondemand");
  }
  // After a daemon restart on an inherited fd: every pending request is delivered again.
  status restore() noexcept { return write_command(restore_command); }

  result<std::size_t> read_message(std::span<std::byte> buf) noexcept {
    for (;;) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return std::size_t{0};
      return posix::sys_error("read the cachefiles device", errno);
    }
  }
  status write_command(std::string_view cmd) noexcept {
    for (;;) {
      ssize_t n = ::write(fd_, cmd.data(), cmd.size());
      if (n >= 0) {
        if (static_cast<std::size_t>(n) != cmd.size())
          return make_error(errc::io_error, what::cachefiles_device_took_part_of_a_command);
        return {};
      }
      if (errno == EINTR) continue;
      return posix::sys_error("write a cachefiles command", errno);
    }
  }
  status read_complete(int anon_fd, std::uint32_t msg_id) noexcept {
    for (;;) {
      if (::ioctl(anon_fd, ioc_read_complete, static_cast<unsigned long>(msg_id)) == 0) return {};
      if (errno == EINTR) continue;
      return posix::sys_error("CACHEFILES_IOC_READ_COMPLETE", errno);
    }
  }
  void close_fd(int anon_fd) noexcept { ::close(anon_fd); }
  result<bool> wait_readable(int timeout_ms) noexcept { return detail::poll_in(fd_, timeout_ms); }
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;  // borrowed (adopt), or owned_'s
  posix::unique_fd owned_;
};

static_assert(devnode<cachefiles_device>);

}  // namespace erofsfs::fscache
