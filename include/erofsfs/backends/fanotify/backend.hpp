// fanotify pre-content lazy loading (L8, Linux >= 6.14, needs CAP_SYS_ADMIN).
//
// Linux mounts an EROFS image straight from a regular file (file-backed mounts, 6.12+). Here
// that file is a sparse local copy: the backend creates it at the image's size, copies every
// metadata range into it, and marks it with FAN_PRE_ACCESS. The kernel reads metadata through
// the backing file's page cache without events, so metadata must be present before mount;
// file data is read with the backing file's read_iter, which first sends the daemon a
// pre-access event naming the byte range. The backend copies the missing blocks of that range
// from the source into the sparse file and answers FAN_ALLOW, or FAN_DENY with EIO when the
// source fails, so the reader sees EIO instead of zeros (and never waits forever).
//
// Extra devices (blobs, `mount -o device=`) each get a sparse file of their own, marked in the
// same fanotify group. One thread drives the backend (run_once/handle_ready) and answers events
// one at a time, so a slow source delays every reader; stats() may be read from any thread.
//
// Unmount before destroying the backend: Linux answers the events still pending when the
// fanotify descriptor closes with FAN_ALLOW, and once the mark is gone unfilled holes read as
// zeros.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../../base/error.hpp"
#include "../../core/image.hpp"
#include "../../base/limits.hpp"
#include "../../api/metadata_ranges.hpp"
#include "../../api/open.hpp"
#include "../../decode/read_context.hpp"
#include "../../io/posix.hpp"
#include "../../io/source.hpp"
#include "event.hpp"
#include "intervals.hpp"

namespace erofsfs::fanotify {

// One device of the image: where its bytes come from and the sparse file standing in for it.
// Device 0 is the primary image; device i is the i-th entry of the image's device table.
struct device_spec {
  source_ref source;
  std::string sparse_path;
};

struct backend_options {
  // Fills are widened to multiples of this (a power of two); 0 means the image's block size.
  std::uint64_t fill_align = 0;
  // Largest single read from a source while filling (the copy buffer's size).
  std::size_t copy_chunk = std::size_t{1} << 20;
  // Present-range entries kept per device; past it, filled bytes are simply not remembered (a
  // later access fetches them again, which is slower but still correct).
  std::size_t max_intervals = std::size_t{1} << 20;
  // Read(2) calls per handle_ready(), so a busy queue cannot keep run_once() from returning.
  unsigned max_reads_per_call = 64;
  const decompressor_table* decompressors = nullptr;  // for metadata_ranges() on the image
  limits lim{};
};

struct backend_stats {
  std::uint64_t metadata_bytes = 0;  // prefetched before serving
  std::uint64_t bytes_fetched = 0;   // copied from sources in answer to events
  std::uint64_t events = 0;          // pre-access events answered
  std::uint64_t allowed = 0;
  std::uint64_t denied = 0;
  std::uint64_t fill_errors = 0;     // failed source reads or sparse writes (each denied an event)
  std::uint64_t untracked_fills = 0; // fills not remembered because of max_intervals
};

class backend {
 public:
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;
  backend(backend&&) = delete;  // held through unique_ptr: the serving thread keeps `this`
  backend& operator=(backend&&) = delete;

  // Opens the image through the sources, creates (truncates) each sparse file at its device's
  // size, copies all metadata into it, then marks the files for pre-access events. Fails with
  // errc::unsupported when the kernel has no fanotify pre-content support.
  static result<std::unique_ptr<backend>> create(std::span<const device_spec> devices,
                                                 const backend_options& opt = {}) {
    if (devices.empty()) return make_error(errc::invalid_argument, what::no_primary_image_given);
    if (opt.copy_chunk == 0) return make_error(errc::invalid_argument, what::copy_chunk_is_zero);
    std::unique_ptr<backend> b(new backend(opt));
    std::vector<source_ref> extra;
    for (std::size_t i = 1; i < devices.size(); ++i) extra.push_back(devices[i].source);
    open_options oo;
    oo.devices = extra;
    oo.decompressors = opt.decompressors;
    oo.lim = opt.lim;
    EROFSFS_TRY_ASSIGN(const image img, open_image(devices[0].source, oo));

    std::uint64_t align = opt.fill_align ? opt.fill_align : img.block_size();
    if (align == 0 || (align & (align - 1)) != 0)
      return make_error(errc::invalid_argument, what::fill_align_is_not_a_power_of_two,
                        {.value = align});
    b->align_ = align;

    for (std::size_t i = 0; i < devices.size(); ++i) {
      device_state d{devices[i].source, devices[i].sparse_path, 0, {}, 0, 0,
                     interval_set(opt.max_intervals)};
      EROFSFS_TRY_ASSIGN(d.size, device_size(img, devices[i].source, i));
      d.fd = posix::open_retry(d.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (!d.fd) return posix::sys_error("creating the sparse file", errno, i);
      const int fd = d.fd.get();
      // A size past off_t would wrap negative in the cast; EFBIG is what the kernel says.
      if (!posix::in_off_t_range(0, d.size))
        return posix::sys_error("sizing the sparse file", EFBIG, d.size);
      if (::ftruncate(fd, static_cast<off_t>(d.size)) != 0)
        return posix::sys_error("sizing the sparse file", errno, d.size);
      struct stat st;
      if (::fstat(fd, &st) != 0) return posix::sys_error("fstat of the sparse file", errno);
      d.st_dev = st.st_dev;
      d.st_ino = st.st_ino;
      for (const device_state& o : b->devs_)  // events are routed by inode: one file per device
        if (o.st_dev == d.st_dev && o.st_ino == d.st_ino)
          return make_error(errc::invalid_argument, what::two_devices_share_one_sparse_file,
                            {.value = i});
      b->devs_.push_back(std::move(d));
    }

    {
      read_context ctx;
      EROFSFS_TRY_ASSIGN(const std::vector<metadata_range> ranges, metadata_ranges(img, ctx));
      std::vector<std::byte> buf;
      for (const metadata_range& r : ranges) {  // bounded: the list is finite
        if (r.device >= b->devs_.size())
          return make_error(errc::no_device, what::metadata_on_a_device_that_was_not_given,
                            {.nid = r.nid, .offset = r.offset, .value = r.device});
        device_state& d = b->devs_[r.device];
        std::uint64_t end;
        if (!checked_add(r.offset, r.length, end) || end > d.size)
          return make_error(errc::truncated, what::metadata_range_past_the_end_of_its_device,
                            {.nid = r.nid, .offset = r.offset, .value = r.length});
        std::uint64_t fetched = 0;
        if (status st = b->fill(d, r.offset, end, d.fd.get(), buf, fetched); !st)
          return make_error(st.error().code, what::prefetching_metadata,
                            {.nid = r.nid, .offset = r.offset, .value = r.length});
        b->metadata_bytes_ += fetched;
      }
    }

    int fan = ::fanotify_init(abi::class_pre_content | abi::init_cloexec | abi::init_nonblock,
                              O_RDWR | O_LARGEFILE | O_CLOEXEC);
    if (fan < 0) {
      const int e = errno;
      if (e == EINVAL)
        return make_error(errc::unsupported, what::fanotify_pre_content_groups_not_supported);
      return posix::sys_error("fanotify_init", e);
    }
    b->fan_ = posix::unique_fd(fan);
    for (std::size_t i = 0; i < b->devs_.size(); ++i) {
      if (::fanotify_mark(fan, abi::mark_add, abi::pre_access, AT_FDCWD,
                          b->devs_[i].path.c_str()) != 0) {
        const int e = errno;
        if (e == EINVAL || e == EOPNOTSUPP)
          return make_error(errc::unsupported,
                            what::fan_pre_access_marks_not_supported_kernel_or_filesystem,
                            {.value = i});
        return posix::sys_error("fanotify_mark", e, i);
      }
    }
    return b;
  }

  // The fanotify descriptor: readable when events are pending (for the caller's own poll loop).
  int fd() const noexcept { return fan_.get(); }
  std::size_t device_count() const noexcept { return devs_.size(); }
  const std::string& sparse_path(std::size_t i) const noexcept { return devs_[i].path; }
  std::uint64_t device_size(std::size_t i) const noexcept { return devs_[i].size; }
  std::uint64_t fill_align() const noexcept { return align_; }

  // Answers every event that is queued now (up to max_reads_per_call reads); returns how many
  // were answered. A protocol error (an unframeable buffer) is fatal for the backend: destroy
  // it, which releases any event it could not answer.
  result<std::size_t> handle_ready() {
    alignas(8) std::byte buf[16384];
    std::size_t handled = 0;
    // A failed answer is reported after the rest of the buffer is answered: stopping at it would
    // leave the later readers waiting and their descriptors open.
    status first_failure;
    for (unsigned n = 0; n < opt_.max_reads_per_call; ++n) {
      const ssize_t got = ::read(fan_.get(), buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return posix::sys_error("reading fanotify events", errno);
      }
      if (got == 0) break;
      event_reader rd(bytes_view(buf, static_cast<std::size_t>(got)));
      event e;
      while (true) {  // bounded: the reader advances through a finite buffer
        auto more = rd.next(e);
        if (!more) return more.error();
        if (!*more) break;
        status st = answer(e);
        if (!st && first_failure) first_failure = st;
        ++handled;
      }
    }
    if (!first_failure) return first_failure.error();
    return handled;
  }

  // Waits up to timeout_ms (-1: forever) for events, then handles them.
  result<std::size_t> run_once(int timeout_ms) {
    pollfd p{fan_.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) return std::size_t{0};
      return posix::sys_error("poll on the fanotify descriptor", errno);
    }
    if (r == 0) return std::size_t{0};
    return handle_ready();
  }

  backend_stats stats() const noexcept {
    backend_stats s;
    s.metadata_bytes = metadata_bytes_.load(std::memory_order_relaxed);
    s.bytes_fetched = bytes_fetched_.load(std::memory_order_relaxed);
    s.events = events_.load(std::memory_order_relaxed);
    s.allowed = allowed_.load(std::memory_order_relaxed);
    s.denied = denied_.load(std::memory_order_relaxed);
    s.fill_errors = fill_errors_.load(std::memory_order_relaxed);
    s.untracked_fills = untracked_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct device_state {
    source_ref source;
    std::string path;
    std::uint64_t size;
    posix::unique_fd fd;  // for the prefetch, which runs before the mark exists
    dev_t st_dev;
    ino_t st_ino;
    interval_set present;
  };

  explicit backend(const backend_options& opt) : opt_(opt) {}

  static result<std::uint64_t> device_size(const image& img, source_ref src, std::size_t i) {
    if (auto s = src.size()) return *s;
    std::uint64_t blocks = i == 0 ? img.sb().blocks : 0;
    if (i > 0) {
      if (i > img.device_table().size())
        return make_error(errc::invalid_argument, what::more_devices_than_the_device_table_lists,
                          {.value = i});
      blocks = img.device_table()[i - 1].blocks;
    }
    std::uint64_t size;
    if (!checked_mul(blocks, img.block_size(), size) || size == 0)
      return make_error(errc::invalid_argument,
                        what::device_size_unknown_source_has_no_size_and_the_image_non,
                        {.value = i});
    return size;
  }

  // Makes [start, end) of device `d` present: widens it to fill_align (clamped to the device),
  // copies the missing parts from the source with pwrite on `wfd`, and records them. `fetched`
  // counts the bytes copied, also when the fill fails part way.
  status fill(device_state& d, std::uint64_t start, std::uint64_t end, int wfd,
              std::vector<std::byte>& buf, std::uint64_t& fetched) {
    fetched = 0;
    if (start >= d.size) return {};
    end = std::min(end, d.size);
    start = round_down(start, align_);
    std::uint64_t e;
    end = checked_round_up(end, align_, e) ? std::min(e, d.size) : d.size;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
    d.present.for_each_gap(start, end, [&](std::uint64_t a, std::uint64_t b) {
      gaps.emplace_back(a, b);
    });
    for (const auto& [a, b] : gaps) {  // bounded: gaps of a finite set
      // The buffer only grows to the largest chunk needed so far (at most copy_chunk).
      const std::size_t chunk =
          static_cast<std::size_t>(std::min<std::uint64_t>(b - a, opt_.copy_chunk));
      if (buf.size() < chunk) buf.resize(chunk);
      std::uint64_t copied = 0;
      status st = posix::copy_source_to_fd(d.source, a, wfd, a, b - a,
                                           std::span(buf.data(), chunk), copied);
      fetched += copied;
      if (!st) return st;
      if (!d.present.insert(a, b)) untracked_.fetch_add(1, std::memory_order_relaxed);
    }
    return {};
  }

  device_state* find_device(int fd) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return nullptr;
    for (device_state& d : devs_)
      if (d.st_dev == st.st_dev && d.st_ino == st.st_ino) return &d;
    return nullptr;
  }

  status respond(std::int32_t fd, std::uint32_t response) {
    std::byte msg[abi::response_size];
    encode_response(fd, response, msg);
    while (true) {  // bounded: retried on EINTR, and once with a plain deny
      const ssize_t w = ::write(fan_.get(), msg, sizeof msg);
      if (w == static_cast<ssize_t>(sizeof msg)) return {};
      if (w < 0 && errno == EINTR) continue;
      // ENOENT: the event is gone already (the reader was killed); nothing left to answer.
      if (w < 0 && errno == ENOENT) return {};
      // A kernel that refuses the errno in a deny still takes a plain deny (EPERM).
      if (w < 0 && errno == EINVAL && response != abi::deny && (response & abi::deny)) {
        encode_response(fd, abi::deny, msg);
        response = abi::deny;
        continue;
      }
      return posix::sys_error("writing a fanotify response", w < 0 ? errno : EIO);
    }
  }

  status answer(const event& e) {
    if (e.fd < 0) return {};  // FAN_Q_OVERFLOW and other fd-less events need no answer
    posix::unique_fd event_fd(e.fd);
    if (!(e.mask & (abi::pre_access | abi::access_perm))) return {};
    events_.fetch_add(1, std::memory_order_relaxed);
    device_state* d = find_device(e.fd);
    std::uint32_t response = abi::allow;
    if (!d) {
      response = abi::deny_errno(EIO);  // not one of ours: never let unfilled zeros through
    } else {
      std::uint64_t start = 0, end = d->size;
      if (e.has_range) start = e.offset, end = e.offset + e.count;  // parser checked overflow
      std::uint64_t fetched = 0;
      // The fill goes through the event's descriptor, which the kernel opened with
      // FMODE_NONOTIFY: writing through it cannot raise an event back at this group.
      const status st = fill(*d, start, end, e.fd, buf_, fetched);
      bytes_fetched_.fetch_add(fetched, std::memory_order_relaxed);
      if (!st) {
        fill_errors_.fetch_add(1, std::memory_order_relaxed);
        response = abi::deny_errno(EIO);
      }
    }
    (response == abi::allow ? allowed_ : denied_).fetch_add(1, std::memory_order_relaxed);
    return respond(e.fd, response);
  }

  backend_options opt_;
  std::uint64_t align_ = 4096;
  std::vector<device_state> devs_;
  posix::unique_fd fan_;
  std::vector<std::byte> buf_;
  std::atomic<std::uint64_t> metadata_bytes_{0}, bytes_fetched_{0}, events_{0}, allowed_{0},
      denied_{0}, fill_errors_{0}, untracked_{0};
};

// Mounts `image` (a sparse file the backend serves) read-only at `dir` as a file-backed EROFS
// mount; `devices` are the extra devices' sparse files, passed as device= options.
inline status mount_erofs(const std::string& image, std::span<const std::string> devices,
                          const std::string& dir) {
  std::string data;
  for (const std::string& d : devices) {
    if (d.find(',') != std::string::npos)
      return make_error(errc::invalid_argument, what::device_path_contains_a_comma);
    if (!data.empty()) data += ',';
    data += "device=" + d;
  }
  if (::mount(image.c_str(), dir.c_str(), "erofs", MS_RDONLY,
              data.empty() ? nullptr : data.c_str()) != 0)
    return posix::sys_error("mount", errno);
  return {};
}

}  // namespace erofsfs::fanotify
