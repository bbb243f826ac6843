// The POSIX layer (L7; Linux/POSIX only, so not part of erofsfs.hpp): the one place the
// sources, the backends and the tool talk to file descriptors. An owning descriptor, open(2)
// retried on EINTR, whole-buffer pread/pwrite (EINTR and short transfers retried, ranges checked
// against off_t before the call), errno turned into an erofsfs::error, and the chunked copy of
// a source range into a file that both lazy-loading backends serve from, and sending a
// descriptor over a Unix socket (SCM_RIGHTS), as the fanotify holder and worker do.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "source.hpp"

namespace erofsfs::posix {

// An errno value as an erofsfs::error: the system code, what failed and, when there is one, the
// value involved (a device index, a size).
inline error sys_error(const char* what, int err, std::uint64_t value = error::unknown) noexcept {
  return make_error(std::error_code(err, std::system_category()), what, {.value = value});
}

// Owns one file descriptor and closes it once. close(2) is never retried: on Linux the
// descriptor is released even when close reports EINTR, and a retry could close another
// thread's new descriptor with the same number.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// open(2), repeated while a signal interrupts it (FIFOs, slow network filesystems). On failure
// the result is empty and errno says why, exactly as after open(2).
inline unique_fd open_retry(const char* path, int flags, mode_t mode = 0) noexcept {
  int fd;
  do fd = ::open(path, flags, mode);
  while (fd < 0 && errno == EINTR);  // bounded: repeats only on signals
  return unique_fd(fd);
}

// True when [off, off + len) is a range of file positions: the end neither wraps around nor
// passes off_t's maximum (pread/pwrite take a signed off_t).
inline bool in_off_t_range(std::uint64_t off, std::uint64_t len) noexcept {
  std::uint64_t end;
  return checked_add(off, len, end) &&
         end <= static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
}

// Fills all of dst from fd at off, retrying on EINTR and after short reads. The end of the file
// before dst is full is errc::truncated (offset: where the file ended), never zero padding. An
// empty dst succeeds without a system call.
inline status pread_full(int fd, std::span<std::byte> dst, std::uint64_t off) noexcept {
  if (!in_off_t_range(off, dst.size()))
    return make_error(errc::invalid_argument, what::pread_range_overflows_off_t,
                      {.offset = off, .value = dst.size()});
  std::size_t done = 0;
  while (done < dst.size()) {  // bounded: each pass reads > 0 bytes or returns (EINTR repeats)
    const ssize_t n =
        ::pread(fd, dst.data() + done, dst.size() - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::error_code(errno, std::system_category()), what::pread,
                        {.offset = off + done});
    }
    if (n == 0)
      return make_error(errc::truncated, what::pread_reached_the_end_of_the_file,
                        {.offset = off + done});
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// Writes all of src into fd at off, retrying on EINTR and after short writes. A write that
// takes nothing is errc::io_error (it would otherwise repeat forever). An empty src succeeds
// without a system call.
inline status pwrite_full(int fd, std::span<const std::byte> src, std::uint64_t off) noexcept {
  if (!in_off_t_range(off, src.size()))
    return make_error(errc::invalid_argument, what::pwrite_range_overflows_off_t,
                      {.offset = off, .value = src.size()});
  std::size_t done = 0;
  while (done < src.size()) {  // bounded: each pass writes > 0 bytes or returns (EINTR repeats)
    const ssize_t n =
        ::pwrite(fd, src.data() + done, src.size() - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::error_code(errno, std::system_category()), what::pwrite,
                        {.offset = off + done});
    }
    if (n == 0)
      return make_error(errc::io_error, what::pwrite_wrote_nothing, {.offset = off + done});
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// Writes `len` bytes into fd at dst_off, one source read and one pwrite of at most
// buffer.size() bytes per chunk: the first len - zero_tail bytes are read from src at src_off,
// the last zero_tail bytes are zeros. The zeros share the chunk write of the data before them,
// so a page that ends a blob is written whole (cachefiles needs page-sized writes). `copied`
// counts the bytes written, also when a later chunk fails. A source failure keeps the source's
// code (offset: the source position of the failed chunk); nothing is written past it.
inline status copy_source_to_fd(source_ref src, std::uint64_t src_off, int fd,
                                std::uint64_t dst_off, std::uint64_t len,
                                std::span<std::byte> buffer, std::uint64_t& copied,
                                std::uint64_t zero_tail = 0) noexcept {
  copied = 0;
  if (zero_tail > len)
    return make_error(errc::invalid_argument, what::copy_zero_tail_longer_than_the_copy,
                      {.offset = dst_off, .value = zero_tail});
  const std::uint64_t from_source = len - zero_tail;
  std::uint64_t src_end;
  if (!checked_add(src_off, from_source, src_end))
    return make_error(errc::invalid_argument, what::copy_source_range_overflows,
                      {.offset = src_off, .value = from_source});
  if (!in_off_t_range(dst_off, len))
    return make_error(errc::invalid_argument, what::copy_destination_range_overflows_off_t,
                      {.offset = dst_off, .value = len});
  if (len != 0 && buffer.empty())
    return make_error(errc::invalid_argument, what::copy_buffer_is_empty);
  for (std::uint64_t pos = 0; pos < len;) {  // bounded: pos grows by n > 0 up to len
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len - pos, buffer.size()));
    const std::size_t data =
        pos >= from_source ? 0
                           : static_cast<std::size_t>(std::min<std::uint64_t>(from_source - pos, n));
    const std::span<std::byte> chunk = buffer.first(n);
    if (data != 0) {
      if (std::error_code ec = src.read_at(src_off + pos, chunk.first(data)))
        return make_error(ec, what::source_read_failed, {.offset = src_off + pos, .value = data});
    }
    if (data < n) std::memset(chunk.data() + data, 0, n - data);
    EROFSFS_TRY(pwrite_full(fd, chunk, dst_off + pos));
    pos += n;
    copied += n;
  }
  return {};
}

// Sends `msg` as one message with descriptor `fd` attached (SCM_RIGHTS); repeated while a
// signal interrupts it. Returns what sendmsg(2) returns (-1 with errno on failure); `flags`
// are sendmsg's (MSG_DONTWAIT for a non-blocking sender). MSG_NOSIGNAL is always added: a
// closed peer is an EPIPE result, not a signal that kills the sender.
inline ssize_t send_with_fd(int sock, std::span<const std::byte> msg, int fd, int flags = 0) noexcept {
  iovec iov{const_cast<std::byte*>(msg.data()), msg.size()};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t w;
  do w = ::sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);  // bounded: repeats only on signals
  return w;
}

// One message received with recv_with_fds: its length (0: the peer closed the socket), every
// descriptor that came with it (owned here, so none leaks whatever the caller decides), and
// whether the kernel cut the message or its descriptors short (the buffer or the control
// space was too small: the caller must treat the message as malformed).
struct received_message {
  std::size_t bytes = 0;
  std::vector<unique_fd> fds;
  bool truncated = false;
};

// Receives one message into `buf` with up to 4 descriptors (more are cut by the kernel and
// reported as `truncated`), close-on-exec; repeated while a signal interrupts it.
inline result<received_message> recv_with_fds(int sock, std::span<std::byte> buf) {
  constexpr std::size_t max_fds = 4;
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * max_fds)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t got;
  do got = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (got < 0 && errno == EINTR);  // bounded: repeats only on signals
  if (got < 0) return sys_error("receiving a message with descriptors", errno);
  received_message out;
  out.bytes = static_cast<std::size_t>(got);
  out.truncated = (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0;
  // bounded: the control buffer holds at most max_fds descriptors
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  return out;
}

}  // namespace erofsfs::posix
