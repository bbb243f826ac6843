// The cachefiles on-demand daemon (L8): turns kernel requests into blob reads.
//
//   OPEN  -> ask the resolver for the blob (volume key, cookie key), keep it with the anon fd,
//            reply "copen <id>,<size>" (or "copen <id>,-errno": the mount or file access fails)
//   READ  -> copy [off, off+len) clipped to the blob size (last page zero-padded) from the blob
//            source into the anon fd through one reusable buffer (posix::copy_source_to_fd), then
//            CACHEFILES_IOC_READ_COMPLETE. Always completed, even when the source fails: the
//            kernel then returns EIO instead of blocking.
//   CLOSE -> close the anon fd, forget the object; never answered.
//
// The daemon does not own a thread: handle_ready() drains pending requests (for the caller's
// poll/epoll loop on fd()), run_once(timeout) waits and drains. One daemon per thread; several
// daemons must not share one device unless each request is handled exactly once (the kernel
// guarantees that for concurrent readers).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "../../base/error.hpp"
#include "../../io/posix.hpp"
#include "../../io/source.hpp"
#include "devnode.hpp"
#include "protocol.hpp"

namespace erofsfs::fscache {

// What the kernel will see as one cache object: a byte source and the size reported in copen.
struct blob {
  source_ref source;
  std::uint64_t size = 0;
  // Keeps `source`'s object alive while the kernel holds the cache object (may be null when
  // the caller guarantees the source outlives the daemon).
  std::shared_ptr<const void> owner;
};

// Moves a source into a blob that owns it.
template <byte_source S>
blob make_blob(S&& src, std::uint64_t size) {
  auto owned = std::make_shared<const std::remove_cvref_t<S>>(std::forward<S>(src));
  blob b;
  b.source = source_ref(*owned);
  b.size = size;
  b.owner = std::move(owned);
  return b;
}
template <sized_source S>
blob make_blob(S&& src) {
  const std::uint64_t size = src.size();
  return make_blob(std::forward<S>(src), size);
}

// (volume key without NUL, cookie key) -> the blob. EROFS uses "erofs,<fsid or domain_id>" as
// the volume key (see erofs_volume_id) and the blob name (fsid=, device=) as the cookie key.
// A not_found error makes the OPEN fail with ENOENT; other errors map through to_errno().
using resolver = std::function<result<blob>(std::string_view volume_key,
                                            std::string_view cookie_key)>;

struct daemon_options {
  // READ copy buffer: allocated once, multiple of 4096 (cache files are written with direct
  // I/O in page units) and page aligned.
  std::size_t buffer_size = std::size_t{1} << 20;
  // Cap on simultaneously open cache objects; further OPENs fail with ENFILE.
  std::size_t max_objects = 65536;
  // handle_ready() returns after this many messages so one busy device cannot starve the
  // caller's other work; level-triggered poll reports the rest at once.
  std::size_t max_messages_per_call = 256;
};

enum class event_kind {
  opened,          // copen with the size sent
  open_failed,     // copen with -errno sent (error says why)
  read_done,       // range copied and completed
  read_failed,     // completed without (all) data; the kernel read gets EIO
  closed,          // object forgotten, fd closed
  bad_message,     // a message failed validation (answered where possible)
  unknown_object,  // READ/CLOSE for an object this daemon does not know
  reply_failed,    // copen or READ_COMPLETE was refused by the kernel
};

inline const char* event_name(event_kind k) noexcept {
  switch (k) {
    case event_kind::opened: return "OPEN";
    case event_kind::open_failed: return "OPEN-FAILED";
    case event_kind::read_done: return "READ";
    case event_kind::read_failed: return "READ-FAILED";
    case event_kind::closed: return "CLOSE";
    case event_kind::bad_message: return "BAD-MESSAGE";
    case event_kind::unknown_object: return "UNKNOWN-OBJECT";
    case event_kind::reply_failed: return "REPLY-FAILED";
  }
  return "?";
}

// Views are valid only during the callback.
struct event {
  event_kind kind = event_kind::bad_message;
  msg_header header;
  std::string_view volume_key;
  std::string_view cookie_key;
  std::uint64_t off = 0;
  std::uint64_t len = 0;   // requested length (READ)
  std::uint64_t size = 0;  // blob size (OPEN) or bytes written (READ)
  int fd = -1;
  erofsfs::error err{};    // set for *_failed, bad_message, reply_failed
};
using event_sink = std::function<void(const event&)>;

struct daemon_stats {
  std::uint64_t opens = 0;
  std::uint64_t open_failures = 0;
  std::uint64_t reads = 0;
  std::uint64_t read_failures = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t closes = 0;
  std::uint64_t bad_messages = 0;
};

template <devnode Dev>
class basic_daemon {
 public:
  // `dev` is borrowed and must outlive the daemon.
  static result<basic_daemon> create(Dev& dev, resolver resolve, daemon_options opt = {},
                                     event_sink sink = {}) noexcept {
    if (!resolve) return make_error(errc::invalid_argument, what::fscache_daemon_needs_a_resolver);
    if (opt.buffer_size == 0 || opt.buffer_size % page_size != 0)
      return make_error(errc::invalid_argument, what::daemon_buffer_size_not_a_multiple_of_4096,
                        {.value = opt.buffer_size});
    if (opt.max_messages_per_call == 0)
      return make_error(errc::invalid_argument, what::max_messages_per_call_is_0);
    void* p = std::aligned_alloc(page_size, opt.buffer_size);
    if (!p)
      return make_error(errc::limit_exceeded, what::cannot_allocate_the_daemon_buffer,
                        {.value = opt.buffer_size});
    return basic_daemon(dev, std::move(resolve), opt, std::move(sink),
                        buffer_ptr(static_cast<std::byte*>(p)));
  }

  basic_daemon(basic_daemon&& o) noexcept
      : dev_(o.dev_), resolve_(std::move(o.resolve_)), opt_(o.opt_), sink_(std::move(o.sink_)),
        buffer_(std::move(o.buffer_)), objects_(std::move(o.objects_)), stats_(o.stats_) {
    o.objects_.clear();
  }
  basic_daemon& operator=(basic_daemon&& o) noexcept {
    if (this != &o) {
      close_all();
      dev_ = o.dev_;
      resolve_ = std::move(o.resolve_);
      opt_ = o.opt_;
      sink_ = std::move(o.sink_);
      buffer_ = std::move(o.buffer_);
      objects_ = std::move(o.objects_);
      o.objects_.clear();
      stats_ = o.stats_;
    }
    return *this;
  }
  basic_daemon(const basic_daemon&) = delete;
  basic_daemon& operator=(const basic_daemon&) = delete;
  // Closing the anon fds turns the kernel objects "closed": a later daemon re-opens them
  // after `restore`.
  ~basic_daemon() { close_all(); }

  int fd() const noexcept { return dev_->fd(); }

  // Drains pending requests (up to max_messages_per_call). Returns how many were handled.
  // Per-request failures are answered and reported through the event sink; only a failing
  // device is an error here.
  result<std::size_t> handle_ready() noexcept {
    std::size_t handled = 0;
    while (handled < opt_.max_messages_per_call) {
      EROFSFS_TRY_ASSIGN(std::size_t n, dev_->read_message(msg_));
      if (n == 0) break;
      handle_message(std::span<const std::byte>(msg_.data(), n));
      ++handled;
    }
    return handled;
  }

  // Waits up to timeout_ms (< 0: forever) for requests, then drains them.
  result<std::size_t> run_once(int timeout_ms) noexcept {
    EROFSFS_TRY_ASSIGN(bool ready, dev_->wait_readable(timeout_ms));
    if (!ready) return std::size_t{0};
    return handle_ready();
  }

  // For a daemon started on an inherited, already bound device after its predecessor died:
  // the kernel re-delivers every unanswered request (and re-OPENs objects as needed).
  status restore() noexcept { return dev_->write_command(restore_command); }

  // One message exactly as read from the device. Public for replaying captured traffic.
  void handle_message(std::span<const std::byte> bytes) noexcept {
    auto m = parse_message(bytes);
    if (!m) {
      answer_malformed(bytes, m.error());
      return;
    }
    switch (m->op) {
      case opcode::open: on_open(*m); break;
      case opcode::read: on_read(*m); break;
      case opcode::close: on_close(*m); break;
    }
  }

  const daemon_stats& stats() const noexcept { return stats_; }
  std::size_t open_objects() const noexcept { return objects_.size(); }

 private:
  static constexpr std::size_t page_size = 4096;
  struct free_deleter {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  using buffer_ptr = std::unique_ptr<std::byte[], free_deleter>;
  struct object {
    int fd = -1;
    blob data;
    std::string name;  // cookie key, for events
  };
  static event make_event(event_kind k, const msg_header& h) noexcept {
    event e;
    e.kind = k;
    e.header = h;
    return e;
  }

  basic_daemon(Dev& dev, resolver resolve, daemon_options opt, event_sink sink,
               buffer_ptr buffer) noexcept
      : dev_(&dev), resolve_(std::move(resolve)), opt_(opt), sink_(std::move(sink)),
        buffer_(std::move(buffer)) {}

  void emit(const event& e) const {
    if (sink_) sink_(e);
  }

  void close_all() noexcept {
    if (!dev_) return;
    for (auto& [id, obj] : objects_) dev_->close_fd(obj.fd);
    objects_.clear();
  }

  void fail_open(const message& m, int err_no, const erofsfs::error& why) {
    ++stats_.open_failures;
    event e = make_event(event_kind::open_failed, m.header);
    e.volume_key = m.open.volume_key;
    e.cookie_key = m.open.cookie_key;
    e.fd = m.open.fd;
    e.err = why;
    // Reply before closing: the kernel fails an OPEN whose fd vanished with EBADFD instead of
    // the errno we chose.
    auto w = dev_->write_command(format_copen_error(m.header.msg_id, err_no).view());
    dev_->close_fd(m.open.fd);
    emit(e);
    if (!w) report_reply_failure(m.header, w.error());
  }

  void on_open(const message& m) {
    if (objects_.size() >= opt_.max_objects) {
      fail_open(m, ENFILE,
                make_error(errc::limit_exceeded, what::too_many_open_cache_objects,
                           {.value = objects_.size()}));
      return;
    }
    if (objects_.count(m.header.object_id) != 0) {
      fail_open(m, EALREADY,
                detail::proto_error("OPEN for an object id that is already open", 12,
                                    m.header.object_id));
      return;
    }
    auto b = resolve_(m.open.volume_key, m.open.cookie_key);
    if (!b) {
      fail_open(m, to_errno(b.error().code), b.error());
      return;
    }
    if (!b->source) {
      fail_open(m, EIO,
                make_error(errc::invalid_argument, what::resolver_returned_an_empty_source));
      return;
    }
    if (b->size > static_cast<std::uint64_t>(INT64_MAX)) {
      fail_open(m, EFBIG,
                make_error(errc::limit_exceeded, what::blob_larger_than_the_kernel_s_copen_size,
                           {.value = b->size}));
      return;
    }
    const std::uint64_t size = b->size;
    objects_.insert_or_assign(m.header.object_id,
                              object{m.open.fd, std::move(*b), std::string(m.open.cookie_key)});
    auto w = dev_->write_command(format_copen(m.header.msg_id, size).view());
    if (!w) {
      // The kernel did not take the object; holding its fd would only leak it.
      objects_.erase(m.header.object_id);
      dev_->close_fd(m.open.fd);
      ++stats_.open_failures;
      report_reply_failure(m.header, w.error());
      return;
    }
    ++stats_.opens;
    event e = make_event(event_kind::opened, m.header);
    e.volume_key = m.open.volume_key;
    e.cookie_key = m.open.cookie_key;
    e.size = size;
    e.fd = m.open.fd;
    emit(e);
  }

  // Copies the clipped range; returns bytes written or the first failure.
  status copy_range(const object& obj, std::uint64_t off, std::uint64_t len,
                    std::uint64_t& written) noexcept {
    written = 0;
    const std::uint64_t size = obj.data.size;
    if (off >= size) return {};
    // The cache file is written with direct I/O in pages: a blob whose size is not a page
    // multiple gets its last page completed with zeros (within the requested range), else
    // that page could never be filled.
    std::uint64_t padded = size;
    if (!checked_round_up(size, page_size, padded)) padded = size;
    const std::uint64_t end = len > padded - off ? padded : off + len;
    const std::uint64_t data_end = end < size ? end : size;
    return posix::copy_source_to_fd(obj.data.source, off, obj.fd, off, end - off,
                                    std::span(buffer_.get(), opt_.buffer_size), written,
                                    end - data_end);
  }

  void on_read(const message& m) {
    auto it = objects_.find(m.header.object_id);
    if (it == objects_.end()) {
      // No fd to complete it with; the kernel re-OPENs closed objects before their READs, so
      // this only happens with a foreign daemon on the same device.
      ++stats_.read_failures;
      event e = make_event(event_kind::unknown_object, m.header);
      e.off = m.read.off;
      e.len = m.read.len;
      e.err = detail::proto_error("READ for an unknown object", 12, m.header.object_id);
      emit(e);
      return;
    }
    const object& obj = it->second;
    std::uint64_t written = 0;
    auto copied = copy_range(obj, m.read.off, m.read.len, written);
    stats_.bytes_written += written;
    auto done = dev_->read_complete(obj.fd, m.header.msg_id);
    event e =
        make_event(copied ? event_kind::read_done : event_kind::read_failed, m.header);
    e.cookie_key = obj.name;
    e.off = m.read.off;
    e.len = m.read.len;
    e.size = written;
    e.fd = obj.fd;
    if (copied) {
      ++stats_.reads;
    } else {
      ++stats_.read_failures;
      e.err = copied.error();
    }
    emit(e);
    if (!done) report_reply_failure(m.header, done.error());
  }

  void on_close(const message& m) {
    auto it = objects_.find(m.header.object_id);
    if (it == objects_.end()) {
      event e = make_event(event_kind::unknown_object, m.header);
      e.err = detail::proto_error("CLOSE for an unknown object", 12, m.header.object_id);
      emit(e);
      return;
    }
    event e = make_event(event_kind::closed, m.header);
    e.fd = it->second.fd;
    dev_->close_fd(it->second.fd);
    objects_.erase(it);
    ++stats_.closes;
    emit(e);
  }

  // A message that failed validation still gets the answer the kernel waits for, when its
  // header says which one: an OPEN is refused (its fd field is not trusted, so not closed),
  // a READ of a known object is completed without data.
  void answer_malformed(std::span<const std::byte> bytes, const erofsfs::error& why) {
    ++stats_.bad_messages;
    event e = make_event(event_kind::bad_message, msg_header{});
    e.err = why;
    auto h = parse_header(bytes);
    if (h) {
      e.header = *h;
      if (h->opcode == static_cast<std::uint32_t>(opcode::open)) {
        auto w = dev_->write_command(format_copen_error(h->msg_id, EPROTO).view());
        emit(e);
        if (!w) report_reply_failure(*h, w.error());
        return;
      }
      if (h->opcode == static_cast<std::uint32_t>(opcode::read)) {
        auto it = objects_.find(h->object_id);
        if (it != objects_.end()) {
          auto done = dev_->read_complete(it->second.fd, h->msg_id);
          emit(e);
          if (!done) report_reply_failure(*h, done.error());
          return;
        }
      }
    }
    emit(e);
  }

  void report_reply_failure(const msg_header& h, const erofsfs::error& why) {
    event e = make_event(event_kind::reply_failed, h);
    e.err = why;
    emit(e);
  }

  Dev* dev_ = nullptr;
  resolver resolve_;
  daemon_options opt_;
  event_sink sink_;
  buffer_ptr buffer_;
  alignas(8) std::array<std::byte, max_msg_size> msg_{};
  std::unordered_map<std::uint32_t, object> objects_;
  daemon_stats stats_;
};

using daemon = basic_daemon<cachefiles_device>;

}  // namespace erofsfs::fscache
