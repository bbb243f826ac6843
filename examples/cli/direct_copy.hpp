// Uncompressed extents without user space: extract copies a plain (mapped) extent from the
// image file to the output with copy_file_range, so the kernel moves the bytes (or shares the
// blocks, on filesystems that reflink). Only where that is the same as reading them:
//  - the image is a local regular file read through its mapping, and the file opened here is
//    the very file that is mapped (same device and inode, checked in /proc/self/maps);
//  - no verity tree (every byte must pass its hash check) and no http source;
//  - the only transformation is the constant --offset;
//  - the extent is on the primary device (extra devices are other files).
// Any failure (EXDEV between filesystems, EINVAL, ENOSYS, EOPNOTSUPP, a short copy) falls back
// to the ordinary read path for the rest of the extent, and after EXDEV/EINVAL/ENOSYS/
// EOPNOTSUPP the copy is not tried again.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common.hpp"

namespace erofsfs::cli {

class direct_copy {
 public:
  direct_copy() = default;
  direct_copy(const direct_copy&) = delete;
  direct_copy& operator=(const direct_copy&) = delete;
  ~direct_copy() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Sets the copy up for `o` when every condition above holds; otherwise it stays off.
  void setup(const opened_image& o, std::uint64_t offset) {
    if (o.path.starts_with("http://") || o.path.starts_with("https://")) return;
    if (o.verified) return;
    const source_ref file = o.file.ref();
    if (!file.contiguous()) return;  // a block device read with pread: not worth the checks
    const int fd = ::open(o.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        !mapping_is(file.bytes().data(), st.st_dev, st.st_ino) ||
        static_cast<std::uint64_t>(st.st_size) != file.bytes().size()) {
      ::close(fd);
      return;
    }
    fd_ = fd;
    offset_ = offset;
    end_ = file.bytes().size();
    usable_.store(true);
  }

  bool usable() const noexcept { return usable_.load(std::memory_order_relaxed); }
  std::uint64_t copied() const noexcept { return copied_.load(); }

  // Copies up to `length` bytes at `physical` (primary device address) to `out` at `at`;
  // returns how many were copied (a prefix; 0 when the copy is off or failed at once).
  std::uint64_t copy(int out, std::uint64_t physical, std::uint64_t at, std::uint64_t length) {
    if (!usable()) return 0;
    std::uint64_t src = 0;
    if (__builtin_add_overflow(physical, offset_, &src) || src > end_ || length > end_ - src)
      return 0;  // outside the file: the read path reports it
    std::uint64_t done = 0;
    while (done < length) {  // bounded: each pass copies > 0 bytes or ends the loop
      off_t in_off = static_cast<off_t>(src + done), out_off = static_cast<off_t>(at + done);
      const std::uint64_t want = std::min<std::uint64_t>(length - done, 1u << 30);
      const ssize_t n = ::copy_file_range(fd_, &in_off, out, &out_off, static_cast<size_t>(want), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                      errno == EOPNOTSUPP || errno == EBADF))
          usable_.store(false);
        break;
      }
      done += static_cast<std::uint64_t>(n);
    }
    copied_ += done;
    return done;
  }

 private:
  // Whether the mapping starting at `addr` is of the file (dev, ino), per /proc/self/maps.
  static bool mapping_is(const void* addr, dev_t dev, ino_t ino) {
    std::FILE* f = std::fopen("/proc/self/maps", "re");
    if (!f) return false;
    bool same = false;
    char line[4096];
    const auto want = reinterpret_cast<std::uintptr_t>(addr);
    while (std::fgets(line, sizeof line, f)) {  // bounded: the process's mappings
      unsigned long long start = 0, end = 0, off = 0, inode = 0;
      unsigned major_no = 0, minor_no = 0;
      char perms[8];
      if (std::sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &off, &major_no,
                      &minor_no, &inode) != 7)
        continue;
      if (start != want) continue;
      same = off == 0 && major_no == major(dev) && minor_no == minor(dev) &&
             inode == static_cast<unsigned long long>(ino);
      break;
    }
    std::fclose(f);
    return same;
  }

  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::uint64_t end_ = 0;
  std::atomic<bool> usable_{false};
  std::atomic<std::uint64_t> copied_{0};
};

}  // namespace erofsfs::cli
