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
#include "direct_copy.hpp"
#include "parallel.hpp"

namespace erofsfs::cli {

namespace {

// What each worker owns: its read state and its read buffer (bounded: 1 MiB).
struct extract_worker {
  read_context ctx;
  std::vector<std::byte> buf = std::vector<std::byte>(1u << 20);
  direct_copy::lane lane;  // this worker's descriptors for the in-kernel copy
};

// A regular file being written: created by the walk, written by one job (or by one job per
// range for a big file), finished (size, owner, mode, xattrs, mtime, close) by the job that
// completes last.
struct file_in_progress {
  int fd = -1;
  inode ino;
  std::string path;
  ordered_output::slot_id slot = 0;
  std::atomic<unsigned> holders{1};  // the walk while it plans, plus one per range job
  first_problem problem;
};

class extractor {
 public:
  extractor(const image& img, const char* cmd, shared_resident_bound& resident,
            worker_pool<extract_worker>& pool, ordered_output& out, scan_counters& counters,
            direct_copy& copier)
      : img_(img), cmd_(cmd), resident_(resident), pool_(pool), out_(out), counters_(counters),
        copier_(copier) {
    as_root_ = ::geteuid() == 0;
  }
  ~extractor() {
    for (std::size_t i = 1; i < dir_fds_.size(); ++i) ::close(dir_fds_[i]);
    if (cwd_fd_ >= 0) {
      if (::fchdir(cwd_fd_) != 0) { /* best effort: the process is about to exit */ }
      ::close(cwd_fd_);
    }
  }

  bool failed() const { return failed_.load(); }
  std::string summary(const std::string& dir) const {
    char line[512];
    std::snprintf(line, sizeof line,
                  "extracted %" PRIu64 " directories, %" PRIu64 " files, %" PRIu64
                  " symlinks, %" PRIu64 " other inodes, %" PRIu64 " hard links, %" PRIu64
                  " bytes",
                  dirs_, files_, symlinks_, others_, hardlinks_, bytes_.load());
    std::string s = line;
    if (const std::uint64_t c = copier_.copied())
      s += " (" + std::to_string(c) + " copied in the kernel)";
    return s + " into " + escape(dir);
  }

  // Extracts `start` (found at image path `start_path`) into the directory open as `root_fd`.
  // Returns once every file is written.
  void run(const inode& start, const std::string& start_path, int root_fd) {
    root_fd_ = root_fd;
    prefix_len_ = start_path == "/" ? 0 : start_path.size();
    cwd_fd_ = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct {
      extractor& x;
      result<bool> enter(const walk_entry& n) {
        x.slot_ = x.out_.open();
        const bool descend = x.enter(n);
        x.out_.release(x.slot_);
        return descend;
      }
      void leave(const walk_entry& n) {
        x.slot_ = x.out_.open();
        x.leave(n);
        x.out_.release(x.slot_);
      }
      void problem(std::string_view path, const error& e) {
        x.slot_ = x.out_.open();
        x.fail(x.slot_, path, e);
        x.out_.release(x.slot_);
      }
    } visitor{*this};
    walk_options opts;
    opts.on_error = walk_errors::report;
    opts.check_dot_entries = true;
    (void)walk_tree(img_, start, start_path, ctx_, visitor, opts);  // report mode: see fail()
    batch_.flush();
    pool_.wait();
  }

 private:
  using slot_id = ordered_output::slot_id;

  std::string message(std::string_view path, const error& e) const {
    return "erofsfs: " + std::string(cmd_) + ": " + escape(path) + ": " + e.message();
  }
  std::string errno_message(std::string_view path, const char* what, int err) const {
    return "erofsfs: " + std::string(cmd_) + ": " + escape(path) + ": " + what + ": " +
           errno_text(err);
  }
  void note(slot_id slot, const std::string& text) {
    out_.say(slot, stderr, "erofsfs: " + std::string(cmd_) + ": " + text);
  }
  void fail(slot_id slot, std::string_view path, const error& e) {
    failed_ = true;
    out_.say(slot, stderr, message(path, e));
  }
  void fail_errno(slot_id slot, std::string_view path, const char* what, int err) {
    failed_ = true;
    out_.say(slot, stderr, errno_message(path, what, err));
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
      fail(slot_, n.path,
           corrupted("refusing an unsafe entry name (empty, '.', '..', or with '/' or NUL)",
                     {.nid = n.ino.nid}));
      return false;
    }
    if (dir_fds_.size() != n.depth && !(n.depth == 0 && dir_fds_.empty())) {
      fail(slot_, n.path,
           make_error(errc::internal, "extract directory stack out of step", {.nid = n.ino.nid}));
      return false;
    }
    const int parent = n.depth == 0 ? root_fd_ : dir_fds_[n.depth - 1];
    const std::string name(n.name);
    const inode& ino = n.ino;
    if (!ino.is_dir() && ino.nlink > 1) {
      auto it = links_.find(ino.nid);
      if (it != links_.end()) {
        // The first name may still be being written by a worker: a link shares its inode, so
        // it ends up with the same data and metadata all the same.
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
        fail(slot_, n.path, corrupted("unknown file type",
                                      {.nid = ino.nid, .offset = ino.pos, .value = ino.mode}));
        return false;
    }
    if (ino.nlink > 1) links_.emplace(ino.nid, relative(n));
    return false;
  }

  // A directory's attributes are set when the walk leaves it, as in a serial run, even if
  // workers are still writing files below it: writing into a file that is already open
  // changes neither its directory's mtime nor anything else of the directory.
  void leave(const walk_entry& n) {
    if (dir_fds_.size() != n.depth + 1) {
      fail(slot_, n.path,
           make_error(errc::internal, "extract directory stack out of step", {.nid = n.ino.nid}));
      return;
    }
    const int fd = dir_fds_.back();
    apply_owner_mode(slot_, n.path, n.ino, [&](uid_t u, gid_t g) { return ::fchown(fd, u, g); },
                     [&](mode_t m) { return ::fchmod(fd, m); });
    apply_xattrs(slot_, n.path, n.ino, [&](const char* k, const std::string& v) {
      return ::fsetxattr(fd, k, v.data(), v.size(), 0);
    });
    const timespec ts[2] = {mtime(n.ino), mtime(n.ino)};
    if (::futimens(fd, ts) != 0) fail_errno(slot_, n.path, "futimens", errno);
    if (n.depth > 0) ::close(fd);
    dir_fds_.pop_back();
  }

  // Runs `create`; an existing non-directory of the same name is removed first (unlinkat never
  // follows symlinks), so extracting twice into one DIR works.
  template <class Create>
  bool replace(int parent, const std::string& name, std::string_view path, Create&& create) {
    if (create() == 0) return true;
    if (errno == EEXIST && ::unlinkat(parent, name.c_str(), 0) == 0 && create() == 0) return true;
    fail_errno(slot_, path, "create", errno);
    return false;
  }

  static timespec mtime(const inode& ino) {
    timespec t{};
    t.tv_sec = static_cast<time_t>(ino.mtime);
    t.tv_nsec = static_cast<long>(ino.mtime_nsec);
    return t;
  }

  template <class Chown, class Chmod>
  void apply_owner_mode(slot_id slot, std::string_view path, const inode& ino, Chown&& do_chown,
                        Chmod&& do_chmod) {
    // chown first: it clears set-user/group-ID bits, which chmod then restores.
    if (do_chown(static_cast<uid_t>(ino.uid), static_cast<gid_t>(ino.gid)) != 0) {
      if (errno == EPERM && !as_root_) {
        if (!warned_owner_.exchange(true)) note(slot, "not running as root: owners are not restored");
      } else {
        fail_errno(slot, path, "chown", errno);
      }
    }
    if (ino.is_symlink()) return;  // a symlink's own mode is not settable (and unused)
    if (do_chmod(static_cast<mode_t>(ino.mode & 07777)) != 0) fail_errno(slot, path, "chmod", errno);
  }

  // A destination without a namespace (EOPNOTSUPP) is reported once per namespace and is not a
  // failure: the image is fine, the target filesystem cannot hold it.
  template <class Set>
  void apply_xattrs(slot_id slot, std::string_view path, const inode& ino, Set&& set) {
    auto xs = list_xattrs(img_, ino);
    if (!xs) return fail(slot, path, xs.error());
    for (const xattr& x : *xs) {
      if (set(x.name.c_str(), x.value) == 0) continue;
      const int err = errno;
      if (err == EOPNOTSUPP) {
        const std::string ns = x.name.substr(0, x.name.find('.') + 1);
        bool first;
        {
          std::lock_guard<std::mutex> lock(ns_mu_);
          first = std::find(unsupported_ns_.begin(), unsupported_ns_.end(), ns) ==
                  unsupported_ns_.end();
          if (first) unsupported_ns_.push_back(ns);
        }
        if (first)
          note(slot, escape(path) + ": xattr " + escape(x.name) +
                         ": not supported by the destination; skipping namespace " + ns);
        continue;
      }
      fail_errno(slot, path, ("setxattr " + escape(x.name)).c_str(), err);
    }
  }

  bool make_dir(int parent, const std::string& name, const walk_entry& n) {
    if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
      fail_errno(slot_, n.path, "mkdir", errno);
      return false;
    }
    // O_NOFOLLOW: an existing symlink of that name must not redirect the extraction.
    const int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      fail_errno(slot_, n.path, "open directory", errno);
      return false;
    }
    dir_fds_.push_back(fd);
    ++dirs_;
    return true;
  }

  // Bytes read into the worker's buffer that are not written yet: [start, start + len) of the
  // file, held in buf[0, len). Consecutive extents (often a few KiB each) collect here, so the
  // output sees one pwrite per buffer-full rather than one per extent.
  struct pending_run {
    std::uint64_t start = 0;
    std::size_t len = 0;
  };

  // Writes the pending run out; false after a problem (offered to the file's first_problem).
  bool flush(extract_worker& w, file_in_progress& f, pending_run& run) {
    std::size_t done = 0;
    while (done < run.len) {  // bounded: each pass writes > 0 bytes or fails
      const ssize_t wr = ::pwrite(f.fd, w.buf.data() + done, run.len - done,
                                  static_cast<off_t>(run.start + done));
      if (wr < 0 && errno == EINTR) continue;
      if (wr <= 0) {
        f.problem.offer_text(run.start, errno_message(f.path, "write", wr < 0 ? errno : EIO), true);
        return false;
      }
      done += static_cast<std::size_t>(wr);
    }
    run.len = 0;
    return true;
  }

  // Adds one stored extent to the pending run (writing the run out whenever the buffer is
  // full or the next bytes are not adjacent). Plain extents go through the kernel when they
  // can (direct_copy.hpp); the rest is read, and pieces that are all zeros are left as holes.
  // False after a problem (offered to the file's first_problem), with the bytes before it
  // written.
  bool write_extent(extract_worker& w, file_in_progress& f, const extent& e, pending_run& run) {
    const inode& ino = f.ino;
    std::uint64_t offset = e.logical;
    if (e.kind == extent_kind::mapped && e.device == 0 && copier_.usable()) {
      const std::uint64_t c = copier_.copy(w.lane, f.fd, e.physical, e.logical, e.length);
      offset += c;
      bytes_ += c;
      counters_.bytes += c;
    }
    while (offset < e.end()) {  // bounded: offset grows by > 0 each pass or the loop ends
      if (run.len != 0 && (run.start + run.len != offset || run.len == w.buf.size()) &&
          !flush(w, f, run))
        return false;
      if (run.len == 0) run.start = offset;
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(w.buf.size() - run.len, e.end() - offset));
      const std::span<std::byte> piece = std::span(w.buf).subspan(run.len, n);
      if (const status st = read_extent(img_, ino, e, offset, piece, w.ctx); !st) {
        if (!flush(w, f, run)) return false;
        f.problem.offer(offset, st.error());
        return false;
      }
      if (std::any_of(piece.begin(), piece.end(), [](std::byte b) { return b != std::byte{0}; })) {
        run.len += n;
      } else if (!flush(w, f, run)) {  // a hole: the bytes before it go out on their own
        return false;
      }
      offset += n;
      bytes_ += n;
      counters_.bytes += n;
      resident_.data(n);
    }
    return true;
  }

  // The whole file on one worker: its stored extents in order; holes are skipped (the
  // ftruncate of finish() gives the file its size), so they stay holes and cost nothing.
  void write_whole(extract_worker& w, file_in_progress& f) {
    extent_iterator it(img_, f.ino);
    extent e;
    std::uint64_t covered = 0;
    pending_run run;
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) {
        flush(w, f, run);  // the bytes before the problem are written, as they were read
        return f.problem.offer(covered, more.error());
      }
      if (!*more) break;
      covered = e.end();
      if (e.kind == extent_kind::hole) continue;
      if (!write_extent(w, f, e, run)) return;
    }
    flush(w, f, run);
  }

  // One range of a big file (whole extents, in order) on one worker.
  void write_range(extract_worker& w, file_in_progress& f, const std::vector<extent>& range) {
    pending_run run;
    for (const extent& x : range)
      if (!write_extent(w, f, x, run)) return;
    flush(w, f, run);
  }

  // After the last range: the first problem, then size and attributes (unless the output
  // could not be written), then close.
  void finish(const std::shared_ptr<file_in_progress>& fp) {
    file_in_progress& f = *fp;
    bool can_finish = true;
    if (f.problem.has) {
      failed_ = true;
      out_.say(f.slot, stderr, f.problem.err ? message(f.path, *f.problem.err) : f.problem.text);
      can_finish = !f.problem.fatal;
    }
    const int fd = f.fd;
    if (can_finish) {
      if (::ftruncate(fd, static_cast<off_t>(f.ino.size)) != 0)
        fail_errno(f.slot, f.path, "truncate", errno);
      apply_owner_mode(f.slot, f.path, f.ino, [&](uid_t u, gid_t g) { return ::fchown(fd, u, g); },
                       [&](mode_t m) { return ::fchmod(fd, m); });
      apply_xattrs(f.slot, f.path, f.ino, [&](const char* k, const std::string& v) {
        return ::fsetxattr(fd, k, v.data(), v.size(), 0);
      });
      const timespec ts[2] = {mtime(f.ino), mtime(f.ino)};
      if (::futimens(fd, ts) != 0) fail_errno(f.slot, f.path, "futimens", errno);
      if (::close(fd) != 0) fail_errno(f.slot, f.path, "close", errno);
    } else {
      ::close(fd);
    }
    counters_.files += 1;
    out_.release(f.slot);
  }
  void drop_hold(const std::shared_ptr<file_in_progress>& fp) {
    if (fp->holders.fetch_sub(1) == 1) finish(fp);
  }

  void make_file(int parent, const std::string& name, const walk_entry& n) {
    int fd = -1;
    if (!replace(parent, name, n.path, [&] {
          fd = ::openat(parent, name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
          return fd < 0 ? -1 : 0;
        }))
      return;
    ++files_;
    auto f = std::make_shared<file_in_progress>();
    f->fd = fd;
    f->ino = n.ino;
    f->path = std::string(n.path);
    f->slot = slot_;
    out_.hold(slot_);  // released by finish()
    if (pool_.threads() == 1) {
      pool_.submit([this, f](extract_worker& w) {
        write_whole(w, *f);
        drop_hold(f);
      });
      return;
    }
    if (n.ino.size <= extract_split.split_above) return batch_.add(std::move(f), n.ino.size);
    // A big file: ranges of whole extents, one job per range.
    extent_iterator it(img_, f->ino);
    extent e;
    std::uint64_t covered = 0;
    extent_ranges ranges(extract_split.range_bytes);
    auto submit_range = [&] {
      f->holders += 1;
      pool_.submit([this, f, r = ranges.take()](extract_worker& w) {
        write_range(w, *f, r);
        drop_hold(f);
      });
    };
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) {
        f->problem.offer(covered, more.error());
        break;
      }
      if (!*more) break;
      covered = e.end();
      if (e.kind == extent_kind::hole) continue;
      if (ranges.add(e)) submit_range();
    }
    if (!ranges.empty()) submit_range();
    drop_hold(f);
  }

  // Symlinks, devices, fifos and sockets cannot be opened for writing metadata, so their
  // attributes are set by name relative to the parent, never following a symlink.
  void finish_by_name(int parent, const std::string& name, const walk_entry& n) {
    apply_owner_mode(
        slot_, n.path, n.ino,
        [&](uid_t u, gid_t g) {
          return ::fchownat(parent, name.c_str(), u, g, AT_SYMLINK_NOFOLLOW);
        },
        [&](mode_t m) { return ::fchmodat(parent, name.c_str(), m, 0); });
    // l*xattr has no directory-fd form: work from inside the parent directory (only the walk
    // does this; workers use descriptors only).
    if (::fchdir(parent) != 0) {
      fail_errno(slot_, n.path, "fchdir", errno);
    } else {
      apply_xattrs(slot_, n.path, n.ino, [&](const char* k, const std::string& v) {
        return ::lsetxattr(name.c_str(), k, v.data(), v.size(), 0);
      });
    }
    const timespec ts[2] = {mtime(n.ino), mtime(n.ino)};
    if (::utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      fail_errno(slot_, n.path, "utimensat", errno);
  }

  void make_symlink(int parent, const std::string& name, const walk_entry& n) {
    auto target = read_link(img_, n.ino, ctx_);
    if (!target) return fail(slot_, n.path, target.error());
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
  read_context ctx_;  // the walk's
  shared_resident_bound& resident_;
  worker_pool<extract_worker>& pool_;
  ordered_output& out_;
  scan_counters& counters_;
  direct_copy& copier_;
  slot_id slot_ = 0;  // the walk step's output slot
  job_batch<file_in_progress, extract_worker> batch_{
      pool_, [this](extract_worker& w, const std::shared_ptr<file_in_progress>& f) {
        write_whole(w, *f);
        drop_hold(f);
      }};
  int root_fd_ = -1;
  int cwd_fd_ = -1;
  std::size_t prefix_len_ = 0;
  std::vector<int> dir_fds_;  // index = depth of the directory being filled
  std::unordered_map<std::uint64_t, std::string> links_;  // nid -> first path, relative to DIR
  std::mutex ns_mu_;
  std::vector<std::string> unsupported_ns_;
  bool as_root_ = false;
  std::atomic<bool> warned_owner_{false};
  std::atomic<bool> failed_{false};
  std::uint64_t dirs_ = 0, files_ = 0, symlinks_ = 0, others_ = 0, hardlinks_ = 0;
  std::atomic<std::uint64_t> bytes_{0};
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
  unsigned threads = 1;
  if (!worker_count(a, threads)) return exit_usage;
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
    shared_resident_bound resident(*o);  // RSS stays bounded whatever the image size
    std::unique_ptr<decoded_cache> cache;
    if (!make_scan_cache(a, o->img, cache)) return exit_usage;
    direct_copy copier;
    copier.setup(*o, a.number("offset"));
    worker_pool<extract_worker> pool(threads, [&] {
      extract_worker w;
      w.ctx.shared_cache = cache.get();
      return w;
    });
    ordered_output out;
    scan_counters counters;
    progress_line progress(progress_line::wanted(a), a.cmd, counters, out);
    extractor x(o->img, a.cmd, resident, pool, out, counters, copier);
    x.run(*start, path, root_fd);
    progress.stop();
    failed = x.failed();
    if (!a.has(quiet_option.name)) std::printf("%s\n", x.summary(dir).c_str());
  }
  ::close(root_fd);
  return failed ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    jobs_option,
    scan_cache_option,
    progress_option,
    quiet_option,
};
constexpr positional_def positionals[] = {
    {"IMG", arity::one}, {"DIR", arity::one}, {"PATH", arity::optional}};

}  // namespace

const command_spec extract_command{
    "extract", "recreate the tree (or PATH's subtree) under DIR with owners, modes, times, xattrs",
    options, common::image_options, positionals, run_extract};

}  // namespace erofsfs::cli
