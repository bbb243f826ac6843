// The FUSE backend (backends/fuse/): node ids and readdir offsets on their own, then every
// fixture image served through FUSE on this machine's kernel and walked like the kernel
// oracle walks a kernel mount (tests/support/mounted_tree.hpp): the FUSE view must equal the
// kernel's own mount of the image, as root and as an unprivileged user; concurrent readers;
// a failing source and a corrupted image give EIO, a log line, and a daemon that lives on; the
// `erofsfs mount` command unmounts cleanly on SIGTERM. Cases that need FUSE print
// "fuse skipped: <why>" where /dev/fuse, fusermount3 or root is missing (ctest: skipped).
#include <doctest/doctest.h>

#include <erofsfs/backends/fuse/dir_offsets.hpp>
#include <erofsfs/backends/fuse/nodeid.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "support/codecs.hpp"
#include "support/fixture_list.hpp"
#include "support/manifest.hpp"
#include "support/mounted_tree.hpp"

using namespace erofsfs;
using namespace erofsfs::test;

TEST_CASE("fuse node ids: the root is FUSE_ROOT_ID and every addressable nid maps both ways") {
  constexpr std::uint64_t root = 36;
  CHECK(fuse::node_id_of(root, root) == fuse::root_node_id);
  CHECK(fuse::nid_of(fuse::root_node_id, root) == root);
  const std::uint64_t metabox = std::uint64_t{1} << 63;
  for (const std::uint64_t nid : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{37},
                                  (std::uint64_t{1} << 59) - 1, metabox, metabox | 5,
                                  metabox | ((std::uint64_t{1} << 59) - 1)}) {
    CAPTURE(nid);
    const auto id = fuse::node_id_of(nid, root);
    REQUIRE(id);
    CHECK(*id >= 2);
    CHECK(fuse::nid_of(*id, root) == nid);
  }
}

TEST_CASE("fuse node ids: ids and nids outside the mapping are refused") {
  constexpr std::uint64_t root = 36;
  CHECK_FALSE(fuse::node_id_of(std::uint64_t{1} << 59, root));
  CHECK_FALSE(fuse::node_id_of((std::uint64_t{1} << 63) | (std::uint64_t{1} << 59), root));
  CHECK_FALSE(fuse::node_id_of(~std::uint64_t{0}, root));
  CHECK_FALSE(fuse::nid_of(0, root));
  CHECK_FALSE(fuse::nid_of(*fuse::node_id_of(root + 1, root) - 1, root));  // root's plain id
  CHECK_FALSE(fuse::nid_of(~std::uint64_t{0}, root));
  CHECK_FALSE(fuse::nid_of((std::uint64_t{1} << 60) + 2, root));
}

namespace {

struct listed {
  std::string name;
  std::uint64_t nid;
};

// Lists `dir` one entry per call, each call resuming at the offset the previous one returned,
// as the kernel does with a tiny buffer.
std::vector<listed> list_one_by_one(const image& img, const inode& dir, read_context& ctx) {
  std::vector<listed> out;
  std::vector<std::byte> scratch;
  std::uint64_t off = 0;
  for (std::size_t calls = 0; calls < 100000; ++calls) {  // bounded: fixture directories are small
    bool got = false;
    const status st = fuse::list_dir_from(img, dir, off, scratch, ctx,
                                          [&](const dir_entry& e, std::uint64_t next) {
                                            if (got) return false;
                                            got = true;
                                            out.push_back({std::string(e.name), e.nid});
                                            off = next;
                                            return true;
                                          });
    REQUIRE(st);
    if (!got) break;
  }
  return out;
}

}  // namespace

TEST_CASE("fuse readdir offsets: resuming at every offset lists what dir_reader lists") {
  for (const char* name : {"plain-4k", "plain-dot-omitted", "dirs-compressed", "plain-b512"}) {
    CAPTURE(name);
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    const image& img = (*fx)->img;
    read_context walk_ctx, ctx;  // the walk's own, and one for the listings inside it
    unsigned dirs = 0;
    const status st = walk(img, walk_ctx, [&](const walk_entry& w) -> status {
      if (!w.ino.is_dir()) return {};
      std::vector<listed> want;
      dir_reader r(img, w.ino, ctx);
      dir_entry e;
      while (true) {  // bounded by the directory's entries
        auto more = r.next(e);
        REQUIRE(more);
        if (!*more) break;
        want.push_back({std::string(e.name), e.nid});
      }
      const std::vector<listed> got = list_one_by_one(img, w.ino, ctx);
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].name == want[i].name);
        CHECK(got[i].nid == want[i].nid);
      }
      ++dirs;
      return {};
    });
    REQUIRE(st);
    CHECK(dirs > 0);
  }
}

#ifdef EROFSFS_HAVE_FUSE3

#include <erofsfs/backends/fuse/server.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#ifdef EROFSFS_HAVE_CURL
#include "support/http_servers.hpp"
#endif

namespace {

constexpr long fuse_super_magic = 0x65735546;
constexpr const char* test_user = "erofsfs-test";

// Why FUSE cannot be tested here, or "".
std::string fuse_unavailable() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return errno_text("/dev/fuse", errno);
  return "";
}

std::string temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string d = std::string(tmp && *tmp ? tmp : "/tmp") + "/erofsfs-fuse-XXXXXX";
  return ::mkdtemp(d.data()) ? d : std::string();
}

// A server on a fresh directory, serving from its own thread; stopped, joined and removed on
// destruction. Every file under it must be closed by then (a lazy unmount waits for them).
class fuse_mount {
 public:
  static std::unique_ptr<fuse_mount> start(const image& img, std::string& err,
                                           fuse::mount_options mo = {}) {
    std::unique_ptr<fuse_mount> m(new fuse_mount);
    m->dir_ = temp_dir();
    if (m->dir_.empty()) return err = errno_text("mkdtemp", errno), nullptr;
    auto srv = fuse::server::mount(img, m->dir_, mo);
    if (!srv) return err = srv.error().message(), nullptr;
    m->srv_ = std::move(*srv);
    m->thread_ = std::thread([s = m->srv_.get(), &rc = m->run_status_] { rc = s->run(); });
    return m;
  }
  ~fuse_mount() {
    if (srv_) {
      srv_->stop();
      thread_.join();
      srv_.reset();
    }
    ::rmdir(dir_.c_str());
  }
  const std::string& root() const { return dir_; }
  fuse::server& server() { return *srv_; }

 private:
  fuse_mount() = default;
  std::string dir_;
  std::unique_ptr<fuse::server> srv_;
  std::thread thread_;
  status run_status_;
};

// What the kernel's own erofs mount shows of fixture `name` (the library's view where the
// kernel cannot mount here: the kernel oracle proves the two equal).
std::optional<manifest> kernel_view(const std::string& name, const fixture& fx, std::string& err) {
  if (kernel_oracle_unavailable().empty()) {
    auto mnt = mounted_image::mount(fixture_dir(name) + "/" + name + ".erofs", fx.device_files, err);
    if (mnt) return entries_from_mount(mnt->root(), err);
    if (err != errno_text("mount", EPERM) && err != errno_text("mount", EACCES)) return std::nullopt;
  }
  auto lib = entries_from_image(fx.img);
  if (!lib) return err = lib.error().message(), std::nullopt;
  return std::move(*lib);
}

// Serves `img` through FUSE, walks the mount and compares with `expected`.
std::vector<std::string> fuse_differences(const image& img, const manifest& expected) {
  std::string err;
  auto m = fuse_mount::start(img, err);
  if (!m) return {"fuse mount: " + err};
  auto got = entries_from_mount(m->root(), err);
  if (!got) return {"fuse walk: " + err};
  return compare_manifests(expected, *got);
}

// Runs `f` in a child process with the credentials of `user`; returns what it wrote to the
// pipe (one difference per line) or why it could not run.
template <class F>
std::string run_as(const passwd& pw, F&& f) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0 ||
        ::setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0)
      ::_exit(3);
    const std::string out = f();
    std::size_t at = 0;
    while (at < out.size()) {  // bounded: every write makes progress or ends the loop
      const ssize_t n = ::write(p[1], out.data() + at, out.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string text;
  char buf[4096];
  while (true) {  // bounded: the child's output ends when it exits
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    text += "child as " + std::string(pw.pw_name) + " failed (status " + std::to_string(st) + ")\n";
  return text;
}

// The unprivileged account the tests run as, created (without a home) if missing.
const passwd* test_account(std::string& why) {
  if (::geteuid() != 0) return why = "not running as root (needed to switch users)", nullptr;
  if (!::getpwnam(test_user)) {
    const std::string cmd = std::string("useradd -M -r -s /usr/sbin/nologin ") + test_user +
                            " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return why = "useradd " + std::string(test_user) + " failed", nullptr;
  }
  const passwd* pw = ::getpwnam(test_user);
  if (!pw) return why = "no user " + std::string(test_user), nullptr;
  struct stat st;
  if (::stat("/dev/fuse", &st) != 0 || (st.st_mode & 06) != 06)
    return why = "/dev/fuse is not open to other users (mode 0666 is the udev default; "
                 "scripts/deps.sh sets it)", nullptr;
  if (::access("/usr/bin/fusermount3", X_OK) != 0) return why = "no /usr/bin/fusermount3", nullptr;
  return pw;
}

// A source that fails every read once a byte budget is spent, like a remote blob store going
// away; no bytes() so metadata is read through it too.
class failing_source {
 public:
  explicit failing_source(source_ref inner) : inner_(inner) {}
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (read_.fetch_add(dst.size()) + dst.size() > budget_.load()) return make_error_code(errc::io_error);
    return inner_.read_at(off, dst);
  }
  std::uint64_t size() const noexcept { return inner_.size().value_or(0); }
  void fail_after(std::uint64_t more) { budget_ = read_.load() + more; }

 private:
  source_ref inner_;
  mutable std::atomic<std::uint64_t> read_{0};
  std::atomic<std::uint64_t> budget_{~std::uint64_t{0}};
};

void count_line(void* user, const char*) { ++*static_cast<std::atomic<unsigned>*>(user); }

// Opens and reads every regular file below `root`; returns the errno of each failed step.
std::vector<int> read_everything(const std::string& root) {
  std::vector<int> errors;
  std::vector<std::string> pending{root};
  std::vector<char> buf(1 << 16);
  while (!pending.empty()) {  // bounded: each directory of a finite tree once
    const std::string dir = pending.back();
    pending.pop_back();
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
      errors.push_back(errno);
      continue;
    }
    std::vector<std::string> names;
    while (const dirent* de = ::readdir(d.get())) {
      const std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(dir + "/" + n);
    }
    d.reset();
    for (const std::string& p : names) {
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) {
        errors.push_back(errno);
        continue;
      }
      if (S_ISDIR(st.st_mode)) pending.push_back(p);
      if (!S_ISREG(st.st_mode)) continue;
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        errors.push_back(errno);
        continue;
      }
      ssize_t n;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) {  // bounded by the file's size
      }
      if (n < 0) errors.push_back(errno);
      ::close(fd);
    }
  }
  return errors;
}

}  // namespace

TEST_CASE("fuse: every fixture image served through FUSE equals the kernel's mount of it") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  unsigned checked = 0;
  for (const std::string& name : fixture_names()) {
    CAPTURE(name);
    if (const std::string missing = fixture_missing_codecs(name); !missing.empty()) {
      MESSAGE(name << " left out: needs " << missing << ", not in this build");
      continue;
    }
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    std::string err;
    const auto expected = kernel_view(name, **fx, err);
    REQUIRE_MESSAGE(expected, err);
    for (const std::string& d : fuse_differences((*fx)->img, *expected)) FAIL_CHECK(name << ": " << d);
    ++checked;
  }
  MESSAGE("fuse: " << checked << " images compared with "
                   << std::string(kernel_oracle_unavailable().empty() ? "kernel mounts" : "the library"));
  CHECK(checked > 0);
}

TEST_CASE("fuse: an unprivileged user mounts through fusermount3 and sees the same tree") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  std::string why;
  const passwd* pw = test_account(why);
  if (!pw) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  const passwd user = *pw;
  // The expected views are taken as root, before switching: the kernel mounts need root.
  std::map<std::string, manifest> expected;
  for (const std::string& name : fixture_names()) {
    if (const std::string missing = fixture_missing_codecs(name); !missing.empty()) {
      MESSAGE(name << " left out: needs " << missing << ", not in this build");
      continue;
    }
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    std::string err;
    auto m = kernel_view(name, **fx, err);
    REQUIRE_MESSAGE(m, name << ": " << err);
    // trusted.* names are listed to root only, as Linux's erofs does (the VFS refuses their
    // values to everyone else).
    for (auto& kv : *m)
      std::erase_if(kv.second.xattrs, [](const auto& x) { return x.first.rfind("trusted.", 0) == 0; });
    expected.emplace(name, std::move(*m));
  }
  const std::string report = run_as(user, [&] {
    std::string out;
    unsigned checked = 0;
    for (const auto& [name, want] : expected) {
      auto fx = open_fixture(name, all_decoders());
      if (!fx) {
        out += name + ": open: " + fx.error().message() + "\n";
        continue;
      }
      for (const std::string& d : fuse_differences((*fx)->img, want)) out += name + ": " + d + "\n";
      ++checked;
    }
    return out + "checked " + std::to_string(checked) + "\n";
  });
  CHECK(report == "checked " + std::to_string(expected.size()) + "\n");
  MESSAGE("fuse as " << std::string(user.pw_name) << ": " << report);
}

TEST_CASE("fuse: threads reading every file at once all see the image's bytes") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  for (const char* name : {"plain-4k", "lz4", "lz4hc-pcluster16k"}) {
    CAPTURE(name);
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    auto want = entries_from_image((*fx)->img);
    REQUIRE(want);
    std::string err;
    auto m = fuse_mount::start((*fx)->img, err);
    REQUIRE_MESSAGE(m, err);
    constexpr unsigned readers = 8;
    std::vector<std::vector<std::string>> diffs(readers);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < readers; ++i)
      threads.emplace_back([&, i] {
        std::string e;
        auto got = entries_from_mount(m->root(), e);
        diffs[i] = got ? compare_manifests(*want, *got) : std::vector<std::string>{e};
      });
    for (auto& t : threads) t.join();
    for (unsigned i = 0; i < readers; ++i)
      for (const std::string& d : diffs[i]) FAIL_CHECK("reader " << i << ": " << d);
  }
}

TEST_CASE("fuse: requests sharing a decoded cache serve the image's bytes and fill it") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  for (const char* name : {"lz4", "lz4-fragments", "real-python-allfrag"}) {
    CAPTURE(name);
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    auto want = entries_from_image((*fx)->img);
    REQUIRE(want);
    decoded_cache cache(256u << 10, 2);  // small: eviction happens while requests run
    fuse::mount_options mo;
    mo.shared_cache = &cache;
    std::string err;
    auto m = fuse_mount::start((*fx)->img, err, mo);
    REQUIRE_MESSAGE(m, err);
    constexpr unsigned readers = 4;
    std::vector<std::vector<std::string>> diffs(readers);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < readers; ++i)
      threads.emplace_back([&, i] {
        std::string e;
        auto got = entries_from_mount(m->root(), e);
        diffs[i] = got ? compare_manifests(*want, *got) : std::vector<std::string>{e};
      });
    for (auto& t : threads) t.join();
    for (unsigned i = 0; i < readers; ++i)
      for (const std::string& d : diffs[i]) FAIL_CHECK("reader " << i << ": " << d);
    CHECK(cache.stats().insertions > 0);
    CHECK(cache.stats().bytes <= cache.budget());
  }
}

TEST_CASE("fuse: a source that starts failing gives EIO and a log line; the daemon lives on") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  for (const char* name : {"plain-4k", "lz4"}) {
    CAPTURE(name);
    auto mm = mmap_source::open((fixture_dir(name) + "/" + name + ".erofs").c_str());
    REQUIRE(mm);
    failing_source src(*mm);
    auto img = open_image(src);
    REQUIRE(img);
    std::atomic<unsigned> lines{0};
    fuse::mount_options mo;
    mo.log = count_line;
    mo.log_user = &lines;
    std::string err;
    auto m = fuse_mount::start(*img, err, mo);
    REQUIRE_MESSAGE(m, err);
    src.fail_after(16 * 1024);  // some metadata and data still arrive, then nothing does
    const std::vector<int> errors = read_everything(m->root());
    CHECK_FALSE(errors.empty());
    for (const int e : errors) CHECK_MESSAGE(e == EIO, std::strerror(e));
    CHECK(lines.load() > 0);
    CHECK(m->server().stats().requests_failed >= lines.load());
    struct statfs sf;
    CHECK(::statfs(m->root().c_str(), &sf) == 0);  // still answering
    CHECK(sf.f_type == fuse_super_magic);
  }
}

TEST_CASE("fuse: a corrupted directory block is EIO to the reader, not a crash") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  auto fx = open_fixture("plain-4k");
  REQUIRE(fx);
  read_context ctx;
  auto bigdir = resolve_path((*fx)->img, "/bigdir", ctx);
  REQUIRE(bigdir);
  REQUIRE(bigdir->layout != data_layout::chunk_based);
  REQUIRE(!bigdir->is_compressed());
  const auto bytes = (*fx)->primary->bytes();
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  // The first dirent's nameoff (bytes 8-9 of the directory's first block) past the block.
  const std::size_t at = static_cast<std::size_t>(bigdir->startblk << (*fx)->img.blkszbits()) + 8;
  REQUIRE(at + 2 <= copy.size());
  copy[at] = std::byte{0xFF};
  copy[at + 1] = std::byte{0xFF};
  memory_source src(copy);
  auto img = open_image(src);
  REQUIRE(img);
  std::atomic<unsigned> lines{0};
  fuse::mount_options mo;
  mo.log = count_line;
  mo.log_user = &lines;
  std::string err;
  auto m = fuse_mount::start(*img, err, mo);
  REQUIRE_MESSAGE(m, err);
  DIR* d = ::opendir((m->root() + "/bigdir").c_str());
  REQUIRE(d);
  errno = 0;
  const dirent* de = ::readdir(d);
  const int e = errno;
  ::closedir(d);
  CHECK(de == nullptr);
  CHECK(e == EIO);
  struct stat st;
  CHECK(::lstat((m->root() + "/bigdir/!").c_str(), &st) != 0);  // the search reaches block 0
  CHECK(errno == EIO);
  CHECK(lines.load() >= 2);
  CHECK(::lstat((m->root() + "/data").c_str(), &st) == 0);  // the rest is served
}

namespace {

// Runs `erofsfs mount IMAGE DIR -f --device D...` (the image and devices are paths or URLs),
// compares the mounted tree with the library's view of fixture `name`, then stops the daemon
// with SIGTERM and checks that it unmounted and exited 0.
void mount_compare_and_stop(const std::string& name, const std::string& image,
                            const std::vector<std::string>& devices) {
  const std::string dir = temp_dir();
  REQUIRE(!dir.empty());
  std::vector<std::string> args{EROFSFS_CLI, "mount", image, dir, "-f"};
  for (const std::string& d : devices) {
    args.push_back("--device");
    args.push_back(d);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  // Wait for the mount to appear (the daemon mounts, then serves).
  struct statfs sf {};
  for (int i = 0; i < 200; ++i) {  // bounded: at most 200 polls
    if (::statfs(dir.c_str(), &sf) == 0 && sf.f_type == fuse_super_magic) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(sf.f_type == fuse_super_magic);
  auto fx = open_fixture(name);
  REQUIRE(fx);
  auto want = entries_from_image((*fx)->img);
  REQUIRE(want);
  std::string err;
  auto got = entries_from_mount(dir, err);
  REQUIRE_MESSAGE(got, err);
  for (const std::string& d : compare_manifests(*want, *got)) FAIL_CHECK(d);
  REQUIRE(::kill(pid, SIGTERM) == 0);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  REQUIRE(::statfs(dir.c_str(), &sf) == 0);
  CHECK(sf.f_type != fuse_super_magic);  // unmounted
  ::rmdir(dir.c_str());
}

}  // namespace

TEST_CASE("fuse: erofsfs mount -f serves until SIGTERM and then unmounts cleanly") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  if (std::string(EROFSFS_CLI).empty()) {
    MESSAGE("fuse skipped: the erofsfs tool is not built");
    return;
  }
  const std::string image = fixture_dir("chunk-4k-blobdev") + "/chunk-4k-blobdev.erofs";
  mount_compare_and_stop("chunk-4k-blobdev", image,
                         fixture_device_files(fixture_dir("chunk-4k-blobdev")));
}

#ifdef EROFSFS_HAVE_CURL
// The image and its blob device are fetched lazily with range requests from a real nginx.
TEST_CASE("fuse: erofsfs mount serves an image and its blob device straight from an HTTP server") {
  if (const std::string why = fuse_unavailable(); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  if (std::string(EROFSFS_CLI).empty()) {
    MESSAGE("fuse skipped: the erofsfs tool is not built");
    return;
  }
  erofsfs::test::nginx_server srv;
  if (const std::string why = srv.start(std::string(EROFSFS_TEST_DATA) + "/images"); !why.empty()) {
    MESSAGE("fuse skipped: " << why);
    return;
  }
  const std::string name = "chunk-4k-blobdev";
  std::vector<std::string> devices;
  for (const std::string& d : fixture_device_files(fixture_dir(name)))
    devices.push_back(srv.url("/" + name + "/" + std::filesystem::path(d).filename().string()));
  REQUIRE(!devices.empty());
  mount_compare_and_stop(name, srv.url("/" + name + "/" + name + ".erofs"), devices);
}
#endif

#endif  // EROFSFS_HAVE_FUSE3
