// The filled-range journal of a persistent fanotify cache (L8): which byte ranges of each
// sparse file hold the image's bytes durably. Append-only, one 32-byte record per filled range:
//
//   u32 magic "EFJ1" | u32 device | u64 start | u64 end | u32 crc32c(bytes 0..24) | u32 zero
//
// (little-endian). A range is appended only after fdatasync of the sparse file returned, so a
// record never promises bytes that a crash (of the daemon or of the machine) could lose. Replay
// stops at the first record that is torn, fails its checksum or names a range outside its
// device, and cuts the file there: everything after it is treated as not filled (fetched again,
// which is slower but never wrong). The journal is compacted (rewritten with one record per
// coalesced range, atomically by rename) when it holds many more records than ranges.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../../base/bytes.hpp"
#include "../../base/error.hpp"
#include "../../base/hash.hpp"
#include "../../io/posix.hpp"
#include "intervals.hpp"

namespace erofsfs::fanotify {

inline constexpr std::size_t journal_record_size = 32;
inline constexpr std::uint32_t journal_magic = 0x314a4645;  // "EFJ1" read little-endian

class fill_journal {
 public:
  fill_journal() = default;

  // Opens (creating) the journal at `path` for devices of the given sizes and replays it into
  // `present` (one set per device, cleared first). The caller holds the cache's lock.
  static result<fill_journal> open(const std::string& path,
                                   std::span<const std::uint64_t> device_sizes,
                                   std::span<interval_set> present) {
    fill_journal j;
    j.path_ = path;
    j.sizes_.assign(device_sizes.begin(), device_sizes.end());
    EROFSFS_TRY(j.replay(present));
    return j;
  }

  // Reads every valid record into `present` (cleared first) and cuts a torn or corrupted tail.
  // Also what a restarted worker calls to learn what its predecessors filled.
  status replay(std::span<interval_set> present) {
    // Reopened by name: a compaction by another process sharing this one's descriptor (a worker
    // forked from the holder) replaced the file.
    posix::unique_fd fresh =
        posix::open_retry(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (!fresh) return posix::sys_error("opening the fill journal", errno);
    fd_ = std::move(fresh);
    std::uint64_t good = 0, size = 0;
    EROFSFS_TRY(scan(fd_.get(), sizes_, present, good, size, records_));
    if (good != size && ::ftruncate(fd_.get(), static_cast<off_t>(good)) != 0)
      return posix::sys_error("cutting the torn tail of the fill journal", errno, good);
    std::size_t ranges = 0;
    for (const interval_set& s : present) ranges += s.size();
    if (records_ > 2 * ranges + 1024) EROFSFS_TRY(compact(present));
    return {};
  }

  // Reads a journal without changing it (another daemon may own it): `erofsfs cache ls`. A
  // missing journal is an empty one.
  static status read_only(const std::string& path, std::span<const std::uint64_t> device_sizes,
                          std::span<interval_set> present) {
    posix::unique_fd fd = posix::open_retry(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (!fd) {
      if (errno != ENOENT) return posix::sys_error("opening the fill journal", errno);
      for (interval_set& s : present) s.clear();
      return {};
    }
    std::uint64_t good = 0, size = 0, records = 0;
    return scan(fd.get(), device_sizes, present, good, size, records);
  }

  // Records [start, end) of `device` as filled. The caller has made those bytes durable.
  status append(std::uint32_t device, std::uint64_t start, std::uint64_t end) {
    std::byte r[journal_record_size];
    encode(device, start, end, r);
    EROFSFS_TRY(write_all(fd_.get(), r));
    ++records_;
    return {};
  }

  bool is_open() const noexcept { return static_cast<bool>(fd_); }
  std::uint64_t records() const noexcept { return records_; }

  static void encode(std::uint32_t device, std::uint64_t start, std::uint64_t end,
                     std::byte* out) noexcept {
    store_le32(out, journal_magic);
    store_le32(out + 4, device);
    store_le64(out + 8, start);
    store_le64(out + 16, end);
    store_le32(out + 24, crc32c_raw(~0u, std::span<const std::byte>(out, 24)));
    store_le32(out + 28, 0);
  }

 private:
  // A valid record: right magic and checksum, a non-empty range inside a known device.
  static bool decode(const std::byte* r, std::span<const std::uint64_t> sizes,
                     std::uint32_t& device, std::uint64_t& start, std::uint64_t& end) noexcept {
    if (load_le32(r) != journal_magic || load_le32(r + 28) != 0) return false;
    if (load_le32(r + 24) != crc32c_raw(~0u, std::span<const std::byte>(r, 24))) return false;
    device = load_le32(r + 4);
    start = load_le64(r + 8);
    end = load_le64(r + 16);
    return device < sizes.size() && start < end && end <= sizes[device];
  }

  // Reads the valid records of `fd` into `present` (cleared first); `good` is where the first
  // invalid record (or the end) is, `size` the file's size.
  static status scan(int fd, std::span<const std::uint64_t> sizes,
                     std::span<interval_set> present, std::uint64_t& good, std::uint64_t& size,
                     std::uint64_t& records) {
    if (present.size() != sizes.size())
      return make_error(errc::internal, what::journal_device_count_differs_from_the_cache,
                        {.value = present.size()});
    for (interval_set& s : present) s.clear();
    struct stat st;
    if (::fstat(fd, &st) != 0) return posix::sys_error("fstat of the fill journal", errno);
    size = static_cast<std::uint64_t>(st.st_size);
    good = 0;
    records = 0;
    std::array<std::byte, journal_record_size * 256> buf;
    // Bounded: each pass consumes up to 256 whole records of a file of finite size.
    for (std::uint64_t pos = 0; pos + journal_record_size <= size;) {
      const std::uint64_t want = std::min<std::uint64_t>(
          (size - pos) / journal_record_size * journal_record_size, buf.size());
      EROFSFS_TRY(posix::pread_full(fd, std::span(buf).first(want), pos));
      for (std::uint64_t o = 0; o < want; o += journal_record_size) {
        std::uint32_t device;
        std::uint64_t start, end;
        if (!decode(buf.data() + o, sizes, device, start, end)) return {};
        // A record the set cannot hold is dropped: its bytes are fetched again when asked.
        (void)present[device].insert(start, end);
        ++records;
        good = pos + o + journal_record_size;
      }
      pos += want;
    }
    return {};
  }

  static status write_all(int fd, std::span<const std::byte> b) {
    std::size_t done = 0;
    while (done < b.size()) {  // bounded: each pass writes > 0 bytes (EINTR repeats)
      const ssize_t n = ::write(fd, b.data() + done, b.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return posix::sys_error("appending to the fill journal", n < 0 ? errno : EIO);
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  // Rewrites the journal as one record per range: a temporary file, fdatasync, rename, so a
  // crash leaves either the old journal or the new one.
  status compact(std::span<const interval_set> present) {
    const std::string tmp = path_ + ".tmp";
    posix::unique_fd t =
        posix::open_retry(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!t) return posix::sys_error("creating the compacted fill journal", errno);
    std::uint64_t n = 0;
    status st;
    for (std::size_t d = 0; d < present.size() && st; ++d)
      present[d].for_each_range([&](std::uint64_t a, std::uint64_t b) {
        if (!st) return;
        std::byte r[journal_record_size];
        encode(static_cast<std::uint32_t>(d), a, b, r);
        st = write_all(t.get(), r);
        ++n;
      });
    EROFSFS_TRY(st);
    if (::fdatasync(t.get()) != 0) return posix::sys_error("fdatasync of the fill journal", errno);
    if (::rename(tmp.c_str(), path_.c_str()) != 0)
      return posix::sys_error("replacing the fill journal", errno);
    posix::unique_fd nfd =
        posix::open_retry(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC, 0644);
    if (!nfd) return posix::sys_error("opening the fill journal", errno);
    fd_ = std::move(nfd);
    records_ = n;
    return {};
  }

  std::string path_;
  std::vector<std::uint64_t> sizes_;
  posix::unique_fd fd_;
  std::uint64_t records_ = 0;
};

}  // namespace erofsfs::fanotify
