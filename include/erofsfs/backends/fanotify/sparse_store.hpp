// Where the fanotify backend keeps an image's bytes (L8): one sparse file per device, owned by
// exactly one daemon, either
//
//   - a persistent cache directory ROOT/<id>/ (id: the image's identity, e.g. the sha256 of the
//     image file, or a name the user gives), holding
//        lock             locked (F_OFD_SETLK) by the owning daemon, which writes its pid in it
//        devices          "erofsfs fanotify cache 1" and one size per device (written once,
//                         atomically, before any range is recorded)
//        device-<i>.sparse  the sparse file of device i (0 is the image)
//        filled.journal   which ranges of them hold the image's bytes durably (fill_journal.hpp)
//     so a restarted daemon reuses every range filled before; or
//   - sparse files named by the caller, each one locked the same way, with no journal (a
//     restart fetches everything again).
//
// Nothing is opened with O_TRUNC and nothing is resized or written before the lock is held: a
// second daemon on the same files is refused and leaves the first one's files alone.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../base/error.hpp"
#include "../../io/posix.hpp"
#include "fill_journal.hpp"
#include "intervals.hpp"

namespace erofsfs::fanotify {

inline constexpr char cache_devices_header[] = "erofsfs fanotify cache 1";
inline constexpr std::size_t max_cache_id_length = 128;
inline constexpr std::size_t max_cache_devices = 256;

// An id names a directory: letters, digits, '.', '_', '-', not starting with '.'.
inline bool valid_cache_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_cache_id_length || id[0] == '.') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

namespace detail {

inline std::string cache_path(const std::string& root, const std::string& id,
                              const char* name) {
  return root + "/" + id + "/" + name;
}
inline std::string device_file_name(std::size_t i) {
  return "device-" + std::to_string(i) + ".sparse";
}

// The whole of a small file (at most `cap` bytes); nullopt when it does not exist.
inline result<std::optional<std::string>> read_small_file(const std::string& path,
                                                          std::size_t cap) {
  posix::unique_fd fd = posix::open_retry(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return posix::sys_error("opening a cache file", errno);
  }
  std::string s(cap + 1, '\0');
  std::size_t got = 0;
  while (got < s.size()) {  // bounded: at most cap + 1 bytes
    const ssize_t n = ::read(fd.get(), s.data() + got, s.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return posix::sys_error("reading a cache file", errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > cap) return make_error(errc::limit_exceeded, what::cache_file_too_large, {.value = got});
  s.resize(got);
  return std::optional<std::string>(std::move(s));
}

// Parses the `devices` file: the header line, then one decimal size per line.
inline result<std::vector<std::uint64_t>> parse_devices_file(std::string_view s) {
  const std::string_view header = cache_devices_header;
  if (s.substr(0, header.size()) != header || s.size() == header.size() ||
      s[header.size()] != '\n')
    return make_error(errc::corrupted, what::cache_devices_file_is_malformed);
  s.remove_prefix(header.size() + 1);
  std::vector<std::uint64_t> sizes;
  while (!s.empty()) {  // bounded: each pass consumes one line of a capped file
    const std::size_t nl = s.find('\n');
    if (nl == std::string_view::npos || sizes.size() == max_cache_devices)
      return make_error(errc::corrupted, what::cache_devices_file_is_malformed);
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + nl, v);
    if (ec != std::errc{} || p != s.data() + nl || nl == 0 || v == 0)
      return make_error(errc::corrupted, what::cache_devices_file_is_malformed);
    sizes.push_back(v);
    s.remove_prefix(nl + 1);
  }
  if (sizes.empty()) return make_error(errc::corrupted, what::cache_devices_file_is_malformed);
  return sizes;
}

// The pid written into a lock file, or 0.
inline std::uint64_t lock_owner(int fd) {
  char b[32] = {};
  const ssize_t n = ::pread(fd, b, sizeof b - 1, 0);
  std::uint64_t pid = 0;
  if (n > 0) std::from_chars(b, b + n, pid);
  return pid;
}

// Takes an exclusive lock on all of `fd` without waiting: an open-file-description lock
// (F_OFD_SETLK), which a forked worker shares with its holder and which another process can
// probe without taking it (lock_held_elsewhere). EBUSY (with the owner's pid as the value, when
// it wrote one) when another daemon holds it.
inline status lock_exclusive(int fd, const char* refused) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  while (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {  // bounded: repeats only on signals
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES)
      return make_error(std::error_code(EBUSY, std::system_category()), refused,
                        {.value = lock_owner(fd)});
    return posix::sys_error("locking the cache", errno);
  }
  return {};
}

// Whether some daemon holds the lock on `fd`'s file (asked without taking it, so a daemon
// starting meanwhile is never refused because of the question).
inline bool lock_held_elsewhere(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

inline status write_pid(int fd) {
  char b[32];
  const auto [p, ec] = std::to_chars(b, b + sizeof b - 1, static_cast<std::uint64_t>(::getpid()));
  (void)ec;
  *p = '\n';
  const std::size_t n = static_cast<std::size_t>(p + 1 - b);
  if (::ftruncate(fd, 0) != 0) return posix::sys_error("writing the lock file", errno);
  return posix::pwrite_full(fd, std::as_bytes(std::span(b, n)), 0);
}

inline status fsync_dir(const std::string& dir) {
  posix::unique_fd d = posix::open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!d || ::fsync(d.get()) != 0) return posix::sys_error("fsync of the cache directory", errno);
  return {};
}

}  // namespace detail

class sparse_store {
 public:
  struct file {
    std::string path;
    posix::unique_fd fd;
    dev_t st_dev = 0;
    ino_t st_ino = 0;
  };

  // Opens (creating) the cache ROOT/<id>/ for `devices` devices and locks it. Fails with EBUSY
  // (what::cache_is_locked_by_another_daemon, value: its pid) while another daemon owns it.
  static result<sparse_store> open_cache(const std::string& root, const std::string& id,
                                         std::size_t devices) {
    if (root.empty() || root.find('\0') != std::string::npos)
      return make_error(errc::invalid_argument, what::cache_directory_empty_or_has_nul_newline);
    if (!valid_cache_id(id)) return make_error(errc::invalid_argument, what::cache_id_is_not_valid);
    if (devices == 0 || devices > max_cache_devices)
      return make_error(errc::invalid_argument, what::too_many_devices_for_a_cache,
                        {.value = devices});
    sparse_store s;
    s.dir_ = root + "/" + id;
    for (const std::string& d : {root, s.dir_})
      if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
        return posix::sys_error("creating the cache directory", errno);
    s.lock_ = posix::open_retry(detail::cache_path(root, id, "lock").c_str(),
                                O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (!s.lock_) return posix::sys_error("opening the cache lock", errno);
    EROFSFS_TRY(detail::lock_exclusive(s.lock_.get(), what::cache_is_locked_by_another_daemon));
    EROFSFS_TRY(detail::write_pid(s.lock_.get()));
    // Locked: from here on these files are this daemon's.
    EROFSFS_TRY_ASSIGN(auto text, detail::read_small_file(s.dir_ + "/devices", 64 * 1024));
    if (text) {
      EROFSFS_TRY_ASSIGN(s.recorded_, detail::parse_devices_file(*text));
    }
    if (!s.recorded_.empty() && s.recorded_.size() != devices)
      return make_error(errc::invalid_argument, what::cache_holds_a_different_image,
                        {.value = s.recorded_.size()});
    for (std::size_t i = 0; i < devices; ++i)
      EROFSFS_TRY(s.add_file(s.dir_ + "/" + detail::device_file_name(i), false));
    s.persistent_ = true;
    return s;
  }

  // Opens (creating, never truncating) the caller's sparse files and locks each one. Fails
  // with EBUSY (what::sparse_file_is_locked_by_another_daemon) while another daemon uses one.
  static result<sparse_store> open_files(std::span<const std::string> paths) {
    sparse_store s;
    for (const std::string& p : paths) EROFSFS_TRY(s.add_file(p, true));
    return s;
  }

  bool persistent() const noexcept { return persistent_; }
  const std::string& dir() const noexcept { return dir_; }
  std::size_t size() const noexcept { return files_.size(); }
  const file& at(std::size_t i) const noexcept { return files_[i]; }
  // The device sizes a previous daemon recorded in the cache (empty: a new cache, or plain
  // sparse files). Ranges the journal lists are only meaningful for these sizes.
  std::span<const std::uint64_t> recorded_sizes() const noexcept { return recorded_; }

  // Sizes every file (ftruncate; a no-op when it already has the size) and, for a cache,
  // records the sizes on first use and replays the journal into `present`. A cache made for
  // other sizes is refused (what::cache_holds_a_different_image).
  status prepare(std::span<const std::uint64_t> sizes, std::span<interval_set> present) {
    if (sizes.size() != files_.size() || present.size() != files_.size())
      return make_error(errc::internal, what::journal_device_count_differs_from_the_cache);
    if (!recorded_.empty() && !std::equal(sizes.begin(), sizes.end(), recorded_.begin(),
                                          recorded_.end()))
      return make_error(errc::invalid_argument, what::cache_holds_a_different_image);
    const bool fresh = persistent_ && recorded_.empty();
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (!posix::in_off_t_range(0, sizes[i]))
        return posix::sys_error("sizing the sparse file", EFBIG, sizes[i]);
      // A new cache starts empty: whatever a crashed first run left is not trusted.
      if (fresh && ::ftruncate(files_[i].fd.get(), 0) != 0)
        return posix::sys_error("sizing the sparse file", errno, sizes[i]);
      if (::ftruncate(files_[i].fd.get(), static_cast<off_t>(sizes[i])) != 0)
        return posix::sys_error("sizing the sparse file", errno, sizes[i]);
    }
    if (!persistent_) return {};
    const std::string journal_path = dir_ + "/filled.journal";
    if (fresh) {
      // The sizes go first; a journal is only ever read together with them.
      if (::unlink(journal_path.c_str()) != 0 && errno != ENOENT)
        return posix::sys_error("removing a stale fill journal", errno);
      std::string text = std::string(cache_devices_header) + "\n";
      for (std::uint64_t v : sizes) text += std::to_string(v) + "\n";
      const std::string tmp = dir_ + "/devices.tmp";
      posix::unique_fd t =
          posix::open_retry(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (!t) return posix::sys_error("writing the cache's devices file", errno);
      EROFSFS_TRY(posix::pwrite_full(t.get(), std::as_bytes(std::span(text)), 0));
      if (::fdatasync(t.get()) != 0 || ::rename(tmp.c_str(), (dir_ + "/devices").c_str()) != 0)
        return posix::sys_error("writing the cache's devices file", errno);
      EROFSFS_TRY(detail::fsync_dir(dir_));
      recorded_.assign(sizes.begin(), sizes.end());
    }
    EROFSFS_TRY_ASSIGN(journal_, fill_journal::open(journal_path, sizes, present));
    return {};
  }

  fill_journal& journal() noexcept { return journal_; }

 private:
  status add_file(const std::string& path, bool lock_it) {
    file f;
    f.path = path;
    f.fd = posix::open_retry(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (!f.fd) return posix::sys_error("opening the sparse file", errno, files_.size());
    struct stat st;
    if (::fstat(f.fd.get(), &st) != 0) return posix::sys_error("fstat of the sparse file", errno);
    if (!S_ISREG(st.st_mode))
      return make_error(errc::invalid_argument, what::sparse_file_is_not_a_regular_file,
                        {.value = files_.size()});
    f.st_dev = st.st_dev;
    f.st_ino = st.st_ino;
    for (const file& o : files_)  // events are routed by inode: one file per device
      if (o.st_dev == f.st_dev && o.st_ino == f.st_ino)
        return make_error(errc::invalid_argument, what::two_devices_share_one_sparse_file,
                          {.value = files_.size()});
    if (lock_it)
      EROFSFS_TRY(detail::lock_exclusive(f.fd.get(), what::sparse_file_is_locked_by_another_daemon));
    files_.push_back(std::move(f));
    return {};
  }

  std::string dir_;
  bool persistent_ = false;
  posix::unique_fd lock_;
  std::vector<std::uint64_t> recorded_;
  std::vector<file> files_;
  fill_journal journal_;
};

// ---- the cache directory seen from outside (erofsfs cache ls / rm) ------------------------

struct cache_info {
  std::string id;
  std::vector<std::uint64_t> device_sizes;   // empty: never finished its first start
  std::vector<std::uint64_t> filled_bytes;   // per device, from the journal
  bool in_use = false;                       // a daemon holds the lock
  std::uint64_t owner_pid = 0;               // what the lock file says (when in use)
};

// One cache's state, read without taking its lock and without changing any file.
inline result<cache_info> inspect_cache(const std::string& root, const std::string& id) {
  if (!valid_cache_id(id)) return make_error(errc::invalid_argument, what::cache_id_is_not_valid);
  cache_info ci;
  ci.id = id;
  posix::unique_fd lock =
      posix::open_retry(detail::cache_path(root, id, "lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (!lock) {
    if (errno == ENOENT) return make_error(errc::not_found, what::no_such_cache);
    return posix::sys_error("opening the cache lock", errno);
  }
  if (detail::lock_held_elsewhere(lock.get())) {
    ci.in_use = true;
    ci.owner_pid = detail::lock_owner(lock.get());
  }
  EROFSFS_TRY_ASSIGN(auto text,
                     detail::read_small_file(detail::cache_path(root, id, "devices"), 64 * 1024));
  if (!text) return ci;
  EROFSFS_TRY_ASSIGN(ci.device_sizes, detail::parse_devices_file(*text));
  std::vector<interval_set> present(ci.device_sizes.size());
  EROFSFS_TRY(fill_journal::read_only(detail::cache_path(root, id, "filled.journal"),
                                      ci.device_sizes, present));
  for (const interval_set& s : present) ci.filled_bytes.push_back(s.bytes());
  return ci;
}

// Every cache under `root`, sorted by id (entries that are not caches are skipped).
inline result<std::vector<cache_info>> list_caches(const std::string& root,
                                                   std::size_t max_entries = 65536) {
  DIR* d = ::opendir(root.c_str());
  if (!d) return posix::sys_error("opening the cache directory", errno);
  std::vector<std::string> ids;
  std::size_t seen = 0;
  while (const dirent* e = ::readdir(d)) {  // bounded: max_entries
    if (++seen > max_entries) {
      ::closedir(d);
      return make_error(errc::limit_exceeded, what::too_many_entries_in_the_cache_directory);
    }
    if (valid_cache_id(e->d_name)) ids.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  std::vector<cache_info> out;
  for (const std::string& id : ids) {
    auto ci = inspect_cache(root, id);
    if (ci) out.push_back(std::move(*ci));
    else if (ci.error().code != errc::not_found) return ci.error();
  }
  return out;
}

// Deletes the cache ROOT/<id>: refused with EBUSY while a daemon holds it. Only the files a
// cache holds are removed; anything else in the directory makes rmdir fail (ENOTEMPTY).
inline status remove_cache(const std::string& root, const std::string& id) {
  if (!valid_cache_id(id)) return make_error(errc::invalid_argument, what::cache_id_is_not_valid);
  posix::unique_fd lock =
      posix::open_retry(detail::cache_path(root, id, "lock").c_str(), O_RDWR | O_CLOEXEC);
  if (!lock) {
    if (errno == ENOENT) return make_error(errc::not_found, what::no_such_cache);
    return posix::sys_error("opening the cache lock", errno);
  }
  EROFSFS_TRY(detail::lock_exclusive(lock.get(), what::cache_is_locked_by_another_daemon));
  const std::string dir = root + "/" + id;
  std::vector<std::string> names{"devices", "devices.tmp", "filled.journal", "filled.journal.tmp"};
  for (std::size_t i = 0; i < max_cache_devices; ++i) names.push_back(detail::device_file_name(i));
  for (const std::string& n : names)
    if (::unlink((dir + "/" + n).c_str()) != 0 && errno != ENOENT)
      return posix::sys_error("removing a cache file", errno);
  // The lock goes last, while still held: a daemon starting now creates a new one.
  if (::unlink((dir + "/lock").c_str()) != 0) return posix::sys_error("removing a cache file", errno);
  if (::rmdir(dir.c_str()) != 0) return posix::sys_error("removing the cache directory", errno);
  return {};
}

}  // namespace erofsfs::fanotify
