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
// same fanotify group. The files are a sparse_store (sparse_store.hpp): the caller's paths, or a
// persistent cache directory whose journal lists the ranges filled durably, so a restart reuses
// them (each fill is fdatasync'ed before it is recorded) and fetches nothing for a complete
// cache. run_once/handle_ready answer events one at a time on one thread. answer_event() may be
// called from several threads at once (relay.hpp runs a pool of them): fills of disjoint ranges
// run in parallel, and an event whose range is already being fetched waits for that fetch
// instead of fetching it again. stats() may be read from any thread.
//
// The fanotify group dies with the process that holds it, and Linux answers the events still
// pending then with FAN_ALLOW: unfilled holes read as zeros. A daemon that must survive its own
// crash hands the group to a holder process (release_group(), relay.hpp) and answers the
// events the holder relays (answer_event(); daemon.hpp puts it together). Used on its own,
// unmount before destroying the backend.
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
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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
#include "sparse_store.hpp"

namespace erofsfs::fanotify {

// Writes {fd, response} to the fanotify group. ENOENT (the event is gone: the reader was killed,
// or it was answered already) is success; a kernel that refuses the errno in a deny still takes
// a plain deny (the reader then gets EPERM).
inline status write_response(int group, std::int32_t fd, std::uint32_t response) {
  std::byte msg[abi::response_size];
  encode_response(fd, response, msg);
  while (true) {  // bounded: retried on EINTR, and once with a plain deny
    const ssize_t w = ::write(group, msg, sizeof msg);
    if (w == static_cast<ssize_t>(sizeof msg)) return {};
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == ENOENT) return {};
    if (w < 0 && errno == EINVAL && response != abi::deny && (response & abi::deny)) {
      response = abi::deny;
      encode_response(fd, response, msg);
      continue;
    }
    return posix::sys_error("writing a fanotify response", w < 0 ? errno : EIO);
  }
}

// One device of the image: where its bytes come from and the sparse file standing in for it
// (empty when backend_options::cache_root names a cache directory, which names the files).
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
  // A persistent cache: the sparse files are cache_root/cache_id/device-<i>.sparse, and what is
  // filled survives restarts. Empty: device_spec::sparse_path names each file.
  std::string cache_root;
  std::string cache_id;
};

struct backend_stats {
  std::uint64_t metadata_bytes = 0;  // prefetched before serving
  std::uint64_t bytes_fetched = 0;   // copied from sources in answer to events
  std::uint64_t events = 0;          // pre-access events answered
  std::uint64_t allowed = 0;
  std::uint64_t denied = 0;
  std::uint64_t fill_errors = 0;     // failed source reads or sparse writes (each denied an event)
  std::uint64_t untracked_fills = 0; // fills not remembered because of max_intervals
  std::uint64_t reused_bytes = 0;    // already filled (by an earlier run) when serving began
};

class backend {
 public:
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;
  backend(backend&&) = delete;  // held through unique_ptr: the serving thread keeps `this`
  backend& operator=(backend&&) = delete;

  // Opens the sparse files (or the cache) and locks them, opens the image through the sources
  // (through the cache's filled ranges first, so a complete cache costs no source reads), sizes
  // each sparse file at its device's size, copies all metadata that is not there yet into it,
  // then marks the files for pre-access events. Nothing is written before the lock is held: a
  // second daemon on the same files fails with EBUSY (what::cache_is_locked_by_another_daemon or
  // what::sparse_file_is_locked_by_another_daemon). Fails with errc::unsupported when the
  // kernel has no fanotify pre-content support.
  static result<std::unique_ptr<backend>> create(std::span<const device_spec> devices,
                                                 const backend_options& opt = {}) {
    if (devices.empty()) return make_error(errc::invalid_argument, what::no_primary_image_given);
    if (opt.copy_chunk == 0) return make_error(errc::invalid_argument, what::copy_chunk_is_zero);
    for (const device_spec& d : devices)
      if (d.sparse_path.empty() == opt.cache_root.empty())
        return make_error(errc::invalid_argument,
                          what::give_either_sparse_paths_or_a_cache_directory);
    std::unique_ptr<backend> b(new backend(opt));
    // A cache is locked before anything reads it; a cache that knows its sizes lists what is
    // filled, and the image opens through those ranges.
    std::vector<interval_set> present;
    for (std::size_t i = 0; i < devices.size(); ++i) present.emplace_back(opt.max_intervals);
    std::vector<cached_source> cached;
    if (!opt.cache_root.empty()) {
      EROFSFS_TRY_ASSIGN(b->store_,
                         sparse_store::open_cache(opt.cache_root, opt.cache_id, devices.size()));
      const std::span<const std::uint64_t> recorded = b->store_.recorded_sizes();
      if (!recorded.empty()) {
        EROFSFS_TRY(
            fill_journal::read_only(b->store_.dir() + "/filled.journal", recorded, present));
        for (std::size_t i = 0; i < devices.size(); ++i)
          cached.push_back({devices[i].source, b->store_.at(i).fd.get(), &present[i], recorded[i]});
      }
    }
    auto src = [&](std::size_t i) -> source_ref {
      if (cached.empty()) return devices[i].source;
      return cached[i];
    };
    std::vector<source_ref> extra;
    for (std::size_t i = 1; i < devices.size(); ++i) extra.push_back(src(i));
    open_options oo;
    oo.devices = extra;
    oo.decompressors = opt.decompressors;
    oo.lim = opt.lim;
    EROFSFS_TRY_ASSIGN(const image img, open_image(src(0), oo));
    if (opt.cache_root.empty()) {
      // Plain sparse files are opened after the image, so an image that cannot be served
      // creates none; still locked before anything is written to them.
      std::vector<std::string> paths;
      for (const device_spec& d : devices) paths.push_back(d.sparse_path);
      EROFSFS_TRY_ASSIGN(b->store_, sparse_store::open_files(paths));
    }

    std::uint64_t align = opt.fill_align ? opt.fill_align : img.block_size();
    if (align == 0 || (align & (align - 1)) != 0)
      return make_error(errc::invalid_argument, what::fill_align_is_not_a_power_of_two,
                        {.value = align});
    b->align_ = align;

    std::vector<std::uint64_t> sizes;
    for (std::size_t i = 0; i < devices.size(); ++i) {
      EROFSFS_TRY_ASSIGN(const std::uint64_t size, device_size(img, devices[i].source, i));
      sizes.push_back(size);
    }
    std::vector<interval_set> filled;
    for (std::size_t i = 0; i < devices.size(); ++i) filled.emplace_back(opt.max_intervals);
    EROFSFS_TRY(b->store_.prepare(sizes, filled));
    for (std::size_t i = 0; i < devices.size(); ++i) {
      b->devs_.push_back({devices[i].source, sizes[i], std::move(filled[i])});
      b->reused_bytes_ += b->devs_.back().present.bytes();
    }

    {
      read_context ctx;
      EROFSFS_TRY_ASSIGN(const std::vector<metadata_range> ranges, metadata_ranges(img, ctx));
      std::vector<std::byte> buf;
      std::vector<filled_range> deferred;
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
        if (status st = b->fill(r.device, r.offset, end, b->store_.at(r.device).fd.get(), buf,
                                fetched, &deferred);
            !st)
          return make_error(st.error().code, what::prefetching_metadata,
                            {.nid = r.nid, .offset = r.offset, .value = r.length});
        b->metadata_bytes_ += fetched;
      }
      EROFSFS_TRY(b->journal_deferred(deferred));
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
                          b->store_.at(i).path.c_str()) != 0) {
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
  const std::string& sparse_path(std::size_t i) const noexcept { return store_.at(i).path; }
  // The cache directory (ROOT/<id>), or "" for plain sparse files.
  const std::string& cache_dir() const noexcept { return store_.dir(); }
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

  // Hands the fanotify group to a holder (holder.hpp), which then reads the events and relays
  // them to answer_event(); run_once() and handle_ready() must not be called afterwards.
  posix::unique_fd release_group() noexcept { return std::move(fan_); }

  // Fills what event `e` (whose descriptor `e.fd` the caller owns and keeps open) asks for and
  // returns the response to give the kernel: FAN_ALLOW once the range is present, else
  // FAN_DENY with EIO. Never allows a range it has not filled.
  std::uint32_t answer_event(const event& e) {
    std::uint64_t fetched = 0;
    return answer_event(e, buf_, fetched);
  }
  // The same, thread-safe: `buf` is the calling thread's copy buffer, and `fetched` says how
  // many bytes this answer copied from the source.
  std::uint32_t answer_event(const event& e, std::vector<std::byte>& buf, std::uint64_t& fetched) {
    fetched = 0;
    events_.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t response = abi::allow;
    const std::size_t d = find_device(e.fd);
    if (d == devs_.size()) {
      response = abi::deny_errno(EIO);  // not one of ours: never let unfilled zeros through
    } else {
      std::uint64_t start = 0, end = devs_[d].size;
      if (e.has_range) start = e.offset, end = e.offset + e.count;  // parser checked overflow
      // The fill goes through the event's descriptor, which the kernel opened with
      // FMODE_NONOTIFY: writing through it cannot raise an event back at this group.
      const status st = fill(d, start, end, e.fd, buf, fetched);
      bytes_fetched_.fetch_add(fetched, std::memory_order_relaxed);
      if (!st) {
        fill_errors_.fetch_add(1, std::memory_order_relaxed);
        response = abi::deny_errno(EIO);
      }
    }
    (response == abi::allow ? allowed_ : denied_).fetch_add(1, std::memory_order_relaxed);
    return response;
  }

  // Re-reads the cache's journal: what a worker restarted from a copy of this backend (fork)
  // calls to learn the ranges its predecessors filled. A no-op for plain sparse files.
  status reload_filled() {
    if (!store_.journal().is_open()) return {};
    const std::lock_guard<std::mutex> lk(mu_);
    std::vector<interval_set> present;
    for (std::size_t i = 0; i < devs_.size(); ++i) present.emplace_back(opt_.max_intervals);
    EROFSFS_TRY(store_.journal().replay(present));
    for (std::size_t i = 0; i < devs_.size(); ++i) devs_[i].present = std::move(present[i]);
    return {};
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
    s.reused_bytes = reused_bytes_;
    return s;
  }

 private:
  struct device_state {
    source_ref source;
    std::uint64_t size;
    interval_set present;
  };

  // A device's source seen through the cache: ranges the journal lists as filled are read from
  // the sparse file (before the mark exists), the rest from the source.
  struct cached_source {
    source_ref inner;
    int fd;
    const interval_set* present;
    std::uint64_t bytes;
    std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
      std::uint64_t end;
      if (checked_add(off, dst.size(), end) && present->contains(off, end)) {
        if (status st = posix::pread_full(fd, dst, off); !st) return st.error().code;
        return {};
      }
      return inner.read_at(off, dst);
    }
    std::uint64_t size() const noexcept { return bytes; }
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

  // Makes [start, end) of device `di` present: widens it to fill_align (clamped to the device),
  // copies the missing parts from the source with pwrite on `wfd`, and records them. With a
  // cache, the bytes are made durable (fdatasync) before the journal records them; with
  // `deferred`, the ranges are collected there instead and journal_deferred() records them all
  // after one fdatasync per file. `fetched` counts the bytes copied, also when the fill fails
  // part way.
  struct filled_range {
    std::uint32_t device;
    std::uint64_t start, end;
  };
  status fill(std::size_t di, std::uint64_t start, std::uint64_t end, int wfd,
              std::vector<std::byte>& buf, std::uint64_t& fetched,
              std::vector<filled_range>* deferred = nullptr) {
    device_state& d = devs_[di];
    fetched = 0;
    if (start >= d.size) return {};
    end = std::min(end, d.size);
    start = round_down(start, align_);
    std::uint64_t e;
    end = checked_round_up(end, align_, e) ? std::min(e, d.size) : d.size;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
    {
      std::unique_lock<std::mutex> lk(mu_);
      // Bounded: each wait ends when a fill in flight finishes; then either the range is present
      // or the gaps no longer overlap it (a failed fill leaves its gap to this one).
      while (true) {
        gaps.clear();
        d.present.for_each_gap(start, end, [&](std::uint64_t a, std::uint64_t b) {
          gaps.emplace_back(a, b);
        });
        if (gaps.empty()) return {};
        if (!overlaps_in_flight(di, gaps)) break;
        fill_done_.wait(lk);
      }
      for (const auto& [a, b] : gaps) in_flight_.push_back({static_cast<std::uint32_t>(di), a, b});
    }
    const status st = copy_gaps(di, wfd, gaps, buf, fetched, deferred != nullptr);
    const std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [a, b] : gaps)
      for (std::size_t i = 0; i < in_flight_.size(); ++i)
        if (in_flight_[i].device == di && in_flight_[i].start == a && in_flight_[i].end == b) {
          in_flight_[i] = in_flight_.back();
          in_flight_.pop_back();
          break;
        }
    fill_done_.notify_all();
    if (!st) return st;
    fill_journal& j = store_.journal();
    for (const auto& [a, b] : gaps) {
      if (j.is_open()) {
        // Not journaled: the bytes are right, but a restart will fetch them again.
        if (deferred) deferred->push_back({static_cast<std::uint32_t>(di), a, b});
        else (void)j.append(static_cast<std::uint32_t>(di), a, b);
      }
      if (!d.present.insert(a, b)) untracked_.fetch_add(1, std::memory_order_relaxed);
    }
    return {};
  }

  // Whether a fill in flight covers part of `gaps` of device `di` (mu_ held).
  bool overlaps_in_flight(std::size_t di,
                          const std::vector<std::pair<std::uint64_t, std::uint64_t>>& gaps) const {
    for (const filled_range& f : in_flight_)
      if (f.device == di)
        for (const auto& [a, b] : gaps)
          if (f.start < b && a < f.end) return true;
    return false;
  }

  // Copies `gaps` of device `di` from its source into `wfd` and, with a cache and unless
  // `defer_sync`, makes them durable. No lock held: the gaps are this fill's alone.
  status copy_gaps(std::size_t di, int wfd,
                   const std::vector<std::pair<std::uint64_t, std::uint64_t>>& gaps,
                   std::vector<std::byte>& buf, std::uint64_t& fetched, bool defer_sync) {
    device_state& d = devs_[di];
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
    }
    if (store_.journal().is_open() && !defer_sync && ::fdatasync(wfd) != 0)
      return posix::sys_error("fdatasync of the sparse file", errno, di);
    return {};
  }

  // Makes every sparse file durable, then journals `ranges` (the metadata prefetch's fills).
  status journal_deferred(const std::vector<filled_range>& ranges) {
    if (ranges.empty() || !store_.journal().is_open()) return {};
    for (std::size_t i = 0; i < store_.size(); ++i)
      if (::fdatasync(store_.at(i).fd.get()) != 0)
        return posix::sys_error("fdatasync of the sparse file", errno, i);
    for (const filled_range& r : ranges) (void)store_.journal().append(r.device, r.start, r.end);
    return {};
  }

  // The device whose sparse file `fd` is, or devs_.size().
  std::size_t find_device(int fd) const {
    struct stat st;
    if (::fstat(fd, &st) != 0) return devs_.size();
    for (std::size_t i = 0; i < devs_.size(); ++i)
      if (store_.at(i).st_dev == st.st_dev && store_.at(i).st_ino == st.st_ino) return i;
    return devs_.size();
  }

  status answer(const event& e) {
    if (e.fd < 0) return {};  // FAN_Q_OVERFLOW and other fd-less events need no answer
    posix::unique_fd event_fd(e.fd);
    if (!(e.mask & (abi::pre_access | abi::access_perm))) return {};
    return write_response(fan_.get(), e.fd, answer_event(e));
  }

  backend_options opt_;
  std::uint64_t align_ = 4096;
  sparse_store store_;
  std::vector<device_state> devs_;
  std::uint64_t reused_bytes_ = 0;
  posix::unique_fd fan_;
  std::vector<std::byte> buf_;
  // Fills under way (answer_event from several threads): their ranges, and the signal that one
  // ended. mu_ also guards every device's `present` set and the journal's appends.
  std::mutex mu_;
  std::condition_variable fill_done_;
  std::vector<filled_range> in_flight_;
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
