// A fake cachefiles kernel for tests and benchmarks: satisfies erofsfs::fscache::devnode.
// It queues OPEN/READ/CLOSE messages, hands out memfd anon fds (it keeps its own dup to check
// what the daemon wrote), checks copen and READ_COMPLETE replies the way a mid-2024+ kernel
// does (only requests that were read, READ completions only on the object's own fd), and
// models restore: in-flight requests become unread again and READs of objects whose fds the
// daemon closed are preceded by a fresh OPEN with a new object id.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <erofsfs/backends/fscache/devnode.hpp>
#include <erofsfs/backends/fscache/protocol.hpp>

namespace erofsfs::test {

class fake_cachefiles {
 public:
  struct object {
    std::string volume_key;
    std::string cookie_key;
    int kernel_fd = -1;              // the fake's own view of the cache file
    int daemon_fd = -1;              // what the OPEN message carried
    bool daemon_fd_open = false;
    std::optional<std::int64_t> copen_size;  // reply to the latest OPEN
  };
  struct completion {
    std::uint32_t msg_id;
    std::uint32_t object_id;
  };

  fake_cachefiles() = default;
  fake_cachefiles(const fake_cachefiles&) = delete;
  fake_cachefiles& operator=(const fake_cachefiles&) = delete;
  ~fake_cachefiles() {
    for (auto& [id, o] : objects_) {
      if (o.kernel_fd >= 0) ::close(o.kernel_fd);
      if (o.daemon_fd_open) ::close(o.daemon_fd);
    }
  }

  // --- kernel side: enqueue requests ---

  // Returns the new object id.
  std::uint32_t queue_open(std::string_view volume_key, std::string_view cookie_key) {
    const std::uint32_t oid = next_object_++;
    // The keys are constructed, not assigned into empty strings from the views: with the
    // caller's short literal inlined, g++ 12 -O2 reports a bogus -Wrestrict overlap inside
    // basic_string::_M_replace (GCC PR 105329).
    object o;
    o.volume_key = std::string(volume_key);
    o.cookie_key = std::string(cookie_key);
    o.kernel_fd = ::memfd_create("fake-cachefile", MFD_CLOEXEC);
    objects_[oid] = std::move(o);
    pending_.push_back(request{next_msg_++, fscache::opcode::open, oid, 0, 0, {}});
    return oid;
  }
  std::uint32_t queue_read(std::uint32_t object_id, std::uint64_t off, std::uint64_t len) {
    const std::uint32_t id = next_msg_++;
    pending_.push_back(request{id, fscache::opcode::read, object_id, off, len, {}});
    return id;
  }
  void queue_close(std::uint32_t object_id) {
    pending_.push_back(request{next_msg_++, fscache::opcode::close, object_id, 0, 0, {}});
  }
  // Arbitrary bytes delivered as one message (malformed input).
  void queue_raw(std::vector<std::byte> bytes) {
    pending_.push_back(request{0, fscache::opcode::close, 0, 0, 0, std::move(bytes)});
  }

  // --- what the daemon did ---

  const std::vector<std::string>& commands() const { return commands_; }
  const std::vector<completion>& completions() const { return completions_; }
  const object& obj(std::uint32_t object_id) const { return objects_.at(object_id); }
  bool has_object(std::uint32_t object_id) const { return objects_.count(object_id) != 0; }
  std::size_t pending() const { return pending_.size(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  int restores() const { return restores_; }
  // The cache file's bytes [off, off+len) (zeros where nothing was written).
  std::vector<std::byte> cache_bytes(std::uint32_t object_id, std::uint64_t off,
                                     std::size_t len) const {
    std::vector<std::byte> out(len);
    ssize_t n = ::pread(objects_.at(object_id).kernel_fd, out.data(), len,
                        static_cast<off_t>(off));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
  }
  // Everything read by the daemon since the last call (the raw messages, for checks).
  std::vector<std::vector<std::byte>> take_delivered() { return std::exchange(delivered_, {}); }
  void record_delivered(bool on) { record_ = on; }

  // --- devnode ---

  result<std::size_t> read_message(std::span<std::byte> buf) noexcept {
    if (pending_.empty()) return std::size_t{0};
    request r = pending_.front();
    if (r.op == fscache::opcode::read && r.raw.empty()) {
      auto it = objects_.find(r.object_id);
      if (it != objects_.end() && !it->second.daemon_fd_open && it->second.copen_size) {
        // The object was closed by a dead daemon: re-OPEN it under a new id first, then
        // deliver the READ against that id (kernel 6.8+ behaviour after restore).
        const std::uint32_t oid = next_object_++;
        object o;
        o.volume_key = it->second.volume_key;
        o.cookie_key = it->second.cookie_key;
        o.kernel_fd = ::dup(it->second.kernel_fd);
        objects_[oid] = o;
        pending_.front().object_id = oid;
        pending_.push_front(request{next_msg_++, fscache::opcode::open, oid, 0, 0, {}});
        r = pending_.front();
      }
    }
    std::size_t n = 0;
    if (!r.raw.empty()) {
      if (r.raw.size() > buf.size()) return erofsfs::make_error(std::error_code(EMSGSIZE, std::system_category()), "fake read");
      std::memcpy(buf.data(), r.raw.data(), r.raw.size());
      n = r.raw.size();
    } else if (r.op == fscache::opcode::open) {
      object& o = objects_.at(r.object_id);
      o.daemon_fd = ::dup(o.kernel_fd);
      o.daemon_fd_open = true;
      auto m = fscache::encode_open(buf, r.msg_id, r.object_id, o.volume_key, o.cookie_key,
                                    o.daemon_fd);
      if (!m) return m.error();
      n = *m;
    } else if (r.op == fscache::opcode::read) {
      auto m = fscache::encode_read(buf, r.msg_id, r.object_id, r.off, r.len);
      if (!m) return m.error();
      n = *m;
    } else {
      auto m = fscache::encode_close(buf, r.msg_id, r.object_id);
      if (!m) return m.error();
      n = *m;
    }
    pending_.pop_front();
    // CLOSE is complete once read; OPEN waits for copen, READ for READ_COMPLETE.
    if (r.raw.empty() && r.op != fscache::opcode::close) in_flight_[r.msg_id] = r;
    if (record_) delivered_.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }

  status write_command(std::string_view cmd) noexcept {
    commands_.emplace_back(cmd);
    if (cmd == fscache::restore_command) {
      ++restores_;
      // Every in-flight request becomes unread again, in id order, ahead of new ones.
      for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it)
        pending_.push_front(it->second);
      in_flight_.clear();
      return {};
    }
    unsigned long id = 0;
    long long size = 0;
    if (std::sscanf(std::string(cmd).c_str(), "copen %lu,%lld", &id, &size) == 2) {
      auto it = in_flight_.find(static_cast<std::uint32_t>(id));
      if (it == in_flight_.end() || it->second.op != fscache::opcode::open)
        return einval("copen for a request that is not a read OPEN");
      objects_.at(it->second.object_id).copen_size = size;
      in_flight_.erase(it);
      return {};
    }
    return einval("unknown command");
  }

  status read_complete(int fd, std::uint32_t msg_id) noexcept {
    auto it = in_flight_.find(msg_id);
    if (it == in_flight_.end() || it->second.op != fscache::opcode::read)
      return einval("READ_COMPLETE for a request that is not a read READ");
    auto o = objects_.find(it->second.object_id);
    if (o == objects_.end() || !o->second.daemon_fd_open || o->second.daemon_fd != fd)
      return einval("READ_COMPLETE on an fd of another object");
    completions_.push_back({msg_id, it->second.object_id});
    in_flight_.erase(it);
    return {};
  }

  void close_fd(int fd) noexcept {
    for (auto& [id, o] : objects_)
      if (o.daemon_fd_open && o.daemon_fd == fd) o.daemon_fd_open = false;
    ::close(fd);
  }

  result<bool> wait_readable(int) noexcept { return !pending_.empty(); }
  int fd() const noexcept { return -1; }

 private:
  struct request {
    std::uint32_t msg_id;
    fscache::opcode op;
    std::uint32_t object_id;
    std::uint64_t off;
    std::uint64_t len;
    std::vector<std::byte> raw;
  };
  static erofsfs::error einval(const char* what) noexcept {
    return erofsfs::make_error(std::error_code(EINVAL, std::system_category()), what);
  }

  std::map<std::uint32_t, object> objects_;
  std::deque<request> pending_;
  std::map<std::uint32_t, request> in_flight_;
  std::vector<std::string> commands_;
  std::vector<completion> completions_;
  std::vector<std::vector<std::byte>> delivered_;
  bool record_ = false;
  std::uint32_t next_msg_ = 1;
  std::uint32_t next_object_ = 1;
  int restores_ = 0;
};

static_assert(fscache::devnode<fake_cachefiles>);

}  // namespace erofsfs::test
