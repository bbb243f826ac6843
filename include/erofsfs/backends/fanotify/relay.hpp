// The holder-to-worker relay (L8): how a fanotify group outlives the process that fills.
//
// Linux answers every pending permission event with FAN_ALLOW when the last descriptor of its
// group closes, and a sparse file's holes then read as zeros. So the group belongs to a small
// holder process that does no I/O of its own and cannot be killed by a bad source or a bug in
// the filling code: it reads the events, keeps each one (its descriptor and its range) until it
// is answered, and forwards it to a worker over a SOCK_SEQPACKET unix socket, the descriptor
// passed with SCM_RIGHTS. The worker fills the range through that descriptor and sends the
// answer back; the holder writes it to the group ({fd, response}, fd being the descriptor's
// number in the holder, which is what the kernel matches) and only then closes the descriptor.
// When the worker dies, the unanswered events stay pending in the holder and are sent again to
// the next worker: a reader waits, then gets the right bytes (or EIO), never zeros.
//
// Messages (native byte order, one per datagram):
//   event  (holder -> worker, with one descriptor): u32 kind=1 | s32 id | u64 mask |
//          u64 offset | u64 count | u32 has_range | u32 pid                        (40 bytes)
//   answer (worker -> holder): u32 kind=2 | s32 id | u32 response | u32 zero        (16 bytes)
// Either side treats any other datagram as a protocol error.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "../../base/error.hpp"
#include "../../io/posix.hpp"
#include "backend.hpp"
#include "event.hpp"

namespace erofsfs::fanotify {

namespace relay {

inline constexpr std::uint32_t event_kind = 1;
inline constexpr std::uint32_t answer_kind = 2;
inline constexpr std::size_t event_size = 40;
inline constexpr std::size_t answer_size = 16;

inline void encode_event(std::int32_t id, const event& e, std::byte* out) noexcept {
  const std::uint32_t kind = event_kind, has_range = e.has_range ? 1 : 0;
  std::memcpy(out, &kind, 4);
  std::memcpy(out + 4, &id, 4);
  std::memcpy(out + 8, &e.mask, 8);
  std::memcpy(out + 16, &e.offset, 8);
  std::memcpy(out + 24, &e.count, 8);
  std::memcpy(out + 32, &has_range, 4);
  std::memcpy(out + 36, &e.pid, 4);
}

// The event of a datagram (its fd left at no_fd) and the holder's id for it.
inline result<event> decode_event(std::span<const std::byte> msg, std::int32_t& id) {
  if (msg.size() != event_size) return make_error(errc::protocol_error, what::relay_message_has_the_wrong_size, {.value = msg.size()});
  std::uint32_t kind, has_range;
  event e;
  std::memcpy(&kind, msg.data(), 4);
  std::memcpy(&id, msg.data() + 4, 4);
  std::memcpy(&e.mask, msg.data() + 8, 8);
  std::memcpy(&e.offset, msg.data() + 16, 8);
  std::memcpy(&e.count, msg.data() + 24, 8);
  std::memcpy(&has_range, msg.data() + 32, 4);
  std::memcpy(&e.pid, msg.data() + 36, 4);
  std::uint64_t end;
  if (kind != event_kind || has_range > 1 || id < 0 || !checked_add(e.offset, e.count, end))
    return make_error(errc::protocol_error, what::relay_event_is_malformed, {.value = kind});
  e.has_range = has_range == 1;
  return e;
}

inline void encode_answer(std::int32_t id, std::uint32_t response, std::byte* out) noexcept {
  const std::uint32_t kind = answer_kind, zero = 0;
  std::memcpy(out, &kind, 4);
  std::memcpy(out + 4, &id, 4);
  std::memcpy(out + 8, &response, 4);
  std::memcpy(out + 12, &zero, 4);
}

// A response the holder passes on: FAN_ALLOW, or FAN_DENY with or without an errno.
inline bool valid_response(std::uint32_t r) noexcept {
  return r == abi::allow || (r & ~(abi::errno_mask << abi::errno_shift)) == abi::deny;
}

inline result<std::uint32_t> decode_answer(std::span<const std::byte> msg, std::int32_t& id) {
  if (msg.size() != answer_size) return make_error(errc::protocol_error, what::relay_message_has_the_wrong_size, {.value = msg.size()});
  std::uint32_t kind, response, zero;
  std::memcpy(&kind, msg.data(), 4);
  std::memcpy(&id, msg.data() + 4, 4);
  std::memcpy(&response, msg.data() + 8, 4);
  std::memcpy(&zero, msg.data() + 12, 4);
  if (kind != answer_kind || zero != 0 || !valid_response(response))
    return make_error(errc::protocol_error, what::relay_answer_is_malformed, {.value = kind});
  return response;
}

}  // namespace relay

// The holder's side: owns the group, keeps every unanswered event, relays to one worker.
class holder {
 public:
  struct options {
    std::size_t max_pending = 4096;  // past it, new events are denied with EIO at once
    // With no worker for this long, pending and new events are denied with EIO (0: wait for a
    // worker forever). Readers then fail instead of hanging on a daemon that is not coming back.
    int orphan_timeout_ms = 30000;
  };

  holder(posix::unique_fd group, const options& opt) : group_(std::move(group)), opt_(opt) {
    no_worker_since_ = now_ms();
  }
  holder(const holder&) = delete;
  holder& operator=(const holder&) = delete;

  int group_fd() const noexcept { return group_.get(); }
  bool has_worker() const noexcept { return static_cast<bool>(worker_); }
  std::size_t pending() const noexcept { return pending_.size(); }
  std::uint64_t resent() const noexcept { return resent_; }

  // A new worker (one end of a SOCK_SEQPACKET socketpair): every unanswered event goes to it.
  void attach(posix::unique_fd sock) {
    worker_ = std::move(sock);
    for (auto& [id, p] : pending_) {
      if (p.sent) ++resent_;
      p.sent = false;
    }
    unsent_ = pending_.size();
    flush();
  }

  // Forgets the worker (it died, or misbehaved); its unanswered events wait for the next one.
  void detach() {
    if (!worker_) return;
    worker_.reset();
    no_worker_since_ = now_ms();
  }

  // Polls the group, the worker and `extra` (the caller's descriptors; their revents are set)
  // for up to timeout_ms, then handles what is ready. An error is fatal for the group.
  status run_once(int timeout_ms, std::span<pollfd> extra = {}) {
    std::vector<pollfd> p;
    p.push_back({group_.get(), POLLIN, 0});
    p.push_back({worker_ ? worker_.get() : -1,
                 static_cast<short>(POLLIN | (unsent_ ? POLLOUT : 0)), 0});
    for (const pollfd& x : extra) p.push_back(x);
    const int r = ::poll(p.data(), p.size(), timeout_ms);
    if (r < 0 && errno != EINTR) return posix::sys_error("poll in the fanotify holder", errno);
    for (std::size_t i = 0; i < extra.size(); ++i) extra[i].revents = r > 0 ? p[i + 2].revents : 0;
    if (r > 0 && (p[0].revents & POLLIN)) EROFSFS_TRY(read_events());
    if (r > 0 && worker_ && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) read_answers();
    flush();
    expire_orphans();
    return {};
  }

  // Answers every pending event with FAN_DENY/EIO (a stop that cannot wait any longer).
  void deny_all() {
    for (auto& [id, p] : pending_) (void)write_response(group_.get(), id, abi::deny_errno(EIO));
    pending_.clear();
    unsent_ = 0;
  }

 private:
  struct pending_event {
    posix::unique_fd fd;
    event e;
    bool sent = false;
  };

  static std::int64_t now_ms() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }

  status read_events() {
    alignas(8) std::byte buf[16384];
    for (int n = 0; n < 64; ++n) {  // bounded: at most 64 reads per call
      const ssize_t got = ::read(group_.get(), buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return {};
        return posix::sys_error("reading fanotify events", errno);
      }
      if (got == 0) return {};
      event_reader rd(bytes_view(buf, static_cast<std::size_t>(got)));
      event e;
      while (true) {  // bounded: the reader advances through a finite buffer
        EROFSFS_TRY_ASSIGN(const bool more, rd.next(e));
        if (!more) break;
        if (e.fd < 0) continue;  // FAN_Q_OVERFLOW and other fd-less events need no answer
        posix::unique_fd fd(e.fd);
        if (!(e.mask & (abi::pre_access | abi::access_perm))) continue;
        if (pending_.size() >= opt_.max_pending || orphaned()) {
          (void)write_response(group_.get(), e.fd, abi::deny_errno(EIO));
          continue;
        }
        // The id is the descriptor's number here: unique while the descriptor stays open,
        // which it does until the answer is written.
        const std::int32_t id = e.fd;
        pending_[id] = pending_event{std::move(fd), e, false};
        ++unsent_;
      }
    }
    return {};
  }

  void flush() {
    if (!worker_ || unsent_ == 0) return;
    for (auto& [id, p] : pending_) {  // bounded: pending_ is capped
      if (p.sent) continue;
      std::byte msg[relay::event_size];
      relay::encode_event(id, p.e, msg);
      const ssize_t w = posix::send_with_fd(worker_.get(), msg, p.fd.get(), MSG_DONTWAIT);
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // POLLOUT resumes
      if (w != static_cast<ssize_t>(sizeof msg)) {
        detach();
        return;
      }
      p.sent = true;
      --unsent_;
    }
  }

  void read_answers() {
    for (int n = 0; n < 256; ++n) {  // bounded: at most 256 answers per call
      std::byte msg[relay::answer_size + 1];
      ssize_t got;
      do got = ::recv(worker_.get(), msg, sizeof msg, MSG_DONTWAIT);
      while (got < 0 && errno == EINTR);  // bounded: repeats only on signals
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (got <= 0) {  // the worker is gone
        detach();
        return;
      }
      std::int32_t id;
      auto r = relay::decode_answer(std::span(msg, static_cast<std::size_t>(got)), id);
      auto it = r ? pending_.find(id) : pending_.end();
      if (it == pending_.end() || !it->second.sent) {  // a worker that lies is dropped
        detach();
        return;
      }
      (void)write_response(group_.get(), id, *r);
      pending_.erase(it);  // closes the descriptor only now: the id stays unique until here
    }
  }

  bool orphaned() const noexcept {
    return !worker_ && opt_.orphan_timeout_ms > 0 &&
           now_ms() - no_worker_since_ >= opt_.orphan_timeout_ms;
  }

  void expire_orphans() {
    if (orphaned() && !pending_.empty()) deny_all();
  }

  posix::unique_fd group_;
  options opt_;
  posix::unique_fd worker_;
  std::map<std::int32_t, pending_event> pending_;
  std::size_t unsent_ = 0;
  std::uint64_t resent_ = 0;
  std::int64_t no_worker_since_ = 0;
};

// The worker's side: answers relayed events with `be` until the holder closes the socket
// (success) or a protocol error. Single-threaded, one event at a time.
using fill_observer = std::function<void(const event&, std::uint64_t)>;

namespace detail {

// One relayed event: the holder's id for it and the descriptor that came with it.
struct relayed_event {
  std::int32_t id = 0;
  event e;
  posix::unique_fd fd;
};

// Receives one event; false with an empty status when the holder closed the socket.
inline result<bool> receive_relayed(int sock, relayed_event& out) {
  std::byte msg[relay::event_size + 1];
  // Every descriptor that arrived is owned (and closed) by `in`, whatever else is wrong.
  EROFSFS_TRY_ASSIGN(auto in, posix::recv_with_fds(sock, msg));
  std::vector<posix::unique_fd>& fds = in.fds;
  const std::size_t got = in.bytes;
  if (got == 0) return false;  // the holder closed the socket
  if (in.truncated || fds.size() != 1)
    return make_error(errc::protocol_error, what::relay_event_is_malformed, {.value = fds.size()});
  EROFSFS_TRY_ASSIGN(out.e, relay::decode_event(std::span(msg, got), out.id));
  out.fd = std::move(fds[0]);
  out.e.fd = out.fd.get();
  return true;
}

// Fills what `r` asks for and sends the answer; false (and no error) when the holder is gone.
inline result<bool> answer_relayed(backend& be, int sock, const relayed_event& r,
                                   std::vector<std::byte>& buf, const fill_observer& on_fill) {
  std::uint64_t fetched = 0;
  const std::uint32_t response = be.answer_event(r.e, buf, fetched);
  if (on_fill && fetched) on_fill(r.e, fetched);
  std::byte out[relay::answer_size];
  relay::encode_answer(r.id, response, out);
  ssize_t w;
  do w = ::send(sock, out, sizeof out, MSG_NOSIGNAL);  // one datagram: atomic between threads
  while (w < 0 && errno == EINTR);  // bounded: repeats only on signals
  if (w < 0 && errno == EPIPE) return false;  // the holder is gone
  if (w != static_cast<ssize_t>(sizeof out))
    return posix::sys_error("sending a relayed answer", w < 0 ? errno : EIO);
  return true;
}

}  // namespace detail

// The worker's loop: answers the events the holder relays on `sock` until the holder closes it.
// With fill_threads > 1, that many threads answer them, in parallel and in any order (the
// backend merges fills of overlapping ranges); the receiving thread waits while
// 4 * fill_threads events are queued, and the holder keeps the rest. `on_fill`, when given, is
// told of every event whose answer copied bytes from a source (before the answer is sent), with
// the bytes copied: what a daemon logs to show the order of its fills.
inline status serve_relayed(backend& be, int sock, const fill_observer& on_fill = {},
                            unsigned fill_threads = 1) {
  if (fill_threads <= 1) {
    std::vector<std::byte> buf;
    while (true) {  // bounded by the holder: ends when it closes the socket
      detail::relayed_event r;
      EROFSFS_TRY_ASSIGN(const bool more, detail::receive_relayed(sock, r));
      if (!more) return {};
      EROFSFS_TRY_ASSIGN(const bool sent, detail::answer_relayed(be, sock, r, buf, on_fill));
      if (!sent) return {};
    }
  }
  std::mutex m;
  std::condition_variable queued, room;
  std::deque<detail::relayed_event> queue;
  bool closed = false;
  status failure;  // the first error of an answering thread
  const std::size_t max_queued = std::size_t{4} * fill_threads;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < fill_threads; ++t)
    pool.emplace_back([&] {
      std::vector<std::byte> buf;
      while (true) {  // bounded: ends once the queue is closed and empty
        detail::relayed_event r;
        {
          std::unique_lock<std::mutex> lk(m);
          queued.wait(lk, [&] { return closed || !queue.empty(); });
          if (queue.empty()) return;
          r = std::move(queue.front());
          queue.pop_front();
          room.notify_one();
        }
        result<bool> sent = detail::answer_relayed(be, sock, r, buf, on_fill);
        if (!sent || !*sent) {
          const std::lock_guard<std::mutex> lk(m);
          if (!sent && failure) failure = sent.error();
          // The holder is gone or the socket failed: what is left cannot be answered here (the
          // holder keeps and resends it), so stop; the receiving thread sees the socket end.
          ::shutdown(sock, SHUT_RDWR);
          return;
        }
      }
    });
  status received;
  while (true) {  // bounded by the holder: ends when it closes the socket
    detail::relayed_event r;
    result<bool> more = detail::receive_relayed(sock, r);
    if (!more) {
      received = more.error();
      break;
    }
    if (!*more) break;
    std::unique_lock<std::mutex> lk(m);
    room.wait(lk, [&] { return queue.size() < max_queued; });
    queue.push_back(std::move(r));
    queued.notify_one();
  }
  {
    const std::lock_guard<std::mutex> lk(m);
    closed = true;
    queued.notify_all();
  }
  for (std::thread& t : pool) t.join();
  if (!received) return received;
  return failure;
}

}  // namespace erofsfs::fanotify
