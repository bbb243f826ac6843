// Memory-mapped file source (L7): a read-only private mapping, exposed as contiguous bytes so
// metadata is parsed in place. If the file shrinks while mapped, touching the lost pages raises
// SIGBUS: map only files nobody truncates (images, blobs), or use fd_source.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <utility>

#include "../base/error.hpp"
#include "posix.hpp"
#include "source.hpp"

namespace erofsfs {

class mmap_source {
 public:
  mmap_source() noexcept = default;
  mmap_source(mmap_source&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  mmap_source& operator=(mmap_source&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  mmap_source(const mmap_source&) = delete;
  mmap_source& operator=(const mmap_source&) = delete;
  ~mmap_source() { unmap(); }

  static result<mmap_source> open(const char* path) noexcept {
    posix::unique_fd fd = posix::open_retry(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return posix::sys_error("open", errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return posix::sys_error("fstat", errno);
    mmap_source s;
    s.size_ = static_cast<std::uint64_t>(st.st_size);
    if (s.size_ != 0) {  // mmap of length 0 is EINVAL; an empty source needs no mapping
      void* p = ::mmap(nullptr, s.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
      if (p == MAP_FAILED) return posix::sys_error("mmap", errno);
      s.data_ = static_cast<const std::byte*>(p);
    }
    return s;  // the mapping keeps the file referenced after fd closes
  }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), size_)) return make_error_code(errc::truncated);
    if (!dst.empty()) std::memcpy(dst.data(), data_ + offset, dst.size());
    return {};
  }
  std::uint64_t size() const noexcept { return size_; }
  std::span<const std::byte> bytes() const noexcept {
    return {data_, static_cast<std::size_t>(size_)};
  }

  // Gives back this process's resident pages of the mapping (madvise MADV_DONTNEED on the
  // read-only private mapping): they stay in the page cache, and the next access maps them
  // again (a minor fault). A whole-image scan calls this every few MiB, so its RSS stays
  // bounded instead of growing to the image's size. Safe while other threads read: they fault
  // the pages back in and see the same bytes.
  void drop_resident() const noexcept {
    if (data_) (void)::madvise(const_cast<std::byte*>(data_), static_cast<std::size_t>(size_), MADV_DONTNEED);
  }

 private:
  void unmap() noexcept {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

static_assert(contiguous_source<mmap_source>);

}  // namespace erofsfs
