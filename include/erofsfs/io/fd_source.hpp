// POSIX file-descriptor source (L7): pread(2) with EINTR retries; a read past the end of the
// file is errc::truncated, never silent zero padding. Safe for concurrent reads (pread has no
// shared file position).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>

#include "../base/error.hpp"
#include "source.hpp"

namespace erofsfs {

class fd_source {
 public:
  fd_source() noexcept = default;
  // Borrows `fd` (not closed on destruction); `size` is the file length in bytes.
  fd_source(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  fd_source(fd_source&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), size_(o.size_), owned_(std::exchange(o.owned_, false)) {}
  fd_source& operator=(fd_source&& o) noexcept {
    if (this != &o) {
      close_owned();
      fd_ = std::exchange(o.fd_, -1);
      size_ = o.size_;
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  fd_source(const fd_source&) = delete;
  fd_source& operator=(const fd_source&) = delete;
  ~fd_source() { close_owned(); }

  // Opens `path` read-only; the returned source owns the descriptor.
  static result<fd_source> open(const char* path) noexcept {
    int fd;
    do fd = ::open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return make_error(std::error_code(errno, std::system_category()), "open");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return make_error(std::error_code(e, std::system_category()), "fstat");
    }
    fd_source s(fd, static_cast<std::uint64_t>(st.st_size));
    s.owned_ = true;
    return s;
  }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), size_)) return make_error_code(errc::truncated);
    std::size_t done = 0;
    while (done < dst.size()) {  // bounded: every iteration reads > 0 bytes or returns
      ssize_t n = ::pread(fd_, dst.data() + done, dst.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return {errno, std::system_category()};
      }
      if (n == 0) return make_error_code(errc::truncated);
      done += static_cast<std::size_t>(n);
    }
    return {};
  }
  std::uint64_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }

 private:
  void close_owned() noexcept {
    if (owned_ && fd_ >= 0) ::close(fd_);
    owned_ = false;
  }
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool owned_ = false;
};

static_assert(sized_source<fd_source>);

}  // namespace erofsfs
