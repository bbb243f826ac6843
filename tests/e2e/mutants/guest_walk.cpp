// The kernel's side of the mutant differential test, run as a static program inside the qemu
// guest (never on the host: a damaged image may crash the kernel that mounts it). For each job
// from the job list it writes the mutant into /tmp, mounts it read-only (file-backed, blob
// devices with device=) in a child process, walks the mount writing one record per path
// (record.hpp), unmounts, and appends
//
//   BEGIN <id>\n<records>END <id> <status>\n      (status: ok | timeout | child <wait status>)
//
// to the output (a virtio disk the host reads back), followed by KMSG lines for any kernel
// message about a BUG, an oops, a warning or a hung task. "DONE" ends the stream.
//
// Usage: guest_walk JOBS BASE_DIR OUT START_INDEX TIMEOUT_SECONDS
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "jobs.hpp"
#include "record.hpp"

namespace {

std::string err(int e) {
  const char* n = strerrorname_np(e);
  return std::string("E") + (n ? n : std::to_string(e).c_str());
}

std::string meta_of(const struct stat& st) {
  mutants::meta_fields m{};
  m.type = mutants::type_char(st.st_mode);
  m.mode = st.st_mode;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  m.nlink = static_cast<std::uint32_t>(st.st_nlink);
  m.size = static_cast<std::uint64_t>(st.st_size);
  m.ino = st.st_ino;
  m.blocks = static_cast<std::uint64_t>(st.st_blocks);
  m.mtime = st.st_mtim.tv_sec;
  m.mtime_nsec = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
  m.rdev_major = major(st.st_rdev);
  m.rdev_minor = minor(st.st_rdev);
  return mutants::format_meta(m);
}

std::string file_data(const std::string& full, std::uint64_t size) {
  const int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return err(errno);
  erofsfs::test::sha256 h;
  std::vector<char> buf(64 << 10);
  std::uint64_t left = std::min(size, mutants::read_cap);
  while (left > 0) {  // bounded: left shrinks by every read, EOF stops
    const ssize_t n = ::read(fd, buf.data(), std::min<std::uint64_t>(buf.size(), left));
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return err(e);
    }
    if (n == 0) break;
    h.update(std::as_bytes(std::span(buf.data(), static_cast<std::size_t>(n))));
    left -= static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return mutants::short_hash(h);
}

std::string xattrs_of(const std::string& full) {
  std::vector<char> names(65536);
  const ssize_t n = ::llistxattr(full.c_str(), names.data(), names.size());
  if (n < 0) return err(errno);
  std::vector<std::pair<std::string, std::string>> xs;
  std::vector<char> value(65536);
  for (ssize_t at = 0; at < n;) {  // bounded: at advances past each name
    const std::string name(names.data() + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    const ssize_t v = ::lgetxattr(full.c_str(), name.c_str(), value.data(), value.size());
    if (v < 0) return err(errno);
    xs.emplace_back(name, std::string(value.data(), static_cast<std::size_t>(v)));
  }
  return mutants::xattr_hash(std::move(xs));
}

// Walks the mounted tree depth first (children in readdir order), one record per path.
void walk(const std::string& root, std::FILE* out) {
  struct item {
    std::string path;
    unsigned depth;
  };
  std::vector<item> stack{{"/", 0}};
  unsigned records = 0;
  while (!stack.empty() && records < mutants::max_paths) {  // bounded by max_paths
    const item it = stack.back();
    stack.pop_back();
    ++records;
    const std::string full = it.path == "/" ? root : root + it.path;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      const std::string e = err(errno);
      std::fputs(mutants::line(it.path, e, e, e).c_str(), out);
      continue;
    }
    std::string data = "-";
    std::vector<std::string> children;
    if (S_ISREG(st.st_mode)) {
      data = file_data(full, static_cast<std::uint64_t>(st.st_size));
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(8192);
      const ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      data = n < 0 ? err(errno) : mutants::escape(std::string(target.data(), static_cast<std::size_t>(n)));
    } else if (S_ISDIR(st.st_mode)) {
      // getdents64 itself, not readdir(3): glibc's readdir hides entries whose d_ino is 0, and
      // a mutated dirent may well point at nid 0.
      const int d = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (d < 0) {
        data = err(errno);
      } else {
        std::string acc;
        std::vector<char> buf(32768);
        int e = 0;
        while (true) {  // bounded: the directory's size
          const long n = ::syscall(SYS_getdents64, d, buf.data(), buf.size());
          if (n < 0) e = errno;
          if (n <= 0) break;
          for (long at = 0; at < n;) {  // bounded: at advances by each record's length
            struct linux_dirent64 {
              std::uint64_t d_ino;
              std::int64_t d_off;
              unsigned short d_reclen;
              unsigned char d_type;
              char d_name[1];
            };
            const auto* r = reinterpret_cast<const linux_dirent64*>(buf.data() + at);
            const std::string name = r->d_name;
            if (name != "." && name != "..") {
              mutants::add_dir_entry(acc, name, r->d_type, r->d_ino);
              children.push_back(name);
            }
            at += r->d_reclen;
          }
        }
        ::close(d);
        if (e != 0) {
          data = err(e);
          children.clear();  // a failed listing is not walked (on either side)
        } else {
          data = mutants::short_hash(acc);
        }
      }
    }
    std::fputs(mutants::line(it.path, meta_of(st), data, xattrs_of(full)).c_str(), out);
    if (it.depth >= mutants::max_depth) continue;
    for (auto c = children.rbegin(); c != children.rend(); ++c)
      stack.push_back({(it.path == "/" ? "" : it.path) + "/" + *c, it.depth + 1});
  }
}

// Runs in the child: mount, walk, unmount. Exit status 0 also when the mount is refused (that
// is a result: the root record carries the errno).
int run_one(const std::string& image, const std::string& options, const std::string& dir,
            const std::string& out_file) {
  std::FILE* out = std::fopen(out_file.c_str(), "w");
  if (!out) return 3;
  if (::mount(image.c_str(), dir.c_str(), "erofs", MS_RDONLY | MS_NOSUID | MS_NODEV,
              options.empty() ? nullptr : options.c_str()) != 0) {
    const std::string e = err(errno);
    std::fputs(mutants::line("/", e, e, e).c_str(), out);
    std::fclose(out);
    return 0;
  }
  walk(dir, out);
  std::fclose(out);
  if (::umount(dir.c_str()) != 0) return 4;
  return 0;
}

bool write_all(int fd, const std::string& s) {
  for (std::size_t done = 0; done < s.size();) {  // bounded: done grows or we fail
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Kernel messages since the last call that report a kernel fault.
std::string kernel_faults(int kmsg) {
  std::string found;
  char buf[8192];
  while (true) {  // bounded: /dev/kmsg returns EAGAIN once drained
    const ssize_t n = ::read(kmsg, buf, sizeof buf - 1);
    if (n < 0 && errno == EPIPE) continue;  // overwritten records: keep reading
    if (n <= 0) break;
    buf[n] = 0;
    const char* msg = std::strchr(buf, ';');
    const std::string text = msg ? msg + 1 : buf;
    for (const char* key : {"BUG", "Oops", "WARNING", "general protection", "hung_task",
                            "blocked for more than", "Call Trace", "RIP:"})
      if (text.find(key) != std::string::npos) {
        found += "KMSG " + text.substr(0, text.find('\n')) + "\n";
        break;
      }
  }
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: guest_walk JOBS BASE_DIR OUT START_INDEX TIMEOUT_SECONDS\n");
    return 2;
  }
  std::vector<mutants::job> jobs;
  if (!mutants::read_jobs(argv[1], jobs)) {
    std::fprintf(stderr, "guest_walk: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string base = argv[2];
  const int out = ::open(argv[3], O_WRONLY | O_CLOEXEC);
  if (out < 0) {
    std::perror(argv[3]);
    return 1;
  }
  const std::size_t start = std::strtoul(argv[4], nullptr, 10);
  const long timeout_ms = std::strtol(argv[5], nullptr, 10) * 1000;
  const int kmsg = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (kmsg >= 0) ::lseek(kmsg, 0, SEEK_END);
  std::map<std::string, std::string> pristine;  // image bytes by name
  ::mkdir("/tmp/m", 0755);
  for (std::size_t i = start; i < jobs.size(); ++i) {  // bounded: the job list
    const mutants::job& j = jobs[i];
    auto& bytes = pristine[j.image];
    if (bytes.empty() && !mutants::slurp(base + "/" + j.image, bytes)) {
      std::fprintf(stderr, "guest_walk: cannot read %s\n", j.image.c_str());
      return 1;
    }
    std::string img = bytes;
    mutants::apply(img, j.patches);
    // A new file and mount point per mutant: a mount stuck in a hung reader keeps its own.
    const std::string file = "/tmp/m/" + j.id + ".img", dir = "/tmp/m/" + j.id + ".mnt",
                      rec = "/tmp/m/" + j.id + ".rec";
    {
      std::FILE* f = std::fopen(file.c_str(), "wb");
      if (!f || std::fwrite(img.data(), 1, img.size(), f) != img.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "guest_walk: cannot write %s\n", file.c_str());
        return 1;
      }
    }
    ::mkdir(dir.c_str(), 0755);
    std::string options;
    for (const std::string& d : j.devices) options += (options.empty() ? "device=" : ",device=") + base + "/" + d;
    // Announce the job before running it: if the guest dies here, the host knows which mutant.
    write_all(out, "BEGIN " + j.id + "\n");
    ::fsync(out);
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(run_one(file, options, dir, rec));
    std::string status = "timeout";
    for (long waited = 0; waited <= timeout_ms; waited += 10) {  // bounded by the timeout
      int ws = 0;
      if (::waitpid(pid, &ws, WNOHANG) == pid) {
        status = WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? "ok" : "child " + std::to_string(ws);
        break;
      }
      const timespec ten_ms{0, 10 * 1000 * 1000};
      ::nanosleep(&ten_ms, nullptr);
    }
    std::string records;
    if (status == "timeout") {
      ::kill(pid, SIGKILL);  // it may be stuck in the kernel: leave it, its mount and its file
    } else {
      mutants::slurp(rec, records);
      ::umount2(dir.c_str(), MNT_DETACH);  // in case the child failed before unmounting
      ::unlink(file.c_str());
      ::unlink(rec.c_str());
      ::rmdir(dir.c_str());
    }
    const std::string faults = kmsg >= 0 ? kernel_faults(kmsg) : "";
    write_all(out, records + faults + "END " + j.id + " " + status + "\n");
    ::fsync(out);
    // A heartbeat on the console: the host stops a guest that has gone quiet.
    std::printf("MUTANT %zu/%zu %s %s\n", i + 1, jobs.size(), j.id.c_str(), status.c_str());
    std::fflush(stdout);
  }
  write_all(out, "DONE\n");
  ::fsync(out);
  return 0;
}
