// The erofsfs command-line tool, run as a separate process on the fixture images and checked
// against each image's manifest (the kernel's view). Skipped when the tool was not built.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/codecs.hpp"
#include "support/image_builder.hpp"
#include "support/manifest.hpp"
#include "support/sha256.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

const std::string images_dir = std::string(EROFSFS_TEST_DATA) + "/images/";

bool have_cli() {
  if (std::string_view(EROFSFS_CLI).empty()) {
    MESSAGE("erofsfs tool not built (EROFSFS_BUILD_EXAMPLES=OFF): CLI test skipped");
    return false;
  }
  return true;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using erofsfs::test::manifest;
using erofsfs::test::manifest_entry;

manifest load(const std::string& image) {
  std::string err;
  auto m = erofsfs::test::load_manifest(images_dir + image + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(m.has_value(), err);
  return std::move(*m);
}

const manifest_entry& entry(const manifest& m, const std::string& path) {
  const auto it = m.find(path);
  REQUIRE_MESSAGE(it != m.end(), path);
  return it->second;
}

// A top-level string field of an image's info.json ("UUID": "..." and the like).
std::string info_field(const std::string& image, const std::string& key) {
  const std::string text = slurp(images_dir + image + "/info.json");
  const std::string k = "\"" + key + "\": \"";
  const std::size_t at = text.find(k);
  REQUIRE_MESSAGE(at != std::string::npos, key);
  const std::size_t from = at + k.size();
  return text.substr(from, text.find('"', from) - from);
}

std::string image_path(const std::string& name) { return images_dir + name + "/" + name + ".erofs"; }

// "--device FILE" arguments for every extra device of an image, in device-table order.
std::vector<std::string> device_args(const std::string& name) {
  std::vector<std::string> args;
  for (const std::string& f : erofsfs::test::fixture_device_files(images_dir + name)) {
    args.push_back("--device");
    args.push_back(f);
  }
  return args;
}

// --- running the tool -----------------------------------------------------------------------

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "erofsfs-cli-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct run_result {
  int rc = -1;
  std::string out, err;
};

// Runs the tool with `args`, stdout and stderr captured through files (no pipe deadlocks).
run_result run_cli(const std::vector<std::string>& args) {
  temp_dir io;
  const std::string out_path = (io.path / "out").string(), err_path = (io.path / "err").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> all{EROFSFS_CLI};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int e = posix_spawn(&pid, EROFSFS_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(e == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  run_result r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

std::string sha256_of(std::string_view s) {
  return erofsfs::test::sha256::of(std::as_bytes(std::span(s.data(), s.size())));
}

std::string mode_string(unsigned mode) {
  std::string s(10, '-');
  switch (mode & S_IFMT) {
    case S_IFDIR: s[0] = 'd'; break;
    case S_IFLNK: s[0] = 'l'; break;
    case S_IFCHR: s[0] = 'c'; break;
    case S_IFBLK: s[0] = 'b'; break;
    case S_IFIFO: s[0] = 'p'; break;
    case S_IFSOCK: s[0] = 's'; break;
  }
  for (int i = 0; i < 9; ++i)
    if (mode & (0400u >> i)) s[1 + i] = "rwx"[i % 3];
  if (mode & 04000) s[3] = s[3] == 'x' ? 's' : 'S';
  if (mode & 02000) s[6] = s[6] == 'x' ? 's' : 'S';
  if (mode & 01000) s[9] = s[9] == 'x' ? 't' : 'T';
  return s;
}

std::string utc(long long t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Compares an extracted tree with the manifest: type, permissions, owner, link count, size,
// mtime, symlink target, device number, content hash, xattrs and hard-link identity.
void check_extracted(const fs::path& root, const manifest& m) {
  std::map<std::uint64_t, ino_t> inode_of;  // manifest ino -> extracted st_ino
  for (const auto& kv : m) {
    const std::string& path = kv.first;  // not a structured binding: CAPTURE needs a variable
    const manifest_entry& e = kv.second;
    const std::string host = (root / path.substr(1)).string();
    CAPTURE(path);
    struct stat st;
    REQUIRE(::lstat(host.c_str(), &st) == 0);
    CHECK(st.st_mode == static_cast<mode_t>(e.mode));
    CHECK(st.st_uid == static_cast<uid_t>(e.uid));
    CHECK(st.st_gid == static_cast<gid_t>(e.gid));
    CHECK(st.st_nlink == static_cast<nlink_t>(e.nlink));
    CHECK(st.st_mtim.tv_sec == e.mtime);
    CHECK(st.st_mtim.tv_nsec == static_cast<long>(e.mtime_nsec));
    const std::string& type = e.type;
    if (type != "dir") CHECK(static_cast<std::uint64_t>(st.st_size) == e.size);
    if (type == "chrdev" || type == "blkdev") {
      CHECK(major(st.st_rdev) == e.rdev_major.value_or(~0u));
      CHECK(minor(st.st_rdev) == e.rdev_minor.value_or(~0u));
    }
    if (type == "symlink") {
      std::string target(4096, '\0');
      const ssize_t n = ::readlink(host.c_str(), target.data(), target.size());
      REQUIRE(n >= 0);
      target.resize(static_cast<std::size_t>(n));
      CHECK(target == e.target.value_or(""));
    }
    if (type == "file") CHECK(sha256_of(slurp(host)) == e.sha256);
    if (type != "dir") {
      auto [it, fresh] = inode_of.emplace(e.ino, st.st_ino);
      if (!fresh) CHECK_MESSAGE(it->second == st.st_ino, "hard link not preserved");
    }
    std::map<std::string, std::string> got;
    std::string names(65536, '\0');
    const ssize_t len = ::llistxattr(host.c_str(), names.data(), names.size());
    REQUIRE(len >= 0);
    for (std::size_t at = 0; at < static_cast<std::size_t>(len);) {
      const std::string name(names.data() + at);
      at += name.size() + 1;
      std::string value(65536, '\0');
      const ssize_t vl = ::lgetxattr(host.c_str(), name.c_str(), value.data(), value.size());
      REQUIRE(vl >= 0);
      value.resize(static_cast<std::size_t>(vl));
      got[name] = erofsfs::test::to_hex(value);
    }
    CHECK(got == e.xattrs);
  }
}

// A hand-made image file whose root directory holds the entries of `t`.
fs::path write_image(const fs::path& dir, const erofsfs::test::raw_image& img) {
  const fs::path p = dir / "hand.erofs";
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(img.bytes.data()),
          static_cast<std::streamsize>(img.bytes.size()));
  REQUIRE(f.good());
  return p;
}

bool can_extract_as_root() {
  if (::geteuid() == 0) return true;
  MESSAGE("not root: extract comparisons need chown, mknod and trusted.* xattrs; skipped");
  return false;
}

}  // namespace

TEST_CASE("cli: info prints block size, features by name, uuid and volume name") {
  if (!have_cli()) return;
  const auto r = run_cli({"info", image_path("plain-4k")});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "block size: 4096\n"));
  CHECK(contains(r.out, "compat features: " + info_field("plain-4k", "compatible features") + "\n"));
  CHECK(contains(r.out, "uuid: " + info_field("plain-4k", "UUID") + "\n"));
  CHECK(contains(r.out, "volume name: \"fixture-plain\"\n"));
  CHECK(contains(r.out, "inodes: " + info_field("plain-4k", "inode count") + "\n"));
  CHECK(contains(r.out, "devices: 0\n"));
}

TEST_CASE("cli: info lists the extra devices of a blob-device image") {
  if (!have_cli()) return;
  auto args = device_args("chunk-4k-blobdev");
  args.insert(args.begin(), "info");
  args.push_back(image_path("chunk-4k-blobdev"));
  const auto r = run_cli(args);
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "incompat features: chunked_file device_table\n"));
  CHECK(contains(r.out, "devices: 1\n"));
  CHECK(contains(r.out, "  device 1: "));
}

TEST_CASE("cli: ls -l lines of /links match the manifest") {
  if (!have_cli()) return;
  const auto r = run_cli({"ls", "-l", image_path("plain-4k"), "/links"});
  REQUIRE(r.rc == 0);
  const auto m = load("plain-4k");
  std::size_t children = 0;
  for (const auto& kv : m)
    if (kv.first.rfind("/links/", 0) == 0) ++children;
  const auto out = lines(r.out);
  CHECK(out.size() == children);
  for (const std::string& line : out) {
    CAPTURE(line);
    std::istringstream in(line);
    std::string mode, nlink, uid, gid, size, date, time, name;
    in >> mode >> nlink >> uid >> gid >> size >> date >> time >> name;
    const manifest_entry* e = &entry(m, "/links/" + name);
    CHECK(mode == mode_string(e->mode));
    CHECK(nlink == std::to_string(e->nlink));
    CHECK(uid == std::to_string(e->uid));
    CHECK(gid == std::to_string(e->gid));
    CHECK(size == std::to_string(e->size));
    CHECK(date + " " + time == utc(e->mtime));
    if (e->type == "symlink") CHECK(contains(line, " " + name + " -> " + e->target.value_or("")));
  }
}

TEST_CASE("cli: ls -l shows major, minor for device nodes") {
  if (!have_cli()) return;
  const auto r = run_cli({"ls", "-l", image_path("plain-4k"), "/special/chr-big"});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "crw-rw---- 1 0 6 4095, 1048575 "));
}

TEST_CASE("cli: ls -R -a lists every directory of the manifest once") {
  if (!have_cli()) return;
  const auto r = run_cli({"ls", "-R", "-a", image_path("plain-4k")});
  REQUIRE(r.rc == 0);
  std::set<std::string> headers;
  for (const std::string& l : lines(r.out))
    if (!l.empty() && l[0] == '/' && l.back() == ':') CHECK(headers.insert(l).second);
  std::size_t dirs = 0;
  for (const auto& kv : load("plain-4k")) dirs += kv.second.type == "dir";
  CHECK(headers.size() == dirs);
  CHECK(headers.count("/deep/level-00:") == 1);
}

TEST_CASE("cli: cat output hashes to the manifest's sha256") {
  if (!have_cli()) return;
  const auto m = load("plain-4k");
  for (const char* path : {"/data/mixed-36k", "/data/text-96k", "/sizes/rand-12289", "/empty",
                           "/tiny/size-1", "/links/hard-a"}) {
    CAPTURE(path);
    const auto r = run_cli({"cat", image_path("plain-4k"), path});
    REQUIRE(r.rc == 0);
    CHECK(sha256_of(r.out) == entry(m, path).sha256);
  }
}

TEST_CASE("cli: cat reads chunk data from a blob device given with --device") {
  if (!have_cli()) return;
  const auto m = load("chunk-4k-blobdev");
  for (const char* path : {"/sparse/holes-4k-chunks", "/sparse/big-sparse-1m-chunks", "/data/dup-1"}) {
    CAPTURE(path);
    auto args = device_args("chunk-4k-blobdev");
    args.insert(args.begin(), "cat");
    args.push_back(image_path("chunk-4k-blobdev"));
    args.push_back(path);
    const auto r = run_cli(args);
    REQUIRE(r.rc == 0);
    CHECK(sha256_of(r.out) == entry(m, path).sha256);
  }
}

TEST_CASE("cli: cat of a missing path fails with the path in the message") {
  if (!have_cli()) return;
  const auto r = run_cli({"cat", image_path("plain-4k"), "/no/such/file"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: cat: /no/such/file: not found"));
}

TEST_CASE("cli: stat prints the inode fields and escaped xattr values") {
  if (!have_cli()) return;
  const auto r = run_cli({"stat", image_path("plain-4k"), "/xattrs/symlink-with-xattr"});
  REQUIRE(r.rc == 0);
  const auto m = load("plain-4k");
  const manifest_entry* e = &entry(m, "/xattrs/symlink-with-xattr");
  CHECK(contains(r.out, "nid: " + std::to_string(e->ino) + "\n"));
  CHECK(contains(r.out, "type: symlink\n"));
  CHECK(contains(r.out, "mode: 0120777 (lrwxrwxrwx)\n"));
  CHECK(contains(r.out, "mtime: " + std::to_string(e->mtime) + ".000000000 "));
  CHECK(contains(r.out, "target: user-one\n"));
  CHECK(contains(r.out, "xattrs: 2\n"));
  CHECK(contains(r.out, "  security.selinux=\"system_u:object_r:shared_t:s0\\x00\"\n"));
}

TEST_CASE("cli: stat shows a device node's rdev") {
  if (!have_cli()) return;
  const auto r = run_cli({"stat", image_path("plain-4k"), "/special/chr-big"});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "type: chrdev\n"));
  CHECK(contains(r.out, "rdev: 4095,1048575\n"));
}

TEST_CASE("cli: map lists extents that tile the file, with the blob device for chunk data") {
  if (!have_cli()) return;
  auto args = device_args("chunk-4k-blobdev");
  args.insert(args.begin(), "map");
  args.push_back(image_path("chunk-4k-blobdev"));
  args.push_back("/sparse/holes-4k-chunks");
  const auto r = run_cli(args);
  REQUIRE(r.rc == 0);
  const auto out = lines(r.out);
  REQUIRE(out.size() > 2);
  CHECK(contains(out[0], "logical"));
  unsigned long long next = 0;
  std::set<std::string> kinds;
  for (std::size_t i = 1; i < out.size(); ++i) {
    CAPTURE(out[i]);
    std::istringstream in(out[i]);
    unsigned long long logical, length;
    std::string kind, device;
    in >> logical >> length >> kind >> device;
    CHECK(logical == next);
    next = logical + length;
    kinds.insert(kind);
    if (kind == "mapped") CHECK(device == "1");
  }
  CHECK(next == entry(load("chunk-4k-blobdev"), "/sparse/holes-4k-chunks").size);
  CHECK(kinds == std::set<std::string>{"hole", "mapped"});
}

TEST_CASE("cli: map shows a FLAT_INLINE tail as an inline extent") {
  if (!have_cli()) return;
  const auto r = run_cli({"map", image_path("plain-4k"), "/data/mixed-36k"});
  REQUIRE(r.rc == 0);
  const auto out = lines(r.out);
  REQUIRE(out.size() == 3);
  CHECK(contains(out[1], " mapped "));
  CHECK(contains(out[2], "36864            1 inline"));
}

TEST_CASE("cli: map shows encoded extents with their algorithm and inline pclusters") {
  if (!have_cli()) return;
  const auto r = run_cli({"map", image_path("lz4hc-ztailpacking"), "/data/mixed-36k"});
  REQUIRE(r.rc == 0);
  const auto out = lines(r.out);
  REQUIRE(out.size() >= 3);
  CHECK(contains(r.out, " encoded "));
  CHECK(contains(out.back(), " lz4 "));
  CHECK(contains(out.back(), " in_metadata"));  // the ztailpacking tail pcluster
}

TEST_CASE("cli: fsck passes every fixture image it can decode") {
  if (!have_cli()) return;
  std::set<std::string> names;  // every fixture directory holds one image
  for (const auto& d : fs::directory_iterator(images_dir))
    if (d.is_directory()) names.insert(d.path().filename().string());
  REQUIRE(names.size() > 40);
  for (const std::string& name : names) {
    CAPTURE(name);
    auto args = device_args(name);
    args.insert(args.begin(), "fsck");
    args.push_back(image_path(name));
    const auto r = run_cli(args);
    // An image whose only problems are codecs this build lacks is not a failure of the tool.
    bool only_missing_codecs = r.rc == 1;
    for (const std::string& l : lines(r.err))
      if (!contains(l, "decompressor configured"))
        only_missing_codecs = false;
    if (only_missing_codecs) {
      MESSAGE(name << ": needs a decompressor this build does not have");
      continue;
    }
    CHECK_MESSAGE(r.rc == 0, r.err.substr(0, 2000));
    CHECK(contains(r.out, " 0 problems\n"));
  }
}

TEST_CASE("cli: fsck exits 1 and names the path of a corrupted inode") {
  if (!have_cli()) return;
  temp_dir tmp;
  const auto m = load("plain-4k");
  const manifest_entry* e = &entry(m, "/data/mixed-36k");
  std::string bytes = slurp(image_path("plain-4k"));
  // meta_blkaddr is 0 in plain-4k, so the inode is at nid * 32; all i_format bits set is
  // "unknown i_format bits".
  const std::size_t pos = static_cast<std::size_t>(e->ino) * 32;
  REQUIRE(pos + 2 <= bytes.size());
  bytes[pos] = bytes[pos + 1] = '\xff';
  const fs::path bad = tmp.path / "bad.erofs";
  std::ofstream(bad, std::ios::binary) << bytes;
  const auto r = run_cli({"fsck", bad.string()});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: fsck: /data/mixed-36k: "));
  CHECK(contains(r.out, " 1 problems\n"));
}

TEST_CASE("cli: extract recreates plain-4k exactly as the manifest describes") {
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp;
  const fs::path out = tmp.path / "tree";
  const auto r = run_cli({"extract", image_path("plain-4k"), out.string()});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  check_extracted(out, load("plain-4k"));
}

TEST_CASE("cli: extract reads chunk data from the blob device given with --device") {
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp;
  const fs::path out = tmp.path / "tree";
  auto args = device_args("chunk-4k-blobdev");
  args.insert(args.begin(), "extract");
  args.push_back(image_path("chunk-4k-blobdev"));
  args.push_back(out.string());
  const auto r = run_cli(args);
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  check_extracted(out, load("chunk-4k-blobdev"));
}

TEST_CASE("cli: extract decodes compressed files (lzma, ztailpacking, fragments, dedupe)") {
  // The tool finds the codec libraries as the tests do (examples/CMakeLists.txt).
  EROFSFS_SKIP_WITHOUT_CODEC(erofsfs::disk::compression_lzma);
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp;
  const fs::path out = tmp.path / "tree";
  const auto r = run_cli({"extract", image_path("lzma-ztail-frag-dedupe"), out.string()});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  check_extracted(out, load("lzma-ztail-frag-dedupe"));
}

TEST_CASE("cli: extract of a subtree puts its contents in DIR") {
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp;
  const fs::path out = tmp.path / "links";
  const auto r = run_cli({"extract", image_path("plain-4k"), out.string(), "/links"});
  REQUIRE(r.rc == 0);
  struct stat st;
  CHECK(::lstat((out / "hard-sym-1").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(::lstat((out / "hard-a").c_str(), &st) == 0);
  CHECK(st.st_nlink == 2);  // hard-a and hard-b; the third link is outside the subtree
}

TEST_CASE("cli: extract refuses a '..' entry that is not a directory entry") {
  if (!have_cli()) return;
  erofsfs::test::tiny_image t;
  // The root's ".." entry now names the regular file (nid 4).
  const std::size_t dotdot = erofsfs::test::tiny_image::root_dir_pos + 12;
  t.img.le64(dotdot, erofsfs::test::tiny_image::file_nid);
  t.img.u8(dotdot + 10, erofsfs::disk::ft_reg_file);
  temp_dir tmp;
  const fs::path img = write_image(tmp.path, t.img);
  const fs::path out = tmp.path / "out";
  const auto r = run_cli({"extract", img.string(), out.string()});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: extract: /: corrupted image: '..' entry is not a directory entry"));
  CHECK(fs::exists(out / "file"));  // the valid entry is still extracted
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 2);
}

TEST_CASE("cli: extract refuses a name containing '/' and writes nothing outside DIR") {
  if (!have_cli()) return;
  erofsfs::test::tiny_image t;
  t.img.put(erofsfs::test::tiny_image::root_dir_pos + 39, "../f");  // was "file"
  temp_dir tmp;
  const fs::path img = write_image(tmp.path, t.img);
  const fs::path out = tmp.path / "out";
  const auto r = run_cli({"extract", img.string(), out.string()});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "dirent name contains '/' or NUL"));
  CHECK_FALSE(fs::exists(tmp.path / "f"));
  CHECK(fs::is_empty(out));
}

TEST_CASE("cli: usage errors exit 2 and --help exits 0 with the command's usage") {
  if (!have_cli()) return;
  CHECK(run_cli({}).rc == 2);
  CHECK(run_cli({"no-such-command"}).rc == 2);
  const auto missing = run_cli({"ls"});
  CHECK(missing.rc == 2);
  CHECK(contains(missing.err, "erofsfs: ls: missing arguments"));
  CHECK(run_cli({"ls", "--bogus", image_path("plain-4k")}).rc == 2);
  const auto help = run_cli({"ls", "--help"});
  CHECK(help.rc == 0);
  CHECK(contains(help.out, "usage: erofsfs ls [-l] [-R] [-a] IMG [PATH]"));
  const auto top = run_cli({"--help"});
  CHECK(top.rc == 0);
  CHECK(contains(top.out, "  extract "));
}

TEST_CASE("cli: without its blob device, an image's blob data is read flat, as Linux does") {
  if (!have_cli()) return;
  // The blob is not appended to this image, so the flat address lies past its end: an error
  // (Linux: EIO), never zeros.
  const auto r = run_cli({"cat", image_path("chunk-4k-blobdev"), "/data/dup-1"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "flat mode"));
  CHECK(contains(r.err, "--device"));
  CHECK(contains(r.err, "/data/dup-1: source truncated: data past the end of the device"));
  CHECK(r.out.empty());
}
