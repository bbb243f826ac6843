// Serving an image through FUSE (L8): the low-level libfuse3 protocol over any opened image,
// hence over any byte source. Opt-in like the codec adapters: this header needs libfuse3
// (Debian libfuse3-dev; pkg-config fuse3) at build and link time; nothing else in erofsfs does.
//
//   auto srv = erofsfs::fuse::server::mount(img, "/mnt/x", {});   // mounted on return
//   srv.value()->run();   // serves, multi-threaded, until unmounted or stop()
//
// Mounting works for root (mount(2)) and for normal users (libfuse runs the setuid fusermount3).
// What the kernel sees:
// - node ids from nodeid.hpp (stateless: hard links are one inode, forget is a no-op), st_ino is
//   the image's inode number (inode::ino), every attribute as Linux's erofs reports it;
// - readdir/readdirplus offsets from dir_offsets.hpp (stable positions, no per-open state);
// - long entry, attribute and negative-lookup timeouts, FOPEN_KEEP_CACHE and cached readdir and
//   symlinks: the image never changes, so nothing the kernel cached goes stale;
// - xattrs as Linux's erofs lists them, trusted.* (overlayfs/composefs metadata) only to root
//   callers, with the size-probe protocol (size 0 asks the length; too small a buffer is ERANGE);
// - any failure reading the image (bad metadata, a failing source, a missing codec) is EIO to
//   the caller and one log line; lookups of absent names are ENOENT, as usual.
// Without allow_other only the mounting user (and root) reach the mount, and they get every
// file, as they could read the image itself; with allow_other the kernel enforces the image's
// modes and owners (default_permissions).
//
// Threads: libfuse's worker threads serve requests concurrently. The image is const and
// thread-safe; read_contexts are not, so each request borrows one from a pool that grows to
// the number of requests in flight at once (at most the worker count). With
// mount_options::shared_cache those contexts share one decoded_cache, so a pcluster decoded
// for one request serves every later one (the kernel's page cache keeps what it read, so this
// matters for data the kernel evicted and for readers of the same pclusters at once).
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35  // libfuse >= 3.5: cache_readdir, fuse_loop_config with clone_fd
#endif
#include <fuse_lowlevel.h>

#include <errno.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <string>
#include <string_view>
#include <vector>

#include "../../api/directory.hpp"
#include "../../api/file_data.hpp"
#include "../../api/xattr.hpp"
#include "../../base/error.hpp"
#include "../../core/image.hpp"
#include "../../decode/decoded_cache.hpp"
#include "../../decode/read_context.hpp"
#include "../../format/disk.hpp"
#include "../../format/inode.hpp"
#include "../../map/map_extent.hpp"
#include "dir_offsets.hpp"
#include "nodeid.hpp"

extern char** environ;

namespace erofsfs::fuse {

struct mount_options {
  // Let other users in (needs user_allow_other in /etc/fuse.conf for non-root); the kernel
  // then checks the image's modes and owners.
  bool allow_other = false;
  // Enforce the image's modes even without allow_other.
  bool default_permissions = false;
  // How long the kernel may trust entries, attributes and absent names (seconds).
  double cache_timeout = 365.0 * 24 * 3600;
  // Shown as the source in /proc/mounts.
  std::string fsname = "erofsfs";
  // Optional, borrowed (it must outlive the server): a decoded-pcluster cache every request
  // shares. Null: each request's read_context keeps only its last decoded extent.
  decoded_cache* shared_cache = nullptr;
  // Worker threads libfuse keeps idle at most (0: libfuse's default).
  unsigned max_idle_threads = 0;
  // Log sink for failed requests: one line each, rate-limited (the first 100, then one in
  // 10000). nullptr writes to stderr.
  void (*log)(void* user, const char* line) = nullptr;
  void* log_user = nullptr;
};

// Counters, readable from any thread.
struct server_stats {
  std::uint64_t requests_failed = 0;  // answered with EIO because the image could not be read
};

class server {
 public:
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Mounts `img` (which must outlive the server) on `mountpoint`. errc::unsupported with the
  // errno when FUSE is unavailable (/dev/fuse missing or not accessible) or the mount fails.
  static result<std::unique_ptr<server>> mount(const image& img, const std::string& mountpoint,
                                               const mount_options& opts = {}) {
    if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      const int e = errno;
      return make_error(std::error_code(e, std::system_category()),
                        "FUSE unavailable: cannot open /dev/fuse (fuse module not loaded, or "
                        "no permission)");
    }
    std::unique_ptr<server> s(new server(img, opts));
    // Absolute, so stop() still finds it after a daemon's chdir("/").
    char* abs = ::realpath(mountpoint.c_str(), nullptr);
    if (!abs)
      return make_error(std::error_code(errno, std::system_category()), what::mountpoint_not_found);
    s->mountpoint_ = abs;
    std::free(abs);
    // argv for libfuse: "-o" and one comma-separated option list; ',' and '\' in the fsname
    // are escaped as libfuse expects.
    std::string o = "ro,subtype=erofsfs,fsname=";
    for (const char c : opts.fsname) {
      if (c == ',' || c == '\\') o += '\\';
      o += c;
    }
    if (opts.allow_other) o += ",allow_other";
    if (opts.allow_other || opts.default_permissions) o += ",default_permissions";
    std::string arg0 = "erofsfs", dash_o = "-o";
    char* argv[] = {arg0.data(), dash_o.data(), o.data(), nullptr};
    fuse_args args = FUSE_ARGS_INIT(3, argv);
    const fuse_lowlevel_ops ops = operations();
    s->se_ = fuse_session_new(&args, &ops, sizeof ops, s.get());
    fuse_opt_free_args(&args);
    if (!s->se_)
      return make_error(errc::invalid_argument, what::libfuse_refused_the_session_options);
    if (fuse_session_mount(s->se_, s->mountpoint_.c_str()) != 0)
      return make_error(errc::unsupported,
                        "FUSE mount failed (libfuse printed why: mountpoint, fusermount3, "
                        "allow_other without user_allow_other...)");
    s->mounted_ = true;
    return s;
  }

  ~server() {
    if (se_) {
      if (mounted_) fuse_session_unmount(se_);
      fuse_session_destroy(se_);
    }
    // Files still open when the session ended (a lazy unmount) never get their release.
    for (inode* ino : open_) delete ino;
  }

  // Serves requests on libfuse's worker threads until the file system is unmounted (umount,
  // fusermount3 -u, stop()). An error only if the session failed.
  status run() {
    fuse_loop_config cfg{};
    cfg.clone_fd = 0;
    cfg.max_idle_threads = opts_.max_idle_threads ? opts_.max_idle_threads : 10;
    const int rc = fuse_session_loop_mt(se_, &cfg);
    if (rc < 0)
      return make_error(std::error_code(-rc, std::system_category()), what::fuse_session_failed);
    return {};
  }

  // Ends run() from any thread (a signal-handling thread, a test): detaches the mount lazily,
  // so files still open keep being served until closed, then the session ends.
  void stop() noexcept {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    fuse_session_exit(se_);
    if (::geteuid() == 0) {
      ::umount2(mountpoint_.c_str(), MNT_DETACH);
      return;
    }
    // A normal user unmounts through the setuid helper, as libfuse itself does.
    std::string prog = "fusermount3", u = "-u", q = "-q", z = "-z", dd = "--";
    char* argv[] = {prog.data(), u.data(), q.data(), z.data(), dd.data(), mountpoint_.data(),
                    nullptr};
    pid_t pid;
    if (posix_spawnp(&pid, prog.c_str(), nullptr, nullptr, argv, environ) == 0) {
      int st;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }

  const std::string& mountpoint() const noexcept { return mountpoint_; }
  server_stats stats() const noexcept { return {failed_.load(std::memory_order_relaxed)}; }

 private:
  // One borrowed read_context plus the buffers a request needs; returned on destruction.
  struct worker_state {
    read_context ctx;
    std::vector<std::byte> scratch;
    std::vector<char> reply;
    std::string name;
  };
  class lease {
   public:
    explicit lease(server& s) : s_(s) {
      std::lock_guard<std::mutex> lock(s_.pool_mu_);
      if (!s_.pool_.empty()) {
        w_ = std::move(s_.pool_.back());
        s_.pool_.pop_back();
      }
      if (!w_) {
        w_ = std::make_unique<worker_state>();
        w_->ctx.shared_cache = s_.opts_.shared_cache;
      }
    }
    ~lease() {
      std::lock_guard<std::mutex> lock(s_.pool_mu_);
      s_.pool_.push_back(std::move(w_));  // LIFO: a sequential reader keeps its decode cache
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    worker_state* operator->() const noexcept { return w_.get(); }

   private:
    server& s_;
    std::unique_ptr<worker_state> w_;
  };

  server(const image& img, const mount_options& opts) : img_(img), opts_(opts) {}

  static server& of(fuse_req_t req) noexcept { return *static_cast<server*>(fuse_req_userdata(req)); }

  // --- errors ---------------------------------------------------------------------------

  void log(const char* op, std::uint64_t node, const error& e) noexcept {
    const std::uint64_t n = failed_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > 100 && n % 10000 != 0) return;  // bounded log volume under a storm of failures
    char line[512];
    std::snprintf(line, sizeof line, "erofsfs fuse: %s on node %llu: %s%s", op,
                  static_cast<unsigned long long>(node), e.message().c_str(),
                  n == 100 ? " (further failures are logged one in 10000)" : "");
    if (opts_.log)
      opts_.log(opts_.log_user, line);
    else
      std::fprintf(stderr, "%s\n", line);
  }

  // The errno a reader gets: absent names and wrong types as usual, anything else about the
  // image (corruption, a failing source, a missing codec, a limit) is EIO, logged.
  int fail(const char* op, std::uint64_t node, const error& e) noexcept {
    if (e.code == errc::not_found) return ENOENT;
    if (e.code == errc::not_a_directory) return ENOTDIR;
    log(op, node, e);
    return EIO;
  }

  // --- inodes and attributes --------------------------------------------------------------

  result<inode> inode_of(fuse_ino_t node) const noexcept {
    const auto nid = nid_of(node, img_.sb().root_nid);
    if (!nid)
      return make_error(errc::invalid_argument, what::node_id_names_no_inode, {.value = node});
    return read_inode(img_, *nid);
  }

  struct stat attr_of(const inode& ino) const noexcept {
    struct stat st {};
    st.st_ino = ino.ino(img_.sb());
    st.st_mode = ino.mode;
    st.st_nlink = ino.nlink;
    st.st_uid = ino.uid;
    st.st_gid = ino.gid;
    st.st_size = static_cast<off_t>(ino.size);
    st.st_blocks = static_cast<blkcnt_t>(ino.blocks_512);
    st.st_blksize = static_cast<blksize_t>(img_.block_size());
    if (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev)
      st.st_rdev = makedev(ino.rdev_major, ino.rdev_minor);
    // Linux's erofs keeps one timestamp: atime and ctime are the mtime.
    st.st_mtim.tv_sec = static_cast<time_t>(ino.mtime);
    st.st_mtim.tv_nsec = static_cast<long>(ino.mtime_nsec);
    st.st_atim = st.st_mtim;
    st.st_ctim = st.st_mtim;
    return st;
  }

  bool entry_of(const inode& ino, fuse_entry_param& e) const noexcept {
    const auto node = node_id_of(ino.nid, img_.sb().root_nid);
    if (!node) return false;
    e = fuse_entry_param{};
    e.ino = *node;
    e.attr = attr_of(ino);
    e.attr_timeout = opts_.cache_timeout;
    e.entry_timeout = opts_.cache_timeout;
    return true;
  }

  // Opened files and directories keep their parsed inode (map header included).
  static const inode& opened(const fuse_file_info* fi) noexcept {
    return *reinterpret_cast<const inode*>(static_cast<std::uintptr_t>(fi->fh));
  }
  // Handles belong to the server, so those the kernel never releases are freed with it.
  std::uint64_t keep(const inode& ino) {
    auto* p = new inode(ino);
    std::lock_guard<std::mutex> lock(open_mu_);
    open_.insert(p);
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
  }
  void drop(fuse_file_info* fi) noexcept {
    auto* p = reinterpret_cast<inode*>(static_cast<std::uintptr_t>(fi->fh));
    {
      std::lock_guard<std::mutex> lock(open_mu_);
      open_.erase(p);
    }
    delete p;
  }

  // Whether the caller may see trusted.* names: Linux's erofs lists them to CAP_SYS_ADMIN only
  // and the VFS refuses their values to others; FUSE tells the caller's uid, not its
  // capabilities, so uid 0 stands for them.
  static bool sees_trusted(fuse_req_t req) noexcept { return fuse_req_ctx(req)->uid == 0; }
  static bool is_trusted(std::string_view name) noexcept {
    return name.substr(0, 8) == "trusted.";
  }

  // --- operations -------------------------------------------------------------------------

  static void op_init(void* user, fuse_conn_info* conn) {
    (void)user;
    // libfuse's defaults already ask for the kernel's full readahead and the largest reads.
    conn->want |= conn->capable &
                  (FUSE_CAP_ASYNC_READ | FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
#ifdef FUSE_CAP_CACHE_SYMLINKS
    conn->want |= conn->capable & FUSE_CAP_CACHE_SYMLINKS;
#endif
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE);
  }

  static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    server& s = of(req);
    auto dir = s.inode_of(parent);
    if (!dir) return void(fuse_reply_err(req, s.fail("lookup", parent, dir.error())));
    lease w(s);
    auto found = erofsfs::lookup(s.img_, *dir, name, w->ctx);
    if (!found && found.error().code == errc::not_found) {
      fuse_entry_param e{};  // node id 0: an absent name, cached like a positive entry
      e.entry_timeout = s.opts_.cache_timeout;
      return void(fuse_reply_entry(req, &e));
    }
    if (!found) return void(fuse_reply_err(req, s.fail("lookup", parent, found.error())));
    auto child = read_inode(s.img_, found->nid);
    if (!child) return void(fuse_reply_err(req, s.fail("lookup", parent, child.error())));
    if (found->type != file_type::unknown && found->type != child->type())
      return void(
          fuse_reply_err(req, s.fail("lookup", parent,
                                     corrupted(what::dirent_file_type_differs_from_the_inode_s,
                                               {.nid = child->nid, .offset = child->pos}))));
    fuse_entry_param e;
    if (!s.entry_of(*child, e))
      return void(fuse_reply_err(
          req, s.fail("lookup", parent, corrupted(what::nid_out_of_range, {.nid = child->nid}))));
    fuse_reply_entry(req, &e);
  }

  static void op_getattr(fuse_req_t req, fuse_ino_t node, fuse_file_info*) {
    server& s = of(req);
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("getattr", node, ino.error())));
    const struct stat st = s.attr_of(*ino);
    fuse_reply_attr(req, &st, s.opts_.cache_timeout);
  }

  static void op_readlink(fuse_req_t req, fuse_ino_t node) {
    server& s = of(req);
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("readlink", node, ino.error())));
    if (!ino->is_symlink()) return void(fuse_reply_err(req, EINVAL));
    lease w(s);
    auto target = read_link(s.img_, *ino, w->ctx);
    if (!target) return void(fuse_reply_err(req, s.fail("readlink", node, target.error())));
    fuse_reply_readlink(req, target->c_str());
  }

  static void op_open(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi) {
    server& s = of(req);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) return void(fuse_reply_err(req, EROFS));
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("open", node, ino.error())));
    if (ino->is_dir()) return void(fuse_reply_err(req, EISDIR));
    if (!ino->is_regular()) return void(fuse_reply_err(req, EINVAL));
    fi->fh = s.keep(*ino);
    fi->keep_cache = 1;  // FOPEN_KEEP_CACHE: the page cache stays valid across opens
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0) s.drop(fi);  // interrupted: no release will come
  }

  static void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    of(req).drop(fi);
    fuse_reply_err(req, 0);
  }

  static void op_read(fuse_req_t req, fuse_ino_t node, size_t size, off_t off, fuse_file_info* fi) {
    server& s = of(req);
    if (off < 0) return void(fuse_reply_err(req, EINVAL));
    lease w(s);
    // In place for uncompressed bytes of a contiguous source (no copy before the kernel's);
    // otherwise read or decoded into the lease's buffer.
    auto v = read_view(s.img_, opened(fi), static_cast<std::uint64_t>(off), size, w->scratch,
                       w->ctx);
    if (!v) return void(fuse_reply_err(req, s.fail("read", node, v.error())));
    fuse_reply_buf(req, reinterpret_cast<const char*>(v->data()), v->size());
  }

  static void op_opendir(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi) {
    server& s = of(req);
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("opendir", node, ino.error())));
    if (!ino->is_dir()) return void(fuse_reply_err(req, ENOTDIR));
    fi->fh = s.keep(*ino);
    fi->keep_cache = 1;
    fi->cache_readdir = 1;  // the kernel may keep the listing: it never changes
    if (fuse_reply_open(req, fi) != 0) s.drop(fi);
  }

  static void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    of(req).drop(fi);
    fuse_reply_err(req, 0);
  }

  // readdir and readdirplus: entries from `off` until the reply buffer (`size`) is full.
  static void list(fuse_req_t req, fuse_ino_t node, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
    server& s = of(req);
    if (off < 0) return void(fuse_reply_err(req, EINVAL));
    lease w(s);
    w->reply.resize(size);
    std::size_t used = 0;
    error child_error{};
    bool child_failed = false;
    const status st = list_dir_from(
        s.img_, opened(fi), static_cast<std::uint64_t>(off), w->scratch, w->ctx,
        [&](const dir_entry& e, std::uint64_t next) -> bool {
          w->name.assign(e.name);  // libfuse wants a C string
          char* at = w->reply.data() + used;
          const std::size_t room = size - used;
          std::size_t n;
          const bool dot = e.name == "." || e.name == "..";
          if (plus && !dot) {
            auto child = read_inode(s.img_, e.nid);
            fuse_entry_param ep;
            if (!child || !s.entry_of(*child, ep)) {
              child_error =
                  child ? corrupted(what::nid_out_of_range, {.nid = e.nid}) : child.error();
              child_failed = true;
              return false;
            }
            n = fuse_add_direntry_plus(req, at, room, w->name.c_str(), &ep,
                                       static_cast<off_t>(next));
          } else {
            // Only st_ino and the type bits are used; "." and ".." in readdirplus carry no
            // node (node id 0), the kernel resolves those itself.
            fuse_entry_param ep{};
            inode by_nid;  // st_ino depends on the nid alone, as Linux's d_ino does
            by_nid.nid = e.nid;
            ep.attr.st_ino = by_nid.ino(s.img_.sb());
            ep.attr.st_mode = static_cast<mode_t>(mode_of(e.type));
            n = plus ? fuse_add_direntry_plus(req, at, room, w->name.c_str(), &ep,
                                              static_cast<off_t>(next))
                     : fuse_add_direntry(req, at, room, w->name.c_str(), &ep.attr,
                                         static_cast<off_t>(next));
          }
          if (n > room) return false;  // full: this entry comes first in the next call
          used += n;
          return true;
        });
    // A failure after some entries were listed returns those; the next call meets it again.
    if (!st && used == 0) return void(fuse_reply_err(req, s.fail("readdir", node, st.error())));
    if (child_failed && used == 0)
      return void(fuse_reply_err(req, s.fail("readdirplus", node, child_error)));
    fuse_reply_buf(req, w->reply.data(), used);
  }

  static std::uint32_t mode_of(file_type t) noexcept {
    switch (t) {
      case file_type::regular: return S_IFREG;
      case file_type::directory: return S_IFDIR;
      case file_type::chrdev: return S_IFCHR;
      case file_type::blkdev: return S_IFBLK;
      case file_type::fifo: return S_IFIFO;
      case file_type::socket: return S_IFSOCK;
      case file_type::symlink: return S_IFLNK;
      case file_type::unknown: break;
    }
    return 0;
  }

  static void op_readdir(fuse_req_t req, fuse_ino_t node, size_t size, off_t off,
                         fuse_file_info* fi) {
    list(req, node, size, off, fi, false);
  }
  static void op_readdirplus(fuse_req_t req, fuse_ino_t node, size_t size, off_t off,
                             fuse_file_info* fi) {
    list(req, node, size, off, fi, true);
  }

  static void op_statfs(fuse_req_t req, fuse_ino_t) {
    server& s = of(req);
    struct statvfs st {};
    st.f_bsize = s.img_.block_size();
    st.f_frsize = s.img_.block_size();
    st.f_blocks = s.img_.sb().blocks;
    for (const device_info& d : s.img_.device_table()) st.f_blocks += d.blocks;
    st.f_files = s.img_.sb().inos;
    st.f_namemax = disk::name_len_max;
    fuse_reply_statfs(req, &st);
  }

  // Size probing: size 0 asks for the length; a buffer too small is ERANGE.
  static void reply_sized(fuse_req_t req, const char* data, std::size_t len, std::size_t size) {
    if (size == 0) return void(fuse_reply_xattr(req, len));
    if (size < len) return void(fuse_reply_err(req, ERANGE));
    fuse_reply_buf(req, data, len);
  }

  static void op_getxattr(fuse_req_t req, fuse_ino_t node, const char* name, size_t size) {
    server& s = of(req);
    if (is_trusted(name) && !sees_trusted(req)) return void(fuse_reply_err(req, ENODATA));
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("getxattr", node, ino.error())));
    auto value = get_xattr(s.img_, *ino, name);
    if (!value && value.error().code == errc::not_found) return void(fuse_reply_err(req, ENODATA));
    if (!value) return void(fuse_reply_err(req, s.fail("getxattr", node, value.error())));
    reply_sized(req, value->data(), value->size(), size);
  }

  static void op_listxattr(fuse_req_t req, fuse_ino_t node, size_t size) {
    server& s = of(req);
    auto ino = s.inode_of(node);
    if (!ino) return void(fuse_reply_err(req, s.fail("listxattr", node, ino.error())));
    const bool trusted = sees_trusted(req);
    lease w(s);
    std::string& names = w->name;
    names.clear();
    std::string full;
    const status st = for_each_xattr(s.img_, *ino, [&](const raw_xattr& x) -> status {
      if (xattr_full_name(s.img_, x, full) && (trusted || !is_trusted(full))) {
        names += full;
        names += '\0';
      }
      return {};
    });
    if (!st) return void(fuse_reply_err(req, s.fail("listxattr", node, st.error())));
    reply_sized(req, names.data(), names.size(), size);
  }

  static fuse_lowlevel_ops operations() noexcept {
    fuse_lowlevel_ops ops{};
    ops.init = op_init;
    ops.lookup = op_lookup;
    ops.getattr = op_getattr;
    ops.readlink = op_readlink;
    ops.open = op_open;
    ops.read = op_read;
    ops.release = op_release;
    ops.opendir = op_opendir;
    ops.readdir = op_readdir;
    ops.readdirplus = op_readdirplus;
    ops.releasedir = op_releasedir;
    ops.statfs = op_statfs;
    ops.getxattr = op_getxattr;
    ops.listxattr = op_listxattr;
    // forget: nothing to do, node ids are computed, not allocated.
    return ops;
  }

  const image& img_;
  mount_options opts_;
  fuse_session* se_ = nullptr;
  std::string mountpoint_;
  bool mounted_ = false;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::mutex pool_mu_;
  std::mutex open_mu_;
  std::unordered_set<inode*> open_;  // handles of open files and directories
  std::vector<std::unique_ptr<worker_state>> pool_;
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace erofsfs::fuse
