// Uncompressed extents without user space: extract moves a plain (mapped) extent from the
// image file to the output in the kernel, so the bytes never pass through a buffer here. Only
// where that is the same as reading them:
//  - the image is a local regular file read through its mapping, and the file opened here is
//    the very file that is mapped (same device and inode, checked in /proc/self/maps);
//  - no verity tree (every byte must pass its hash check) and no http source;
//  - the only transformation is the constant --offset;
//  - the extent is on the primary device (extra devices are other files).
// Two ways, tried in this order:
//  1. copy_file_range: within one filesystem (the kernel copies, or shares the blocks on
//     filesystems that reflink);
//  2. splice through a pipe of the worker's own (its own image descriptor too, so each worker's
//     sequential read keeps its own read-ahead): across filesystems, where copy_file_range is
//     EXDEV, for instance an image on ext4 extracted to tmpfs. The image's page-cache pages go
//     into the pipe by reference and are copied once, into the output.
// A failure of one way (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF) turns it off for the rest of
// the run and the next way takes over at the byte where it stopped; any other failure or a
// short copy hands the rest of the extent to the ordinary read path.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

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
    path_ = o.path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = offset;
    end_ = file.bytes().size();
    way_.store(way::copy_range);
  }

  // One worker's descriptors for the splice way: its own image descriptor and a pipe, opened
  // the first time the worker splices. Movable, so workers can be kept in a vector.
  class lane {
   public:
    lane() = default;
    lane(lane&& o) noexcept : in_(o.in_), r_(o.r_), w_(o.w_) { o.in_ = o.r_ = o.w_ = -1; }
    lane& operator=(lane&&) = delete;
    lane(const lane&) = delete;
    ~lane() { close_all(); }

   private:
    friend class direct_copy;
    void close_all() noexcept {
      for (int* fd : {&in_, &r_, &w_})
        if (*fd >= 0) ::close(std::exchange(*fd, -1));
    }
    int in_ = -1, r_ = -1, w_ = -1;
  };

  bool usable() const noexcept { return way_.load(std::memory_order_relaxed) != way::off; }
  std::uint64_t copied() const noexcept { return copied_.load(); }

  // Copies up to `length` bytes at `physical` (primary device address) to `out` at `at`;
  // returns how many were copied (a prefix; 0 when the copy is off or failed at once).
  std::uint64_t copy(lane& l, int out, std::uint64_t physical, std::uint64_t at,
                     std::uint64_t length) {
    std::uint64_t src = 0;
    if (__builtin_add_overflow(physical, offset_, &src) || src > end_ || length > end_ - src)
      return 0;  // outside the file: the read path reports it
    std::uint64_t done = 0;
    if (way_.load(std::memory_order_relaxed) == way::copy_range)
      done = copy_range(src, out, at, length);
    if (done < length && way_.load(std::memory_order_relaxed) == way::splice)
      done += splice_through(l, src + done, out, at + done, length - done);
    copied_ += done;
    return done;
  }

 private:
  enum class way { off, copy_range, splice };

  // Turns `from` off after a failure that will repeat (the next way takes over).
  void give_up(way from, int err) {
    if (err != EXDEV && err != EINVAL && err != ENOSYS && err != EOPNOTSUPP && err != EBADF)
      return;
    way expected = from;
    way_.compare_exchange_strong(expected, from == way::copy_range ? way::splice : way::off);
  }

  std::uint64_t copy_range(std::uint64_t src, int out, std::uint64_t at, std::uint64_t length) {
    std::uint64_t done = 0;
    while (done < length) {  // bounded: each pass copies > 0 bytes or ends the loop
      off_t in_off = static_cast<off_t>(src + done), out_off = static_cast<off_t>(at + done);
      const std::uint64_t want = std::min<std::uint64_t>(length - done, 1u << 30);
      const ssize_t n = ::copy_file_range(fd_, &in_off, out, &out_off, static_cast<size_t>(want), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) give_up(way::copy_range, errno);
        break;
      }
      done += static_cast<std::uint64_t>(n);
    }
    return done;
  }

  // Opens the lane's image descriptor (checked to be the mapped file) and pipe.
  bool open_lane(lane& l) {
    if (l.w_ >= 0) return true;
    l.in_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    int p[2];
    if (l.in_ < 0 || ::fstat(l.in_, &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_ ||
        ::pipe2(p, O_CLOEXEC) != 0) {
      l.close_all();
      return false;
    }
    l.r_ = p[0];
    l.w_ = p[1];
    (void)::fcntl(l.w_, F_SETPIPE_SZ, pipe_bytes);  // a bigger pipe, fewer calls; may be refused
    (void)::posix_fadvise(l.in_, 0, 0, POSIX_FADV_SEQUENTIAL);
    return true;
  }

  std::uint64_t splice_through(lane& l, std::uint64_t src, int out, std::uint64_t at,
                               std::uint64_t length) {
    if (!open_lane(l)) return 0;
    std::uint64_t done = 0;
    while (done < length) {  // bounded: each pass moves > 0 bytes or ends the loop
      loff_t in_off = static_cast<loff_t>(src + done);
      const std::uint64_t want = std::min<std::uint64_t>(length - done, pipe_bytes);
      const ssize_t n = ::splice(l.in_, &in_off, l.w_, nullptr, static_cast<size_t>(want),
                                 SPLICE_F_MOVE | SPLICE_F_MORE);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) give_up(way::splice, errno);
        break;
      }
      std::uint64_t drained = 0;  // the pipe holds n bytes; all of them go to out
      while (drained < static_cast<std::uint64_t>(n)) {  // bounded: > 0 bytes a pass, or stop
        loff_t out_off = static_cast<loff_t>(at + done + drained);
        const ssize_t m = ::splice(l.r_, nullptr, out, &out_off,
                                   static_cast<size_t>(static_cast<std::uint64_t>(n) - drained),
                                   SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) {
          if (m < 0) give_up(way::splice, errno);
          l.close_all();  // bytes left in the pipe are never written anywhere
          return done + drained;
        }
        drained += static_cast<std::uint64_t>(m);
      }
      done += drained;
    }
    return done;
  }

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

  static constexpr std::uint64_t pipe_bytes = 1u << 20;  // the default pipe-max-size

  int fd_ = -1;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t end_ = 0;
  std::atomic<way> way_{way::off};
  std::atomic<std::uint64_t> copied_{0};
};

}  // namespace erofsfs::cli
