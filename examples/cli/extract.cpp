// `erofsfs extract IMG DIR [PATH]`: recreates the tree (or PATH) under DIR as root would see it
// mounted: contents (holes stay holes), modes, owners, mtimes, symlinks, hard links, device
// nodes, fifos, sockets and every xattr.
//
// Nothing may be written outside DIR, whatever the image says: every name is checked before
// use, every file is created relative to its parent directory's descriptor, directories are
// opened with O_NOFOLLOW, new files with O_EXCL | O_NOFOLLOW, and metadata of symlinks is set
// with the no-follow variants. Directory attributes (mode, mtime, ...) are applied after their
// contents so that writing the contents does not change them.
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <unordered_map>

#include "common.hpp"

namespace erofsfs::cli {

namespace {

class extractor {
 public:
  extractor(const image& img, const char* cmd, resident_bound& resident)
      : img_(img), cmd_(cmd), resident_(resident), buf_(1u << 20) {
    as_root_ = ::geteuid() == 0;
  }
  ~extractor() {
    for (std::size_t i = 1; i < dir_fds_.size(); ++i) ::close(dir_fds_[i]);
    if (cwd_fd_ >= 0) {
      if (::fchdir(cwd_fd_) != 0) { /* best effort: the process is about to exit */ }
      ::close(cwd_fd_);
    }
  }

  bool failed() const { return failed_; }
  void print_summary(const std::string& dir) const {
    std::printf("extracted %" PRIu64 " directories, %" PRIu64 " files, %" PRIu64
                " symlinks, %" PRIu64 " other inodes, %" PRIu64 " hard links, %" PRIu64
                " bytes into %s\n",
                dirs_, files_, symlinks_, others_, hardlinks_, bytes_, escape(dir).c_str());
  }

  // Extracts `start` (found at image path `start_path`) into the directory open as `root_fd`.
  void run(const inode& start, const std::string& start_path, int root_fd) {
    root_fd_ = root_fd;
    prefix_len_ = start_path == "/" ? 0 : start_path.size();
    cwd_fd_ = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct {
      extractor& x;
      result<bool> enter(const walk_entry& n) { return x.enter(n); }
      void leave(const walk_entry& n) { x.leave(n); }
      void problem(std::string_view path, const error& e) { x.fail(path, e); }
    } visitor{*this};
    walk_options opts;
    opts.on_error = walk_errors::report;
    opts.check_dot_entries = true;
    (void)walk_tree(img_, start, start_path, ctx_, visitor, opts);  // report mode: see fail()
  }

 private:
  void fail(std::string_view path, const error& e) {
    failed_ = true;
    report(cmd_, path, e);
  }
  void fail_errno(std::string_view path, const char* what, int err) {
    failed_ = true;
    report(cmd_, escape(path) + ": " + what + ": " + errno_text(err));
  }

  // The entry's path relative to DIR (what linkat needs for a later hard link).
  std::string relative(const walk_entry& n) const {
    if (n.depth == 0) return std::string(n.name);
    std::string_view r = n.path.substr(std::min(prefix_len_, n.path.size()));
    while (!r.empty() && r.front() == '/') r.remove_prefix(1);
    return std::string(r);
  }

  bool enter(const walk_entry& n) {
    resident_.inode();
    if (n.depth == 0 && n.ino.is_dir()) {
      dir_fds_.assign(1, root_fd_);
      ++dirs_;
      return true;
    }
    if (!safe_name(n.name)) {
      fail(n.path, corrupted("refusing an unsafe entry name (empty, '.', '..', or with '/' or NUL)",
                             {.nid = n.ino.nid}));
      return false;
    }
    if (dir_fds_.size() != n.depth && !(n.depth == 0 && dir_fds_.empty())) {
      fail(n.path,
           make_error(errc::internal, "extract directory stack out of step", {.nid = n.ino.nid}));
      return false;
    }
    const int parent = n.depth == 0 ? root_fd_ : dir_fds_[n.depth - 1];
    const std::string name(n.name);
    const inode& ino = n.ino;
    if (!ino.is_dir() && ino.nlink > 1) {
      auto it = links_.find(ino.nid);
      if (it != links_.end()) {
        if (!replace(parent, name, n.path, [&] {
              return ::linkat(root_fd_, it->second.c_str(), parent, name.c_str(), 0);
            }))
          return false;
        ++hardlinks_;
        return false;
      }
    }
    switch (ino.type()) {
      case file_type::directory: return make_dir(parent, name, n);
      case file_type::regular: make_file(parent, name, n); break;
      case file_type::symlink: make_symlink(parent, name, n); break;
      case file_type::chrdev:
      case file_type::blkdev:
      case file_type::fifo:
      case file_type::socket: make_node(parent, name, n); break;
      case file_type::unknown:
        fail(n.path, corrupted("unknown file type",
                               {.nid = ino.nid, .offset = ino.pos, .value = ino.mode}));
        return false;
    }
    if (ino.nlink > 1) links_.emplace(ino.nid, relative(n));
    return false;
  }

  void leave(const walk_entry& n) {
    if (dir_fds_.size() != n.depth + 1) {
      fail(n.path,
           make_error(errc::internal, "extract directory stack out of step", {.nid = n.ino.nid}));
      return;
    }
    const int fd = dir_fds_.back();
    apply_owner_mode(n, [&](uid_t u, gid_t g) { return ::fchown(fd, u, g); },
                     [&](mode_t m) { return ::fchmod(fd, m); });
    apply_xattrs(n, [&](const char* k, const std::string& v) {
      return ::fsetxattr(fd, k, v.data(), v.size(), 0);
    });
    const timespec ts[2] = {mtime(n.ino), mtime(n.ino)};
    if (::futimens(fd, ts) != 0) fail_errno(n.path, "futimens", errno);
    if (n.depth > 0) ::close(fd);
    dir_fds_.pop_back();
  }

  // Runs `create`; an existing non-directory of the same name is removed first (unlinkat never
  // follows symlinks), so extracting twice into one DIR works.
  template <class Create>
  bool replace(int parent, const std::string& name, std::string_view path, Create&& create) {
    if (create() == 0) return true;
    if (errno == EEXIST && ::unlinkat(parent, name.c_str(), 0) == 0 && create() == 0) return true;
    fail_errno(path, "create", errno);
    return false;
  }

  static timespec mtime(const inode& ino) {
    timespec t{};
    t.tv_sec = static_cast<time_t>(ino.mtime);
    t.tv_nsec = static_cast<long>(ino.mtime_nsec);
    return t;
  }

  template <class Chown, class Chmod>
  void apply_owner_mode(const walk_entry& n, Chown&& do_chown, Chmod&& do_chmod) {
    // chown first: it clears set-user/group-ID bits, which chmod then restores.
    if (do_chown(static_cast<uid_t>(n.ino.uid), static_cast<gid_t>(n.ino.gid)) != 0) {
      if (errno == EPERM && !as_root_) {
        if (!warned_owner_)
          report(cmd_, "not running as root: owners are not restored");
        warned_owner_ = true;
      } else {
        fail_errno(n.path, "chown", errno);
      }
    }
    if (n.ino.is_symlink()) return;  // a symlink's own mode is not settable (and unused)
    if (do_chmod(static_cast<mode_t>(n.ino.mode & 07777)) != 0) fail_errno(n.path, "chmod", errno);
  }

  // A destination without a namespace (EOPNOTSUPP) is reported once per namespace and is not a
  // failure: the image is fine, the target filesystem cannot hold it.
  template <class Set>
  void apply_xattrs(const walk_entry& n, Set&& set) {
    auto xs = list_xattrs(img_, n.ino);
    if (!xs) return fail(n.path, xs.error());
    for (const xattr& x : *xs) {
      if (set(x.name.c_str(), x.value) == 0) continue;
      const int err = errno;
      if (err == EOPNOTSUPP) {
        const std::string ns = x.name.substr(0, x.name.find('.') + 1);
        if (std::find(unsupported_ns_.begin(), unsupported_ns_.end(), ns) == unsupported_ns_.end()) {
          unsupported_ns_.push_back(ns);
          report(cmd_, escape(n.path) + ": xattr " + escape(x.name) +
                           ": not supported by the destination; skipping namespace " + ns);
        }
        continue;
      }
      fail_errno(n.path, ("setxattr " + escape(x.name)).c_str(), err);
    }
  }

  bool make_dir(int parent, const std::string& name, const walk_entry& n) {
    if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
      fail_errno(n.path, "mkdir", errno);
      return false;
    }
    // O_NOFOLLOW: an existing symlink of that name must not redirect the extraction.
    const int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      fail_errno(n.path, "open directory", errno);
      return false;
    }
    dir_fds_.push_back(fd);
    ++dirs_;
    return true;
  }

  // Writes the file's stored extents at their offsets; holes are skipped (the ftruncate that
  // follows gives the file its size), so they stay holes and cost nothing, whatever their size.
  // Stored pieces that are all zeros are left as holes too. False after a write error.
  bool write_data(int fd, const walk_entry& n) {
    const inode& ino = n.ino;
    extent_iterator it(img_, ino);
    extent e;
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) {
        fail(n.path, more.error());
        return true;  // the image's problem, reported; the file keeps what was written
      }
      if (!*more) return true;
      if (e.kind == extent_kind::hole) continue;
      std::uint64_t offset = e.logical;
      while (offset < e.end()) {  // bounded: offset grows by > 0 each pass or the loop ends
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), e.end() - offset));
        auto n_read = read(img_, ino, offset, std::span(buf_).first(want), ctx_);
        if (!n_read || *n_read == 0) {
          fail(n.path, n_read ? make_error(errc::internal, "read returned no data",
                                           {.nid = ino.nid, .offset = offset})
                              : n_read.error());
          return true;
        }
        const std::span<const std::byte> data = std::span(buf_).first(*n_read);
        if (std::any_of(data.begin(), data.end(), [](std::byte b) { return b != std::byte{0}; })) {
          std::size_t done = 0;
          while (done < data.size()) {  // bounded: each pass writes > 0 bytes or fails
            const ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done,
                                       static_cast<off_t>(offset + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
              fail_errno(n.path, "write", w < 0 ? errno : EIO);
              return false;
            }
            done += static_cast<std::size_t>(w);
          }
        }
        offset += *n_read;
        bytes_ += *n_read;
        resident_.data(*n_read);
      }
    }
  }

  void make_file(int parent, const std::string& name, const walk_entry& n) {
    const inode& ino = n.ino;
    int fd = -1;
    if (!replace(parent, name, n.path, [&] {
          fd = ::openat(parent, name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
          return fd < 0 ? -1 : 0;
        }))
      return;
    ++files_;
    if (!write_data(fd, n)) {
      ::close(fd);
      return;
    }
    if (::ftruncate(fd, static_cast<off_t>(ino.size)) != 0) fail_errno(n.path, "truncate", errno);
    apply_owner_mode(n, [&](uid_t u, gid_t g) { return ::fchown(fd, u, g); },
                     [&](mode_t m) { return ::fchmod(fd, m); });
    apply_xattrs(n, [&](const char* k, const std::string& v) {
      return ::fsetxattr(fd, k, v.data(), v.size(), 0);
    });
    const timespec ts[2] = {mtime(ino), mtime(ino)};
    if (::futimens(fd, ts) != 0) fail_errno(n.path, "futimens", errno);
    if (::close(fd) != 0) fail_errno(n.path, "close", errno);
  }

  // Symlinks, devices, fifos and sockets cannot be opened for writing metadata, so their
  // attributes are set by name relative to the parent, never following a symlink.
  void finish_by_name(int parent, const std::string& name, const walk_entry& n) {
    apply_owner_mode(
        n,
        [&](uid_t u, gid_t g) {
          return ::fchownat(parent, name.c_str(), u, g, AT_SYMLINK_NOFOLLOW);
        },
        [&](mode_t m) { return ::fchmodat(parent, name.c_str(), m, 0); });
    // l*xattr has no directory-fd form: work from inside the parent directory.
    if (::fchdir(parent) != 0) {
      fail_errno(n.path, "fchdir", errno);
    } else {
      apply_xattrs(n, [&](const char* k, const std::string& v) {
        return ::lsetxattr(name.c_str(), k, v.data(), v.size(), 0);
      });
    }
    const timespec ts[2] = {mtime(n.ino), mtime(n.ino)};
    if (::utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      fail_errno(n.path, "utimensat", errno);
  }

  void make_symlink(int parent, const std::string& name, const walk_entry& n) {
    auto target = read_link(img_, n.ino, ctx_);
    if (!target) return fail(n.path, target.error());
    if (!replace(parent, name, n.path,
                 [&] { return ::symlinkat(target->c_str(), parent, name.c_str()); }))
      return;
    ++symlinks_;
    finish_by_name(parent, name, n);
  }

  void make_node(int parent, const std::string& name, const walk_entry& n) {
    const inode& ino = n.ino;
    const mode_t type = static_cast<mode_t>(ino.mode & mode_type_mask);
    const dev_t dev = (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev)
                          ? makedev(ino.rdev_major, ino.rdev_minor)
                          : 0;
    if (!replace(parent, name, n.path,
                 [&] { return ::mknodat(parent, name.c_str(), type | 0600, dev); }))
      return;
    ++others_;
    finish_by_name(parent, name, n);
  }

  const image& img_;
  const char* cmd_;
  read_context ctx_;
  resident_bound& resident_;
  std::vector<std::byte> buf_;
  int root_fd_ = -1;
  int cwd_fd_ = -1;
  std::size_t prefix_len_ = 0;
  std::vector<int> dir_fds_;  // index = depth of the directory being filled
  std::unordered_map<std::uint64_t, std::string> links_;  // nid -> first path, relative to DIR
  std::vector<std::string> unsupported_ns_;
  bool as_root_ = false;
  bool warned_owner_ = false;
  bool failed_ = false;
  std::uint64_t dirs_ = 0, files_ = 0, symlinks_ = 0, others_ = 0, hardlinks_ = 0, bytes_ = 0;
};

// "/a/./b//c/" -> "/a/b/c": the form walk paths are reported in.
std::string normalize(std::string_view p) {
  std::string out;
  while (!p.empty()) {  // bounded: p shrinks every pass
    const std::size_t slash = p.find('/');
    const std::string_view part = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

int run_extract(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  read_context ctx;
  const std::string& dir = a.positional[1];
  const std::string path = normalize(a.positional.size() > 2 ? a.positional[2] : "/");
  auto start = resolve_path(o->img, path, ctx, false);
  if (!start) {
    report(a.cmd, path, start.error());
    return exit_problem;
  }
  // One descriptor per directory level is open at a time: allow as many as the hard limit.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::umask(0);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    report(a.cmd, escape(dir) + ": mkdir: " + errno_text(errno));
    return exit_problem;
  }
  const int root_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    report(a.cmd, escape(dir) + ": " + errno_text(errno));
    return exit_problem;
  }
  bool failed;
  {
    resident_bound resident(*o);  // RSS stays bounded whatever the image size
    extractor x(o->img, a.cmd, resident);
    x.run(*start, path, root_fd);
    failed = x.failed();
    x.print_summary(dir);
  }
  ::close(root_fd);
  return failed ? exit_problem : exit_ok;
}

constexpr positional_def positionals[] = {
    {"IMG", arity::one}, {"DIR", arity::one}, {"PATH", arity::optional}};

}  // namespace

const command_spec extract_command{
    "extract", "recreate the tree (or PATH's subtree) under DIR with owners, modes, times, xattrs",
    {}, common::image_options, positionals, run_extract};

}  // namespace erofsfs::cli
