// The erofsfs command-line tool, run as a separate process on the fixture images and checked
// against each image's manifest (the kernel's view). Skipped when the tool was not built.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
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

#include <erofsfs/version.hpp>

#include "support/codecs.hpp"
#include "support/image_builder.hpp"
#include "support/index_damage.hpp"
#include "support/fixture_list.hpp"
#include "support/manifest.hpp"
#include "support/mounted_tree.hpp"
#include "support/run_program.hpp"
#include "support/sha256.hpp"


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
  explicit temp_dir(const fs::path& base = fs::temp_directory_path()) {
    std::string t = (base / "erofsfs-cli-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

using erofsfs::test::run_result;

// Runs `program` with `args`, stdout and stderr captured.
run_result run_program(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> all{program};
  all.insert(all.end(), args.begin(), args.end());
  run_result r = erofsfs::test::run_program(all);
  REQUIRE_MESSAGE(r.spawned, program << ": " << r.err);
  return r;
}

run_result run_cli(const std::vector<std::string>& args) { return run_program(EROFSFS_CLI, args); }

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

TEST_CASE("cli: cat --cache-size reads through a shared decoded cache, same bytes") {
  if (!have_cli()) return;
  const auto m = load("lz4hc-allfrag-dedupe");
  const std::string a = "/data/mixed-36k", b = "/data/text-96k";
  // Each file twice: the second copy comes from the cache.
  const auto r = run_cli({"cat", "--cache-size", "16", image_path("lz4hc-allfrag-dedupe"), a, b, a, b});
  REQUIRE(r.rc == 0);
  const auto plain = run_cli({"cat", image_path("lz4hc-allfrag-dedupe"), a, b, a, b});
  REQUIRE(plain.rc == 0);
  CHECK(r.out == plain.out);
  const std::size_t la = entry(m, a).size, lb = entry(m, b).size;
  REQUIRE(r.out.size() == 2 * (la + lb));
  CHECK(sha256_of(std::string_view(r.out).substr(la + lb, la)) == entry(m, a).sha256);
  CHECK(sha256_of(std::string_view(r.out).substr(2 * la + lb, lb)) == entry(m, b).sha256);
}

TEST_CASE("cli: cat --cache-size refuses a value that is not a number of MiB") {
  if (!have_cli()) return;
  for (const char* bad : {"", "12x", "-1", "99999999999999999999"}) {
    CAPTURE(bad);
    const auto r = run_cli({"cat", "--cache-size", bad, image_path("plain-4k"), "/empty"});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "--cache-size"));
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

namespace {
// Writes damaged image bytes to `dir`/bad.erofs.
fs::path write_bytes(const fs::path& dir, const std::vector<std::byte>& bytes) {
  const fs::path p = dir / "bad.erofs";
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
  return p;
}

// plain-4k's bytes, to damage.
std::vector<std::byte> plain_4k_bytes() {
  const std::string b = slurp(image_path("plain-4k"));
  const auto* p = reinterpret_cast<const std::byte*>(b.data());
  return {p, p + b.size()};
}

// Where the inode at `path` starts in plain-4k: meta_blkaddr is 0 there, so at nid * 32.
std::size_t plain_4k_inode_at(const std::string& path) {
  return static_cast<std::size_t>(entry(load("plain-4k"), path).ino) * 32;
}
}  // namespace

TEST_CASE("cli: fsck exits 1 and names the path of a corrupted inode") {
  if (!have_cli()) return;
  temp_dir tmp;
  std::vector<std::byte> bytes = plain_4k_bytes();
  // All i_format bits set is "unknown i_format bits".
  const std::size_t pos = plain_4k_inode_at("/data/mixed-36k");
  REQUIRE(pos + 2 <= bytes.size());
  bytes[pos] = bytes[pos + 1] = std::byte{0xff};
  const fs::path bad = write_bytes(tmp.path, bytes);
  const auto r = run_cli({"fsck", bad.string()});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: fsck: /data/mixed-36k: "));
  CHECK(contains(r.out, " 1 problems\n"));
}

TEST_CASE("cli: fsck exits 1 and names the lcluster of a NONHEAD entry with lookback distance 0") {
  if (!have_cli()) return;
  const auto d = erofsfs::test::zero_lookback_distance("lz4hc-pcluster16k");
  REQUIRE(d);
  temp_dir tmp;
  const fs::path bad = write_bytes(tmp.path, d->bytes);
  // cat reads from extent starts and does not notice...
  CHECK(run_cli({"cat", bad.string(), d->path}).rc == 0);
  // ...fsck checks every index entry.
  const auto r = run_cli({"fsck", bad.string()});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: fsck: " + d->path + ": lcluster " + std::to_string(d->entry) +
                            ": corrupted image: bogus lcluster lookback distance"));
  CHECK(contains(r.out, " 1 problems\n"));
}

TEST_CASE("cli: fsck exits 1 and names the chunk whose device id is beyond the device table") {
  if (!have_cli()) return;
  const auto d = erofsfs::test::bad_chunk_device("rebuild-two-layers");
  REQUIRE(d);
  temp_dir tmp;
  auto args = device_args("rebuild-two-layers");
  args.insert(args.begin(), "fsck");
  args.push_back(write_bytes(tmp.path, d->bytes).string());
  const auto r = run_cli(args);
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: fsck: " + d->path + ": chunk " + std::to_string(d->entry) +
                            ": device not available: device id beyond the device table"));
  CHECK(contains(r.out, " 1 problems\n"));
}

TEST_CASE("cli: fsck exits 1 and names a plain file whose blocks lie past the end of the image") {
  if (!have_cli()) return;
  // fsck reads plain data of a mapped image by touching its pages, not copying them: a block
  // address beyond the image must still be a problem, on one worker and on several.
  std::vector<std::byte> bytes = plain_4k_bytes();
  const std::size_t pos = plain_4k_inode_at("/data/random-32k");
  REQUIRE(pos + 20 <= bytes.size());
  for (std::size_t i = 0; i < 4; ++i)  // i_u, the start block: 0x00ffffff
    bytes[pos + 16 + i] = i < 3 ? std::byte{0xff} : std::byte{0};
  temp_dir tmp;
  const std::string bad = write_bytes(tmp.path, bytes).string();
  for (const char* jobs : {"1", "4"}) {
    CAPTURE(jobs);
    const auto r = run_cli({"fsck", "-j", jobs, bad});
    CHECK(r.rc == 1);
    CHECK(contains(r.err, "erofsfs: fsck: /data/random-32k: source truncated: data past the end "
                          "of the device"));
    CHECK(contains(r.out, " 1 problems\n"));
  }
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

namespace {

// Where to extract whole fixtures: tmpfs holds files of any size up to 2^63 (ext4 stops at
// 16 TiB, below the 2^50-byte holes of cfs-huge), keeps nanosecond mtimes and every xattr
// namespace root can set.
fs::path tmpfs_base() {
  struct statfs s {};
  if (::statfs("/dev/shm", &s) == 0 && s.f_type == 0x01021994 /* TMPFS_MAGIC */) return "/dev/shm";
  MESSAGE("/dev/shm is not tmpfs: extracting under " << fs::temp_directory_path());
  return fs::temp_directory_path();
}

// What `erofsfs extract` recreates differs from the kernel's view by design in three fields,
// which are cleared on both sides before the comparison:
//  - ino: the extracted files have the destination's inode numbers; hard-link grouping is
//    compared instead: paths sharing an ino in the manifest share one after extraction, and
//    only those. Except where that ino has nlink 1 (mkcomposefs writes such inodes for the
//    hard links of a dump file): no filesystem can give one inode two names and a link count
//    of 1, and extract keeps the link count the kernel shows, so those paths become separate
//    files with the same contents and metadata;
//  - blocks: extract writes holes and all-zero pieces as holes, so st_blocks is the
//    destination's allocation, not the image's block count;
//  - size of directories: the destination's own directory format decides it.
// Everything else (type, mode with the special bits, uid, gid, nlink, file size, mtime and
// nsec, symlink target, rdev, every xattr, sha256 of the content) must be equal.
std::vector<std::string> extracted_differences(const std::string& name, const fs::path& tree) {
  std::string err;
  auto got = erofsfs::test::entries_from_mount(tree.string(), err);
  if (!got) return {"walking the extracted tree: " + err};
  manifest want = load(name);
  std::vector<std::string> out;
  std::map<std::uint64_t, std::uint64_t> ino_map, back;  // manifest ino <-> extracted ino
  for (auto& kv : want) {
    manifest_entry& w = kv.second;
    auto it = got->find(kv.first);
    if (it == got->end()) continue;  // compare_manifests reports it
    manifest_entry& g = it->second;
    if (w.type != "dir" && w.nlink > 1) {
      const auto a = ino_map.emplace(w.ino, g.ino), b = back.emplace(g.ino, w.ino);
      if (a.first->second != g.ino || b.first->second != w.ino)
        out.push_back(kv.first + ": hard-link grouping differs");
    }
    w.blocks = g.blocks = 0;
    if (w.type == "dir" && g.type == "dir") w.size = g.size = 0;
  }
  for (std::string& d : erofsfs::test::compare_manifests(want, *got, false)) out.push_back(d);
  return out;
}

}  // namespace

TEST_CASE("cli: extract of every fixture matches the kernel's manifest field by field") {
  if (!have_cli() || !can_extract_as_root()) return;
  const fs::path base = tmpfs_base();
  unsigned compared = 0;
  for (const std::string& name : erofsfs::test::fixture_names()) {
    CAPTURE(name);
    temp_dir tmp(base);
    const fs::path out = tmp.path / "tree";
    auto args = device_args(name);
    args.insert(args.begin(), "extract");
    args.push_back(image_path(name));
    args.push_back(out.string());
    const auto r = run_cli(args);
    CHECK_MESSAGE(r.rc == 0, name << ": " << r.err.substr(0, 2000));
    // The only message allowed: flat images say that blob data is read at unified addresses.
    for (const std::string& l : lines(r.err))
      CHECK_MESSAGE(contains(l, "(flat mode, as Linux does)"), name << ": " << l);
    for (const std::string& d : extracted_differences(name, out)) FAIL_CHECK(name << ": " << d);
    ++compared;
  }
  MESSAGE(compared << " fixtures extracted and compared with their manifests");
  CHECK(compared > 40);
}

TEST_CASE("cli: fsck checks a 2^50-byte hole by its mapping (cfs-huge)") {
  if (!have_cli()) return;
  const auto r = run_cli({"fsck", image_path("cfs-huge")});
  CHECK(r.err == "");
  CHECK(r.rc == 0);
  CHECK(contains(r.out, " 0 problems\n"));
}

TEST_CASE("cli: extract writes a 2^50-byte hole as a sparse file of that size") {
  if (!have_cli()) return;
  temp_dir tmp(tmpfs_base());
  const fs::path out = tmp.path / "sparse";
  const auto r = run_cli({"extract", image_path("cfs-huge"), out.string(), "/sparse"});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  struct stat st;
  REQUIRE(::stat((out / "pib-2-50").c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == std::uint64_t{1} << 50);
  CHECK(st.st_blocks <= 8);  // nothing written: the hole stays a hole
  REQUIRE(::stat((out / "near-9e15").c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == 8740000000000000u);
  CHECK(st.st_blocks <= 8);
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

// --- -j N, the in-kernel copy, the progress line ---------------------------------------------

namespace {

// Extracts fixture `name` with `extra` options into `out`; the tool's result.
run_result extract_fixture(const std::string& name, const fs::path& out,
                           const std::vector<std::string>& extra) {
  auto args = device_args(name);
  args.insert(args.begin(), "extract");
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(image_path(name));
  args.push_back(out.string());
  return run_cli(args);
}

// How two extracted trees differ, field by field (type, mode, owner, nlink, size, mtime and
// nsec, symlink target, rdev, xattrs, content hash) and by hard-link grouping; inode numbers,
// block counts and directory sizes belong to the destination and are left out.
std::vector<std::string> tree_differences(const fs::path& a, const fs::path& b) {
  std::string err;
  auto ma = erofsfs::test::entries_from_mount(a.string(), err);
  if (!ma) return {"walking " + a.string() + ": " + err};
  auto mb = erofsfs::test::entries_from_mount(b.string(), err);
  if (!mb) return {"walking " + b.string() + ": " + err};
  std::vector<std::string> out;
  std::map<std::uint64_t, std::uint64_t> there, back;
  for (auto& kv : *ma) {
    manifest_entry& x = kv.second;
    auto it = mb->find(kv.first);
    if (it == mb->end()) continue;  // compare_manifests reports it
    manifest_entry& y = it->second;
    if (x.type != "dir") {
      const auto p = there.emplace(x.ino, y.ino), q = back.emplace(y.ino, x.ino);
      if (p.first->second != y.ino || q.first->second != x.ino)
        out.push_back(kv.first + ": hard-link grouping differs");
    }
    x.blocks = y.blocks = 0;
    if (x.type == "dir" && y.type == "dir") x.size = y.size = 0;
  }
  for (std::string& d : erofsfs::test::compare_manifests(*ma, *mb, false)) out.push_back(d);
  return out;
}

// fsck of `image` with `extra` options (devices of fixture `name`, if any).
run_result fsck_image(const std::string& image, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"fsck"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(image);
  return run_cli(args);
}

}  // namespace

TEST_CASE("cli: extract -j 4 recreates every field of the trees -j 1 recreates") {
  if (!have_cli() || !can_extract_as_root()) return;
  // Compressed with big pclusters, hard links and specials, LZMA fragments and dedupe, chunks
  // on a blob device, and a sparse 2 MiB file of 1 MiB chunks.
  for (const std::string name : {"lz4hc-pcluster16k", "plain-4k", "lzma-ztail-frag-dedupe",
                                 "chunk-4k-blobdev", "chunk-1m", "zstd-ztail-frag-dedupe"}) {
    CAPTURE(name);
    if (const std::string missing = erofsfs::test::fixture_missing_codecs(name); !missing.empty()) {
      MESSAGE(name << " needs " << missing << ", not in this build: left out");
      continue;
    }
    temp_dir tmp(tmpfs_base());
    const auto one = extract_fixture(name, tmp.path / "j1", {"-j", "1"});
    const auto four = extract_fixture(name, tmp.path / "j4", {"-j", "4"});
    REQUIRE_MESSAGE(one.rc == 0, one.err);
    REQUIRE_MESSAGE(four.rc == 0, four.err);
    CHECK(one.out.substr(0, one.out.find(" into ")) == four.out.substr(0, four.out.find(" into ")));
    for (const std::string& d : tree_differences(tmp.path / "j1", tmp.path / "j4"))
      FAIL_CHECK(d);
  }
}

TEST_CASE("cli: extract -j 4 writes a sparse chunked file exactly as the manifest says") {
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp(tmpfs_base());
  const fs::path out = tmp.path / "tree";
  // /sparse/big-sparse-1m-chunks: 2 MiB + 4101 bytes, a 1 MiB chunk, a hole, a tail chunk.
  const auto r = extract_fixture("chunk-1m", out, {"-j", "4"});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  check_extracted(out, load("chunk-1m"));
}

// A file above extract's split size (32 MiB): 40 MiB and a 3000-byte tail, every fourth 4 KiB
// block pseudo-random (stored raw in a compressed image), the others compressible text.
std::string big_split_file() {
  std::string s;
  s.reserve((40u << 20) + 3000);
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  for (std::size_t block = 0; s.size() < (40u << 20) + 3000; ++block) {
    const std::size_t want = std::min<std::size_t>(4096, (40u << 20) + 3000 - s.size());
    std::string b;
    while (b.size() < want) {
      if (block % 4 == 0) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b.push_back(static_cast<char>(x));
      } else {
        b += "block " + std::to_string(block) + " of the big file\n";
      }
    }
    b.resize(want);
    s += b;
  }
  return s;
}

TEST_CASE("cli: extract -j 4 writes a file above the split size, cut into ranges, byte for byte") {
  if (!have_cli() || !can_extract_as_root()) return;
  temp_dir tmp(tmpfs_base());
  const fs::path src = tmp.path / "src";
  fs::create_directories(src);
  const std::string big = big_split_file();
  {
    std::ofstream(src / "big", std::ios::binary) << big;
  }
  for (const std::vector<std::string>& options : {std::vector<std::string>{},
                                                 std::vector<std::string>{"-zlz4hc", "-C65536"}}) {
    const std::string image = (tmp.path / "big.erofs").string();
    std::vector<std::string> mkfs{"mkfs.erofs", "--quiet"};
    mkfs.insert(mkfs.end(), options.begin(), options.end());
    mkfs.insert(mkfs.end(), {image, src.string()});
    const auto made = erofsfs::test::run_program(mkfs);
    if (!made.spawned) {
      MESSAGE("mkfs.erofs not available: left out");
      return;
    }
    CAPTURE(made.err);
    REQUIRE(made.rc == 0);
    fs::remove_all(tmp.path / "j1");
    fs::remove_all(tmp.path / "j4");
    const auto one = run_cli({"extract", "-j", "1", image, (tmp.path / "j1").string()});
    const auto four = run_cli({"extract", "-j", "4", image, (tmp.path / "j4").string()});
    REQUIRE_MESSAGE(one.rc == 0, one.err);
    REQUIRE_MESSAGE(four.rc == 0, four.err);
    CHECK(slurp((tmp.path / "j4" / "big").string()) == big);
    for (const std::string& d : tree_differences(tmp.path / "j1", tmp.path / "j4"))
      FAIL_CHECK(d);
  }
}

TEST_CASE("cli: fsck -j 4 reports the problems of a damaged image exactly as -j 1 does") {
  if (!have_cli()) return;
  temp_dir tmp;
  const auto lookback = erofsfs::test::zero_lookback_distance("lz4hc-pcluster16k");
  const auto chunk = erofsfs::test::bad_chunk_device("rebuild-two-layers");
  REQUIRE(lookback);
  REQUIRE(chunk);
  struct damaged {
    std::vector<std::byte> bytes;
    std::vector<std::string> devices;
  };
  std::vector<damaged> images{{lookback->bytes, {}},
                              {chunk->bytes, device_args("rebuild-two-layers")}};
  {  // plain-4k with one inode's i_format bits all set
    std::vector<std::byte> bytes = plain_4k_bytes();
    const std::size_t pos = plain_4k_inode_at("/data/mixed-36k");
    REQUIRE(pos + 2 <= bytes.size());
    bytes[pos] = bytes[pos + 1] = std::byte{0xff};
    images.push_back({bytes, {}});
    // and one file's i_xattr_icount past the end of the image: an xattr problem, then a data
    // one, both found by the file's job
    const std::size_t xpos = plain_4k_inode_at("/xattrs/long-value");
    REQUIRE(xpos + 4 <= bytes.size());
    bytes[xpos + 2] = bytes[xpos + 3] = std::byte{0xff};
    images.push_back({bytes, {}});
  }
  for (std::size_t i = 0; i < images.size(); ++i) {
    CAPTURE(i);
    const fs::path dir = tmp.path / std::to_string(i);
    fs::create_directory(dir);
    const std::string bad = write_bytes(dir, images[i].bytes).string();
    for (const bool json : {false, true}) {
      CAPTURE(json);
      std::vector<std::string> extra = images[i].devices;
      if (json) extra.push_back("--json");
      auto one = extra, four = extra;
      one.insert(one.end(), {"-j", "1"});
      four.insert(four.end(), {"-j", "4"});
      const auto r1 = fsck_image(bad, one), r4 = fsck_image(bad, four);
      CHECK(r1.rc == 1);
      CHECK(r4.rc == r1.rc);
      CHECK(r4.out == r1.out);
      CHECK(r4.err == r1.err);
    }
  }
}

TEST_CASE("cli: fsck -j 4 prints the report of -j 1 on sound images") {
  if (!have_cli()) return;
  for (const std::string name : {"lz4hc-pcluster16k", "chunk-1m", "real-doc", "chunk-4k-blobdev"}) {
    CAPTURE(name);
    auto one = device_args(name), four = device_args(name);
    one.insert(one.end(), {"-j", "1"});
    four.insert(four.end(), {"-j", "4"});
    const auto r1 = fsck_image(image_path(name), one), r4 = fsck_image(image_path(name), four);
    CHECK(r1.rc == 0);
    CHECK(r4.rc == 0);
    CHECK(r4.out == r1.out);
    CHECK(r4.err == r1.err);
  }
}

TEST_CASE("cli: extract copies plain extents in the kernel and the files are the image's bytes") {
  if (!have_cli() || !can_extract_as_root()) return;
  // copy_file_range works within one filesystem (across filesystem types it is EXDEV and the
  // tool reads and writes instead): the image and DIR are in one directory.
  temp_dir tmp;
  const fs::path image = tmp.path / "plain-4k.erofs";
  fs::copy_file(image_path("plain-4k"), image);
  const fs::path out = tmp.path / "tree";
  const auto r = run_cli({"extract", image.string(), out.string()});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, " copied in the kernel) into "));
  check_extracted(out, load("plain-4k"));
}

TEST_CASE("cli: extract splices plain extents in the kernel across filesystems") {
  if (!have_cli() || !can_extract_as_root()) return;
  // The image on the disk, DIR on tmpfs: copy_file_range is EXDEV there, and the tool moves
  // the image's pages through a pipe instead. The files must still be the image's bytes.
  const fs::path base = tmpfs_base();
  struct statfs img_fs {}, out_fs {};
  REQUIRE(::statfs(image_path("plain-4k").c_str(), &img_fs) == 0);
  REQUIRE(::statfs(base.c_str(), &out_fs) == 0);
  if (img_fs.f_type == out_fs.f_type) {
    MESSAGE("fixtures and " << base << " are on one filesystem type: splice case skipped");
    return;
  }
  temp_dir tmp(base);
  const fs::path out = tmp.path / "tree";
  const auto r = run_cli({"extract", "-j", "2", image_path("plain-4k"), out.string()});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, " copied in the kernel) into "));
  check_extracted(out, load("plain-4k"));
}

TEST_CASE("cli: extract copies in the kernel from an image at --offset, at the shifted place") {
  if (!have_cli() || !can_extract_as_root()) return;
  // An image inside a bigger file: the copy reads at physical + offset; the files must still
  // be the image's bytes.
  const std::size_t offset = (1u << 20) + 4096;
  temp_dir tmp;  // the image and DIR on one filesystem, as above
  const fs::path dump = tmp.path / "partition.img";
  {
    std::ofstream f(dump, std::ios::binary);
    f << std::string(offset, '\x5a') << slurp(image_path("plain-4k")) << std::string(4096, '\x7e');
  }
  const fs::path out = tmp.path / "tree";
  const auto r = run_cli({"extract", "--offset", std::to_string(offset), dump.string(), out.string()});
  CHECK(r.err == "");
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, " copied in the kernel) into "));
  check_extracted(out, load("plain-4k"));
}

TEST_CASE("cli: --progress draws a progress line on stderr and erases it at the end") {
  if (!have_cli()) return;
  const auto r = run_cli({"fsck", "--progress", image_path("plain-4k")});
  CHECK(r.rc == 0);
  CHECK(r.err.starts_with("\rerofsfs: fsck: "));
  CHECK(contains(r.err, " files, "));
  CHECK(contains(r.err, " MiB/s"));
  CHECK(r.err.ends_with("\r\033[K"));
  CHECK(contains(r.out, " 0 problems\n"));
}

TEST_CASE("cli: without a terminal and without --progress there is no progress line") {
  if (!have_cli()) return;
  temp_dir tmp;
  const auto f = run_cli({"fsck", image_path("plain-4k")});
  CHECK(f.err == "");
  const auto x = run_cli({"extract", image_path("lz4hc-pcluster16k"), (tmp.path / "t").string()});
  CHECK(x.err == "");
}

TEST_CASE("cli: --quiet prints neither the progress line nor the summary") {
  if (!have_cli()) return;
  temp_dir tmp;
  const auto f = run_cli({"fsck", "--quiet", "--progress", image_path("plain-4k")});
  CHECK(f.rc == 0);
  CHECK(f.out == "");
  CHECK(f.err == "");
  const auto x = run_cli({"extract", "-q", image_path("lz4hc-pcluster16k"), (tmp.path / "t").string()});
  CHECK(x.rc == 0);
  CHECK(x.out == "");
  CHECK(x.err == "");
}

TEST_CASE("cli: -j beyond 256 threads is a usage error") {
  if (!have_cli()) return;
  const auto r = run_cli({"fsck", "-j", "257", image_path("plain-4k")});
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "erofsfs: fsck: -j 257: more than 256 threads"));
}

// --- one command line for every command ------------------------------------------------------

namespace {

// The commands `erofsfs --help` lists.
std::vector<std::string> command_names() {
  const auto top = run_cli({"--help"});
  REQUIRE(top.rc == 0);
  std::vector<std::string> names;
  bool in_list = false;
  for (const std::string& l : lines(top.out)) {
    if (l == "commands:") {
      in_list = true;
      continue;
    }
    if (in_list && l.size() > 2 && l[0] == ' ' && l[1] == ' ' && l[2] != ' ')
      names.push_back(l.substr(2, l.find(' ', 2) - 2));
    else if (in_list && l.empty())
      break;
  }
  return names;
}

// The long options a command's --help lists ("--device", ...), in order.
std::vector<std::string> help_options(const std::string& cmd) {
  const auto r = run_cli({cmd, "--help"});
  REQUIRE_MESSAGE(r.rc == 0, cmd);
  std::vector<std::string> opts;
  bool in_list = false;
  for (const std::string& l : lines(r.out)) {
    if (l.rfind("options", 0) == 0) {
      in_list = true;
      continue;
    }
    const std::size_t at = l.find("--");
    if (in_list && at != std::string::npos && at < 8)
      opts.push_back(l.substr(at, l.find_first_of(" ,=", at) - at));
  }
  return opts;
}

bool has_option(const std::vector<std::string>& opts, const std::string& o) {
  return std::find(opts.begin(), opts.end(), o) != opts.end();
}

const std::set<std::string> image_commands{"info", "ls",    "cat",  "stat",          "map",
                                           "extract", "fsck", "mount", "serve-fanotify"};

bool have_python() {
  if (std::system("python3 -c pass >/dev/null 2>&1") == 0) return true;
  MESSAGE("python3 not found: JSON parse check skipped");
  return false;
}

// Parses every line of `output` as JSON with Python (strict UTF-8) into the list `objs` and
// prints `expr` evaluated over it; returns what Python printed, without the final newline.
std::string python_json(const std::string& output, const std::string& expr) {
  temp_dir tmp;
  const std::string file = (tmp.path / "out.jsonl").string();
  std::ofstream(file, std::ios::binary) << output;
  const auto r = run_program(
      "python3", {"-c",
                  "import json, sys\n"
                  "objs = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]\n"
                  "print(eval(sys.argv[2]))\n",
                  file, expr});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  std::string out = r.out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The manifest's inode number of a path: erofsfs reports nid == ino for these fixtures.
std::string nid_of(const std::string& image, const std::string& path) {
  return std::to_string(entry(load(image), path).ino);
}

}  // namespace

TEST_CASE("cli: every command reports a bad option, a missing value and extra arguments alike") {
  if (!have_cli()) return;
  const std::string img = image_path("plain-4k");
  const auto unknown = run_cli({"stat", "--bogus", img, "/"});
  CHECK(unknown.rc == 2);
  CHECK(contains(unknown.err, "erofsfs: stat: unknown option '--bogus'\n"));
  const auto letter = run_cli({"ls", "-lq", img});
  CHECK(letter.rc == 2);
  CHECK(contains(letter.err, "erofsfs: ls: unknown option '-q'\n"));
  const auto no_value = run_cli({"info", img, "--device"});
  CHECK(no_value.rc == 2);
  CHECK(contains(no_value.err, "erofsfs: info: option '--device' needs a value\n"));
  const auto flag_value = run_cli({"fsck", "--json=yes", img});
  CHECK(flag_value.rc == 2);
  CHECK(contains(flag_value.err, "erofsfs: fsck: option '--json' takes no value\n"));
  const auto not_number = run_cli({"map", "--nid", "twelve", img});
  CHECK(not_number.rc == 2);
  CHECK(contains(not_number.err, "erofsfs: map: option '--nid' needs a number, not 'twelve'\n"));
  const auto extra = run_cli({"stat", img, "/data", "/links"});
  CHECK(extra.rc == 2);
  CHECK(contains(extra.err, "erofsfs: stat: too many arguments\n"));
  const auto both = run_cli({"stat", "--nid", "36", img, "/data"});
  CHECK(both.rc == 2);
  CHECK(contains(both.err, "--nid takes the place of PATH"));
  const auto few = run_cli({"extract", img});
  CHECK(few.rc == 2);
  CHECK(contains(few.err, "erofsfs: extract: missing arguments: DIR\n"));
  const auto cachefiles = run_cli({"serve-cachefiles", "--cache", "/nonexistent"});
  CHECK(cachefiles.rc == 2);
  CHECK(contains(cachefiles.err, "erofsfs: serve-cachefiles: --blobs is required\n"));
  const auto sparse = run_cli({"serve-fanotify", img});
  CHECK(sparse.rc == 2);
  CHECK(contains(sparse.err, "erofsfs: serve-fanotify: give one --sparse FILE for IMG"));
}

TEST_CASE("cli: -- ends the options, and options may follow the arguments") {
  if (!have_cli()) return;
  const auto r = run_cli({"cat", image_path("plain-4k"), "--", "--not-an-option"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "erofsfs: cat: --not-an-option: not found"));
  const auto after = run_cli({"ls", image_path("plain-4k"), "/links", "-l"});
  CHECK(after.rc == 0);
  CHECK(contains(after.out, "hard-a"));
  CHECK(contains(after.out, "-rw-"));
}

TEST_CASE("cli: --version prints the project version and the decoders, everywhere") {
  if (!have_cli()) return;
  const std::string version = std::to_string(EROFSFS_VERSION_MAJOR) + "." +
                              std::to_string(EROFSFS_VERSION_MINOR) + "." +
                              std::to_string(EROFSFS_VERSION_PATCH);
  for (const std::string& cmd : command_names()) {
    CAPTURE(cmd);
    const auto r = run_cli({cmd, "--version"});
    CHECK(r.rc == 0);
    CHECK(contains(r.out, "erofsfs " + version + "\n"));
    CHECK(contains(r.out, "decoders: lz4"));
  }
  const auto top = run_cli({"--version"});
  CHECK(top.rc == 0);
  CHECK(top.out.rfind("erofsfs " + version + "\ndecoders: lz4", 0) == 0);
}

TEST_CASE("cli: each command's --help lists the options its kind of command must have") {
  if (!have_cli()) return;
  const auto names = command_names();
  REQUIRE(names.size() == 11);
  for (const std::string& cmd : names) {
    CAPTURE(cmd);
    const auto opts = help_options(cmd);
    CHECK(has_option(opts, "--help"));
    CHECK(has_option(opts, "--version"));
    const bool reads_image = image_commands.count(cmd) == 1;
    CHECK(has_option(opts, "--device") == reads_image);
    CHECK(has_option(opts, "--offset") == reads_image);
    CHECK(has_option(opts, "--nid") == (cmd == "stat" || cmd == "ls" || cmd == "cat" || cmd == "map"));
    CHECK(has_option(opts, "--json") ==
          (cmd == "info" || cmd == "ls" || cmd == "stat" || cmd == "map" || cmd == "fsck"));
  }
  CHECK(has_option(help_options("serve-fanotify"), "--sparse"));
  CHECK(has_option(help_options("serve-cachefiles"), "--devnode"));
  CHECK(has_option(help_options("serve-cachefiles"), "--devnode-fd"));
  CHECK_FALSE(has_option(help_options("serve-cachefiles"), "--device-fd"));
}

TEST_CASE("cli: the man page documents every command and every option --help lists") {
  if (!have_cli()) return;
  std::string man = slurp(std::string(EROFSFS_TEST_DATA) + "/../../docs/erofsfs.1");
  // roff writes a minus as "\-"; compare the text as a reader sees it.
  for (std::size_t at = man.find("\\-"); at != std::string::npos; at = man.find("\\-", at))
    man.erase(at, 1);
  for (const std::string& cmd : command_names()) {
    CAPTURE(cmd);
    CHECK(contains(man, ".SS " + cmd));
    for (const std::string& opt : help_options(cmd)) {
      CAPTURE(opt);
      CHECK(contains(man, opt));
    }
  }
}

TEST_CASE("cli: --offset reads an image that starts inside a bigger file") {
  if (!have_cli()) return;
  temp_dir tmp;
  const std::size_t offset = (1u << 20) + 512;
  const fs::path dump = tmp.path / "partition.img";
  {
    std::ofstream f(dump, std::ios::binary);
    f << std::string(offset, '\x5a') << slurp(image_path("plain-4k")) << std::string(4096, '\x7e');
  }
  const auto m = load("plain-4k");
  const auto r = run_cli({"cat", "--offset", std::to_string(offset), dump.string(), "/data/mixed-36k"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(sha256_of(r.out) == entry(m, "/data/mixed-36k").sha256);
  const auto hex = run_cli({"fsck", "--offset=0x100200", dump.string()});
  CHECK_MESSAGE(hex.rc == 0, hex.err);
  CHECK(contains(hex.out, " 0 problems\n"));
  const auto without = run_cli({"info", dump.string()});
  CHECK(without.rc == 1);
  CHECK(contains(without.err, "bad superblock magic"));
  const auto past = run_cli({"info", "--offset", "99999999999", dump.string()});
  CHECK(past.rc == 1);
  CHECK(contains(past.err, "offset_source window past the end of its source"));
}

TEST_CASE("cli: --nid addresses an inode without a path lookup") {
  if (!have_cli()) return;
  const std::string img = image_path("plain-4k");
  const auto m = load("plain-4k");
  const std::string nid = nid_of("plain-4k", "/data/mixed-36k");
  const auto cat = run_cli({"cat", "--nid", nid, img});
  REQUIRE_MESSAGE(cat.rc == 0, cat.err);
  CHECK(sha256_of(cat.out) == entry(m, "/data/mixed-36k").sha256);
  const auto st = run_cli({"stat", img, "--nid", nid});
  REQUIRE(st.rc == 0);
  CHECK(contains(st.out, "path: nid " + nid + "\n"));
  CHECK(contains(st.out, "nid: " + nid + "\n"));
  CHECK(contains(st.out, "size: " + std::to_string(entry(m, "/data/mixed-36k").size) + "\n"));
  const auto by_path = run_cli({"map", img, "/data/mixed-36k"});
  const auto by_nid = run_cli({"map", "--nid", nid, img});
  REQUIRE(by_nid.rc == 0);
  CHECK(by_nid.out == by_path.out);
  const auto ls = run_cli({"ls", "--nid", nid_of("plain-4k", "/links"), img});
  REQUIRE(ls.rc == 0);
  CHECK(ls.out == run_cli({"ls", img, "/links"}).out);
  const auto bad = run_cli({"stat", "--nid", "99999999", img});
  CHECK(bad.rc == 1);
  CHECK(contains(bad.err, "erofsfs: stat: nid 99999999: "));
}

TEST_CASE("cli: info --json and stat --json parse and carry the fields the text shows") {
  if (!have_cli() || !have_python()) return;
  const auto info = run_cli({"info", "--json", image_path("plain-4k")});
  REQUIRE(info.rc == 0);
  CHECK(python_json(info.out, "(len(objs), objs[0]['block_size'], objs[0]['uuid'], "
                              "objs[0]['volume_name'], objs[0]['devices'])") ==
        "(1, 4096, '" + info_field("plain-4k", "UUID") + "', 'fixture-plain', [])");
  const auto st = run_cli({"stat", "--json", image_path("plain-4k"), "/xattrs/symlink-with-xattr"});
  REQUIRE(st.rc == 0);
  CHECK(python_json(st.out, "(objs[0]['nid'], objs[0]['type'], objs[0]['target'], "
                            "[x['name'] for x in objs[0]['xattrs']])") ==
        "(" + nid_of("plain-4k", "/xattrs/symlink-with-xattr") +
            ", 'symlink', 'user-one', ['trusted.symlink', 'security.selinux'])");
  CHECK(python_json(st.out, "repr({x['name']: x['value'] for x in objs[0]['xattrs']}"
                            "['security.selinux'])") ==
        "'system_u:object_r:shared_t:s0\\x00'");
}

TEST_CASE("cli: ls -R -a --json gives one object per entry, every path of the manifest") {
  if (!have_cli() || !have_python()) return;
  const auto r = run_cli({"ls", "-R", "-a", "--json", image_path("plain-4k")});
  REQUIRE(r.rc == 0);
  std::size_t entries = 0;
  for (const auto& kv : load("plain-4k")) entries += kv.first != "/";
  CHECK(python_json(r.out, "len(set(o['path'] for o in objs if o['name'] not in ('.', '..')))") ==
        std::to_string(entries));
  CHECK(python_json(r.out, "[(o['type'], o['nlink'], o['size']) for o in objs "
                           "if o['path'] == '/links/hard-a']") ==
        "[('file', " + std::to_string(entry(load("plain-4k"), "/links/hard-a").nlink) + ", " +
            std::to_string(entry(load("plain-4k"), "/links/hard-a").size) + ")]");
}

TEST_CASE("cli: map --json extents tile the file; fsck --json streams problems and a summary") {
  if (!have_cli() || !have_python()) return;
  auto args = device_args("chunk-4k-blobdev");
  args.insert(args.begin(), {"map", "--json"});
  args.push_back(image_path("chunk-4k-blobdev"));
  args.push_back("/sparse/holes-4k-chunks");
  const auto map = run_cli(args);
  REQUIRE(map.rc == 0);
  CHECK(python_json(map.out, "all(a['logical'] + a['length'] == b['logical'] "
                             "for a, b in zip(objs, objs[1:])) and objs[0]['logical'] == 0") ==
        "True");
  CHECK(python_json(map.out, "objs[-1]['logical'] + objs[-1]['length']") ==
        std::to_string(entry(load("chunk-4k-blobdev"), "/sparse/holes-4k-chunks").size));
  CHECK(python_json(map.out, "sorted(set((o['kind'], o['device']) for o in objs), key=str)") ==
        "[('hole', None), ('mapped', 1)]");

  temp_dir tmp;
  std::vector<std::byte> bytes = plain_4k_bytes();
  const std::size_t pos = plain_4k_inode_at("/data/mixed-36k");
  REQUIRE(pos + 2 <= bytes.size());
  // unknown i_format bits (unsupported), as in the text test
  bytes[pos] = bytes[pos + 1] = std::byte{0xff};
  const fs::path bad = write_bytes(tmp.path, bytes);
  const auto fsck = run_cli({"fsck", "--json", bad.string()});
  CHECK(fsck.rc == 1);
  CHECK(fsck.err.empty());
  CHECK(python_json(fsck.out, "[(o['kind'], o.get('path'), o.get('code')) for o in objs]") ==
        "[('problem', '/data/mixed-36k', 'unsupported'), ('summary', None, None)]");
  CHECK(python_json(fsck.out, "objs[-1]['problems']") == "1");
}

TEST_CASE("cli: JSON strings keep any name byte: UTF-8 as is, others as \\udcXX") {
  if (!have_cli()) return;
  erofsfs::test::tiny_image t;
  t.img.put(erofsfs::test::tiny_image::root_dir_pos + 39, "\xc3\xa9\xff\x01");  // was "file"
  temp_dir tmp;
  const fs::path img = write_image(tmp.path, t.img);
  const auto r = run_cli({"ls", "--json", img.string()});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  CHECK(contains(r.out, "\"name\":\"\xc3\xa9\\udcff\\u0001\""));
  if (!have_python()) return;
  CHECK(python_json(r.out, "objs[0]['name'].encode('utf-8', 'surrogateescape')") ==
        "b'\\xc3\\xa9\\xff\\x01'");
}
