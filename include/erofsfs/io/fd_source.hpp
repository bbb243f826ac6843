// POSIX file-descriptor source (L7): posix::pread_full, so EINTR and short reads are retried
// and a read past the end of the file is errc::truncated, never silent zero padding. Safe for
// concurrent reads (pread has no shared file position).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>

#include "../base/error.hpp"
#include "posix.hpp"
#include "source.hpp"

namespace erofsfs {

class fd_source {
 public:
  fd_source() noexcept = default;
  // Borrows `fd` (not closed on destruction); `size` is the file length in bytes.
  fd_source(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  fd_source(fd_source&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), size_(o.size_), owned_(std::move(o.owned_)) {}
  fd_source& operator=(fd_source&& o) noexcept {
    if (this != &o) {
      fd_ = std::exchange(o.fd_, -1);
      size_ = o.size_;
      owned_ = std::move(o.owned_);
    }
    return *this;
  }
  fd_source(const fd_source&) = delete;
  fd_source& operator=(const fd_source&) = delete;

  // Opens `path` read-only; the returned source owns the descriptor.
  static result<fd_source> open(const char* path) noexcept {
    posix::unique_fd fd = posix::open_retry(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return posix::sys_error("open", errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return posix::sys_error("fstat", errno);
    fd_source s(fd.get(), static_cast<std::uint64_t>(st.st_size));
    s.owned_ = std::move(fd);
    return s;
  }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), size_)) return make_error_code(errc::truncated);
    status st = posix::pread_full(fd_, dst, offset);
    return st ? std::error_code{} : st.error().code;
  }
  std::uint64_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;  // borrowed, or owned_'s
  std::uint64_t size_ = 0;
  posix::unique_fd owned_;
};

static_assert(sized_source<fd_source>);

}  // namespace erofsfs
