// The live kernel as an oracle: mount an EROFS image read-only (file-backed, or on a loop device
// where the kernel cannot mount files) and describe the mounted tree in the same manifest_entry
// form as manifest.jsonl and entries_from_image(), by lstat, readlink, llistxattr/lgetxattr and
// reading every regular file. Test-only; needs root and the erofs filesystem.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manifest.hpp"
#include "sha256.hpp"

namespace erofsfs::test {

inline std::string errno_text(const char* what, int e) {
  return std::string(what) + ": " + std::strerror(e);
}

// Why the kernel oracle cannot run here, or "" if it can.
inline std::string kernel_oracle_unavailable() {
  if (::geteuid() != 0) return "not running as root";
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t tab = line.rfind('\t');
    if (line.substr(tab == std::string::npos ? 0 : tab + 1) == "erofs") return "";
  }
  return "the kernel has no erofs filesystem (/proc/filesystems)";
}

// A read-only loop device over a file, detached automatically once unmounted and closed.
class loop_device {
 public:
  static std::unique_ptr<loop_device> attach(const std::string& file, std::string& err) {
    const int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) return err = errno_text("/dev/loop-control", errno), nullptr;
    const int backing = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (backing < 0) {
      err = errno_text(file.c_str(), errno);
      ::close(ctl);
      return nullptr;
    }
    std::unique_ptr<loop_device> dev;
    // Another process may take the free device between the two calls: retry a few times.
    for (int attempt = 0; attempt < 8 && !dev; ++attempt) {
      const int n = ::ioctl(ctl, LOOP_CTL_GET_FREE);
      if (n < 0) {
        err = errno_text("LOOP_CTL_GET_FREE", errno);
        break;
      }
      const std::string path = "/dev/loop" + std::to_string(n);
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err = errno_text(path.c_str(), errno);
        continue;
      }
      loop_config cfg{};
      cfg.fd = static_cast<unsigned>(backing);
      cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
      if (::ioctl(fd, LOOP_CONFIGURE, &cfg) != 0) {
        const int e = errno;
        err = errno_text("LOOP_CONFIGURE", e);
        ::close(fd);
        if (e == EBUSY) continue;
        break;
      }
      dev.reset(new loop_device(path, fd));
    }
    ::close(backing);
    ::close(ctl);
    return dev;
  }
  loop_device(const loop_device&) = delete;
  loop_device& operator=(const loop_device&) = delete;
  ~loop_device() { ::close(fd_); }  // AUTOCLEAR detaches once nothing uses the device
  const std::string& path() const { return path_; }

 private:
  loop_device(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// An image mounted read-only on a fresh directory under $TMPDIR; unmounted and removed on
// destruction, whatever happened in between.
class mounted_image {
 public:
  enum class backing { file, loop };

  // `devices`: absolute paths of the extra devices in device-table order (mount -o device=).
  static std::unique_ptr<mounted_image> mount(const std::string& image,
                                              const std::vector<std::string>& devices,
                                              std::string& err,
                                              backing how = backing::file) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/erofsfs-oracle-XXXXXX";
    if (!::mkdtemp(base.data())) return err = errno_text("mkdtemp", errno), nullptr;
    std::unique_ptr<mounted_image> m(new mounted_image(base));
    if (::mkdir(m->root_.c_str(), 0700) != 0) return err = errno_text("mkdir", errno), nullptr;
    m->made_root_ = true;

    std::string source = image;
    std::vector<std::string> device_paths = devices;
    if (how == backing::loop) {
      if (!m->attach_loops(source, device_paths, err)) return nullptr;
    }
    for (const std::string& d : device_paths)
      if (d.find(',') != std::string::npos) return err = "device path contains ','", nullptr;
    auto do_mount = [&] {
      std::string data;
      for (const std::string& d : device_paths) data += (data.empty() ? "device=" : ",device=") + d;
      return ::mount(source.c_str(), m->root_.c_str(), "erofs", MS_RDONLY | MS_NODEV | MS_NOSUID,
                     data.empty() ? nullptr : data.c_str());
    };
    int rc = do_mount();
    // A kernel without file-backed mounts (CONFIG_EROFS_FS_BACKED_BY_FILE) wants a block device.
    if (rc != 0 && how == backing::file && (errno == ENOTBLK || errno == EINVAL)) {
      if (!m->attach_loops(source, device_paths, err)) return nullptr;
      rc = do_mount();
    }
    if (rc != 0) return err = errno_text("mount", errno), nullptr;
    m->mounted_ = true;
    return m;
  }

  mounted_image(const mounted_image&) = delete;
  mounted_image& operator=(const mounted_image&) = delete;
  ~mounted_image() {
    if (mounted_) {
      // A just-closed file can keep the mount busy for a moment; then detach lazily.
      bool done = false;
      for (int attempt = 0; attempt < 20 && !done; ++attempt) {
        done = ::umount2(root_.c_str(), 0) == 0;
        if (!done && errno != EBUSY) break;
        if (!done) ::usleep(50 * 1000);
      }
      if (!done) ::umount2(root_.c_str(), MNT_DETACH);
    }
    loops_.clear();
    if (made_root_) ::rmdir(root_.c_str());
    ::rmdir(dir_.c_str());
  }

  const std::string& root() const { return root_; }
  bool on_loop() const { return !loops_.empty(); }

 private:
  explicit mounted_image(std::string dir) : dir_(std::move(dir)), root_(dir_ + "/mnt") {}

  bool attach_loops(std::string& source, std::vector<std::string>& devices, std::string& err) {
    loops_.clear();
    auto primary = loop_device::attach(source, err);
    if (!primary) return false;
    source = primary->path();
    loops_.push_back(std::move(primary));
    for (std::string& d : devices) {
      auto dev = loop_device::attach(d, err);
      if (!dev) return false;
      d = dev->path();
      loops_.push_back(std::move(dev));
    }
    return true;
  }

  std::string dir_;   // the mkdtemp directory
  std::string root_;  // the mount point inside it
  bool made_root_ = false;
  bool mounted_ = false;
  std::vector<std::unique_ptr<loop_device>> loops_;
};

namespace detail {

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

inline const char* type_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "chrdev";
    case S_IFBLK: return "blkdev";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
  }
  return "unknown";
}

// sha256 of a file as read(2) returns it, or "error: ..." if the kernel refuses to read it.
inline std::string hash_file(const std::string& path, std::vector<std::byte>& buf) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return "error: " + errno_text("open", errno);
  sha256 h;
  while (true) {  // bounded: every pass consumes bytes of a file of fixed size, or ends
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "error: " + errno_text("read", errno);
    if (n == 0) break;
    h.update(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
  }
  return h.hex();
}

// sampled_windows() of a big file through pread(2).
inline std::string hash_windows(const std::string& path, std::uint64_t size) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return "error: " + errno_text("open", errno);
  return sampled_windows(size, [&](std::uint64_t at, std::span<std::byte> b) -> std::string {
    for (std::size_t done = 0; done < b.size();) {  // bounded: each pass reads bytes or fails
      const ssize_t n = ::pread(fd.get(), b.data() + done, b.size() - done,
                                static_cast<off_t>(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n == 0 ? "short read" : errno_text("pread", errno);
      done += static_cast<std::size_t>(n);
    }
    return {};
  });
}

inline bool read_xattrs(const std::string& path, manifest_entry& e, std::string& err) {
  std::vector<char> names;
  ssize_t len = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {  // the list cannot grow on a read-only mount
    len = ::llistxattr(path.c_str(), nullptr, 0);
    if (len < 0) return err = errno_text("llistxattr", errno), false;
    names.resize(static_cast<std::size_t>(len));
    len = ::llistxattr(path.c_str(), names.data(), names.size());
    if (len >= 0 || errno != ERANGE) break;
  }
  if (len < 0) return err = errno_text("llistxattr", errno), false;
  std::string value;
  for (std::size_t at = 0; at < static_cast<std::size_t>(len);) {
    const std::string name(names.data() + at);
    at += name.size() + 1;
    const ssize_t vlen = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vlen < 0) return err = errno_text(("lgetxattr " + name).c_str(), errno), false;
    value.resize(static_cast<std::size_t>(vlen));
    const ssize_t got = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (got < 0) return err = errno_text(("lgetxattr " + name).c_str(), errno), false;
    value.resize(static_cast<std::size_t>(got));
    e.xattrs[name] = to_hex(value);
  }
  return true;
}

}  // namespace detail

// Every path below `root` (the root itself as "/"), described as the kernel reports it. The
// walk keeps an explicit stack of directories: no recursion, whatever the tree looks like.
inline std::optional<manifest> entries_from_mount(const std::string& root, std::string& err) {
  manifest m;
  std::vector<std::string> pending;  // image paths of directories still to list
  std::vector<std::byte> buf(1 << 20);
  auto describe = [&](const std::string& path) -> bool {
    const std::string real = path == "/" ? root : root + path;
    struct stat st;
    if (::lstat(real.c_str(), &st) != 0) return err = errno_text(real.c_str(), errno), false;
    manifest_entry e;
    e.path = path;
    e.type = detail::type_of(st.st_mode);
    e.mode = st.st_mode;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.nlink = st.st_nlink;
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.mtime = st.st_mtim.tv_sec;
    e.mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
    e.ino = st.st_ino;
    e.blocks = static_cast<std::uint64_t>(st.st_blocks);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      e.rdev_major = major(st.st_rdev);
      e.rdev_minor = minor(st.st_rdev);
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlink(real.c_str(), target.data(), target.size());
      if (n < 0) return err = errno_text(("readlink " + real).c_str(), errno), false;
      target.resize(static_cast<std::size_t>(n));
      e.target = std::move(target);
    }
    if (S_ISREG(st.st_mode) && e.size > whole_hash_limit)
      e.sha256_windows = detail::hash_windows(real, e.size);
    else if (S_ISREG(st.st_mode))
      e.sha256 = detail::hash_file(real, buf);
    if (!detail::read_xattrs(real, e, err)) return err = real + ": " + err, false;
    if (S_ISDIR(st.st_mode)) pending.push_back(path);
    m.emplace(path, std::move(e));
    return true;
  };
  if (!describe("/")) return std::nullopt;
  while (!pending.empty()) {  // bounded: each directory of a finite read-only tree once
    const std::string dir = pending.back();
    pending.pop_back();
    const std::string real = dir == "/" ? root : root + dir;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(real.c_str()), ::closedir);
    if (!d) return err = errno_text(real.c_str(), errno), std::nullopt;
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* de = ::readdir(d.get())) {
      const std::string name = de->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    if (errno != 0) return err = errno_text(("readdir " + real).c_str(), errno), std::nullopt;
    d.reset();  // keep at most one directory open
    for (const std::string& name : names)
      if (!describe(dir == "/" ? "/" + name : dir + "/" + name)) return std::nullopt;
  }
  return m;
}

}  // namespace erofsfs::test
