// dm-verity verified sources (io/verity_source.hpp, format/verity.hpp) on trees made by the
// real `veritysetup format` (cryptsetup-bin) over fixture images copied to a temporary
// directory: every file through the verified source equals the manifest, tampering with data,
// hash blocks, superblock fields or the root hash fails by name, and serve-fanotify gives the
// reader of a tampered file EIO while the other files read right.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/mmap_source.hpp>
#include <erofsfs/io/verity_source.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/manifest.hpp"
#include "support/run_program.hpp"
#include "support/sha256.hpp"

extern char** environ;

using namespace erofsfs;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "erofsfs-verity-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

using erofsfs::test::run_result;

// Runs a program (found on PATH) with stdout and stderr captured; a program that cannot be
// started gives rc -1 and the reason in err.
run_result run(const std::vector<std::string>& args) { return erofsfs::test::run_program(args); }

// Why veritysetup cannot be used here, or "".
std::string no_veritysetup() {
  const run_result r = run({"veritysetup", "--version"});
  return r.rc == 0 ? "" : "veritysetup not installed (Debian cryptsetup-bin): " + r.err;
}

#define SKIP_UNLESS(reason)                                \
  do {                                                     \
    const std::string why_ = (reason);                     \
    if (!why_.empty()) {                                   \
      MESSAGE("verity test skipped: " << why_);            \
      return;                                              \
    }                                                      \
  } while (0)

// A "Key:   value" line of veritysetup's output.
std::string field(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  }
  return "";
}

// One veritysetup tree over a copy of a fixture image.
struct verity_tree {
  std::string image;  // the copy (with the tree appended when hash == image)
  std::string hash;   // the file holding the tree
  std::string root;   // hex
  std::string salt;   // hex, "-" for none
  std::uint64_t image_size = 0;  // of the fixture, before anything was appended
  run_result format;
};

std::string fixture_image(const std::string& name) {
  return test::fixture_dir(name) + "/" + name + ".erofs";
}

// `veritysetup format` over a copy of fixture `name` in `dir`; `appended` puts the tree at the
// end of the image copy (--hash-offset = its size), else in a file of its own.
verity_tree make_tree(const temp_dir& dir, const std::string& name, bool appended,
                      std::vector<std::string> extra = {}) {
  verity_tree t;
  t.image = dir / (name + ".img");
  fs::copy_file(fixture_image(name), t.image, fs::copy_options::overwrite_existing);
  t.image_size = fs::file_size(t.image);
  t.hash = appended ? t.image : dir / (name + ".hash");
  std::vector<std::string> args{"veritysetup", "format"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (appended) args.push_back("--hash-offset=" + std::to_string(t.image_size));
  args.push_back(t.image);
  args.push_back(t.hash);
  t.format = run(args);
  REQUIRE_MESSAGE(t.format.rc == 0, t.format.err);
  t.root = field(t.format.out, "Root hash");
  t.salt = field(t.format.out, "Salt");
  REQUIRE(t.root.size() == 64);
  return t;
}

// The open sources of one tree.
struct verified {
  std::unique_ptr<mmap_source> data, hash;
  std::unique_ptr<verity_source> src;
};

result<verified> open_verified(const verity_tree& t, const verity_options& opt = {},
                               const std::string& root = "") {
  verified v;
  EROFSFS_TRY_ASSIGN(mmap_source d, mmap_source::open(t.image.c_str()));
  v.data = std::make_unique<mmap_source>(std::move(d));
  EROFSFS_TRY_ASSIGN(mmap_source h, mmap_source::open(t.hash.c_str()));
  v.hash = std::make_unique<mmap_source>(std::move(h));
  EROFSFS_TRY_ASSIGN(verity_source s,
                     verity_source::open(*v.data, *v.hash, root.empty() ? t.root : root, opt));
  v.src = std::make_unique<verity_source>(std::move(s));
  return v;
}

verity_options appended_at(const verity_tree& t) {
  verity_options o;
  o.hash_offset = t.image_size;
  return o;
}

// Every path of the image read through `src` equals fixture `name`'s manifest.
void check_against_manifest(const std::string& name, const verity_source& src) {
  std::string err;
  const auto expected = test::load_manifest(test::fixture_dir(name) + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(expected, err);
  auto img = open_image(src);  // the images verified here need only the built-in LZ4
  REQUIRE_MESSAGE(img, img.error().message());
  auto actual = test::entries_from_image(*img);
  REQUIRE_MESSAGE(actual, actual.error().message());
  const auto diffs = test::compare_manifests(*expected, *actual);
  for (const std::string& d : diffs) MESSAGE(d);
  CHECK(diffs.empty());
  CHECK(expected->size() > 10);
}

void flip_byte(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  REQUIRE(f);
}

// The bytes of the image file a path's data lives in (device 0 extents with stored bytes).
std::vector<std::pair<std::uint64_t, std::uint64_t>> stored_ranges(const image& img,
                                                                    const inode& ino) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  extent_iterator it(img, ino);
  extent e;
  while (true) {
    auto more = it.next(e);
    REQUIRE_MESSAGE(more, more.error().message());
    if (!*more) break;
    if (e.kind == extent_kind::hole || e.device != 0 || (e.flags & extent_flags::in_metabox))
      continue;
    if (e.kind == extent_kind::fragment) continue;  // none in the images tampered here
    out.emplace_back(e.physical, e.physical + e.physical_length);
  }
  return out;
}

}  // namespace


// ---- reading through trees veritysetup made ---------------------------------------------

TEST_CASE("verity: plain-4k through a tree in its own file (format 1, salted, superblock) equals the manifest") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  CHECK(field(t.format.out, "Hash type") == "1");
  CHECK(t.salt.size() == 64);
  auto v = open_verified(t);
  REQUIRE_MESSAGE(v, v.error().message());
  const verity_source& src = *v->src;
  CHECK(src.size() == t.image_size);
  CHECK(src.params().hash_type == 1);
  CHECK(src.params().salt_size == 32);
  CHECK(src.tree().levels == 2);  // 130 data blocks, 128 digests per hash block
  check_against_manifest("plain-4k", src);
  CHECK(src.stats().failures == 0);
}

TEST_CASE("verity: an LZ4 image with the tree appended at --hash-offset equals the manifest") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "lz4", true);
  CHECK(fs::file_size(t.image) > t.image_size);
  auto v = open_verified(t, appended_at(t));
  REQUIRE_MESSAGE(v, v.error().message());
  CHECK(v->src->size() == t.image_size);  // the data area ends where the tree begins
  check_against_manifest("lz4", *v->src);
}

TEST_CASE("verity: a tree without superblock or salt reads with the parameters given by the caller") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false, {"--no-superblock", "--salt=-"});
  CHECK(t.salt == "-");
  verity_options opt;
  opt.superblock = false;
  opt.params.data_blocks = t.image_size / 4096;
  auto v = open_verified(t, opt);
  REQUIRE_MESSAGE(v, v.error().message());
  check_against_manifest("plain-4k", *v->src);
  // The same tree read as if it had a superblock: there is none.
  auto wrong = open_verified(t);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().what == what::verity_superblock_signature_missing);
}

TEST_CASE("verity: Chrome OS trees (format 0, salt appended) read, with and without superblock") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  {
    const verity_tree t = make_tree(dir, "real-doc", true, {"--format=0"});
    CHECK(field(t.format.out, "Hash type") == "0");
    auto v = open_verified(t, appended_at(t));
    REQUIRE_MESSAGE(v, v.error().message());
    CHECK(v->src->params().hash_type == 0);
    check_against_manifest("real-doc", *v->src);
  }
  {
    const verity_tree t = make_tree(dir, "plain-4k", false, {"--format=0", "--no-superblock"});
    REQUIRE(t.salt.size() == 64);
    verity_options opt;
    opt.superblock = false;
    opt.params.hash_type = 0;
    opt.params.data_blocks = t.image_size / 4096;
    opt.params.salt_size = 32;
    REQUIRE(parse_hex(t.salt, std::span(opt.params.salt).first(32)));
    auto v = open_verified(t, opt);
    REQUIRE_MESSAGE(v, v.error().message());
    check_against_manifest("plain-4k", *v->src);
    // Hashed as format 1 the same tree fails at its top block.
    opt.params.hash_type = 1;
    auto as1 = open_verified(t, opt);
    REQUIRE(as1);
    std::vector<std::byte> b(4096);
    const status st = as1->src->read(0, b);
    REQUIRE_FALSE(st);
    CHECK(st.error().what == what::verity_hash_block_does_not_match_its_digest[1]);
  }
}

TEST_CASE("verity: 512-byte data and hash blocks make a three-level tree that reads right") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t =
      make_tree(dir, "plain-b1024", false, {"--data-block-size=512", "--hash-block-size=512"});
  auto v = open_verified(t);
  REQUIRE_MESSAGE(v, v.error().message());
  const verity_source& src = *v->src;
  CHECK(src.params().data_block_size == 512);
  CHECK(src.params().hash_block_size == 512);
  CHECK(src.tree().bits == 4);  // 16 sha256 digests per 512-byte block
  CHECK(src.tree().levels == 3);  // 378 data blocks > 16 * 16
  CHECK(src.tree().end_block - src.tree().level_start[src.tree().levels - 1] ==
        std::stoull(field(t.format.out, "Hash blocks")));
  check_against_manifest("plain-b1024", src);
}

TEST_CASE("verity: a sequential read hashes every data block once and every tree block once") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t =
      make_tree(dir, "plain-b1024", false, {"--data-block-size=512", "--hash-block-size=512"});
  auto v = open_verified(t);
  REQUIRE(v);
  const verity_source& src = *v->src;
  const std::uint64_t tree_blocks = std::stoull(field(t.format.out, "Hash blocks"));
  const std::string raw = slurp(t.image);
  std::vector<std::byte> buf(src.size());
  for (std::uint64_t off = 0; off < src.size(); off += 65536) {  // in 64 KiB reads
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(65536, src.size() - off));
    const status st = src.read(off, std::span(buf).subspan(off, n));
    REQUIRE_MESSAGE(st, st.error().message());
  }
  CHECK(std::memcmp(buf.data(), raw.data(), buf.size()) == 0);
  const verity_stats s = src.stats();
  MESSAGE(src.params().data_blocks << " data blocks, " << tree_blocks << " tree blocks in "
                                    << src.tree().levels << " levels; hashed "
                                    << s.hash_blocks_verified << " hash blocks");
  CHECK(s.data_blocks_verified == src.params().data_blocks);
  CHECK(s.hash_blocks_verified == tree_blocks);
  CHECK(s.failures == 0);
}

TEST_CASE("verity: concurrent unaligned reads on one source with a one-block cache all verify") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  verity_options opt;
  opt.cache_blocks = 1;  // constant eviction: readers race on the cache
  auto v = open_verified(t, opt);
  REQUIRE(v);
  const verity_source& src = *v->src;
  const std::string raw = slurp(t.image);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&src, &raw, &bad, k] {
      std::vector<std::byte> b(5000 + 517 * static_cast<std::size_t>(k));
      for (std::uint64_t off = static_cast<std::uint64_t>(k) * 333; off < src.size(); off += b.size()) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b.size(), src.size() - off));
        const auto part = std::span(b).first(n);
        if (!src.read(off, part) || std::memcmp(part.data(), raw.data() + off, n) != 0) ++bad;
      }
    });
  for (std::thread& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(src.stats().failures == 0);
}

// ---- tampering ---------------------------------------------------------------------------

namespace {
struct failure_log {
  std::vector<error> seen;
  static void record(void* self, const error& e) noexcept {
    static_cast<failure_log*>(self)->seen.push_back(e);
  }
};
}  // namespace

TEST_CASE("verity: one tampered data byte fails exactly the reads touching its block, naming it") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  const std::string victim = "/data/text-96k";
  std::uint64_t bad_block = 0;
  {  // where the victim's bytes are, from the untouched image
    auto fx = test::open_fixture("plain-4k");
    REQUIRE(fx);
    reader r((*fx)->img);
    auto ino = r.stat(victim);
    REQUIRE(ino);
    const auto ranges = stored_ranges((*fx)->img, *ino);
    REQUIRE(!ranges.empty());
    const std::uint64_t at = ranges.front().first + 5000;
    REQUIRE(at < ranges.front().second);
    flip_byte(t.image, at);
    bad_block = at / 4096;
  }
  failure_log log;
  verity_options opt;
  opt.on_failure = &failure_log::record;
  opt.failure_context = &log;
  auto v = open_verified(t, opt);
  REQUIRE(v);
  const verity_source& src = *v->src;

  std::vector<std::byte> block(4096, std::byte{0xee});
  const status st = src.read(bad_block * 4096 + 100, std::span(block).first(10));
  REQUIRE_FALSE(st);
  CHECK(st.error().code == errc::corrupted);
  CHECK(st.error().what == what::verity_data_block_does_not_match_its_digest);
  CHECK(st.error().value == bad_block);
  CHECK(st.error().offset == bad_block * 4096);
  CHECK(std::all_of(block.begin(), block.begin() + 10, [](std::byte b) { return b == std::byte{0}; }));
  REQUIRE(log.seen.size() == 1);
  CHECK(log.seen[0].what == what::verity_data_block_does_not_match_its_digest);
  MESSAGE(st.error().message());
  // The blocks on either side still read.
  CHECK(src.read((bad_block - 1) * 4096, block));
  CHECK(src.read((bad_block + 1) * 4096, block));

  // Through the image: each file fails exactly when its stored bytes touch the bad block.
  auto img = open_image(src);
  REQUIRE_MESSAGE(img, img.error().message());
  reader r(*img);
  std::string err;
  const auto m = test::load_manifest(test::fixture_dir("plain-4k") + "/manifest.jsonl", err);
  REQUIRE(m);
  int failed = 0, read_ok = 0;
  for (const auto& kv : *m) {
    const test::manifest_entry& e = kv.second;
    if (e.type != "file") continue;
    auto ino = r.stat(e.path);
    REQUIRE_MESSAGE(ino, e.path);
    bool touches = false;
    for (const auto& rg : stored_ranges(*img, *ino))
      touches |= rg.first < (bad_block + 1) * 4096 && rg.second > bad_block * 4096;
    auto data = r.read_file(*ino);
    CHECK_MESSAGE(bool(data) == !touches, e.path);
    if (data) {
      CHECK_MESSAGE(test::sha256::of(*data) == e.sha256, e.path);
      ++read_ok;
    } else {
      CHECK(data.error().code == errc::corrupted);
      ++failed;
    }
  }
  MESSAGE("data block " << bad_block << " tampered: " << failed << " file(s) fail, " << read_ok
                        << " read right");
  CHECK(failed >= 1);
  CHECK(read_ok > 100);
}

TEST_CASE("verity: a tampered hash block fails the data blocks under it, naming level and index") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);  // 130 blocks: levels 1 (1 block), 0 (2)
  verity::tree tree;
  {
    auto v0 = open_verified(t);
    REQUIRE(v0);
    tree = v0->src->tree();
  }
  REQUIRE(tree.levels == 2);
  REQUIRE(tree.level_blocks[0] == 2);
  std::vector<std::byte> b(4096);
  SUBCASE("level 0, index 1: data blocks 128 and 129 fail, block 0 reads") {
    flip_byte(t.hash, (tree.level_start[0] + 1) * 4096 + 40);
    auto v = open_verified(t);
    REQUIRE(v);
    CHECK(v->src->read(0, b));
    const status st = v->src->read(129 * 4096, b);
    REQUIRE_FALSE(st);
    CHECK(st.error().what == what::verity_hash_block_does_not_match_its_digest[0]);
    CHECK(st.error().value == 1);
    CHECK(st.error().offset == (tree.level_start[0] + 1) * 4096);
    MESSAGE(st.error().message());
    CHECK_FALSE(v->src->read(128 * 4096, b));
    CHECK(v->src->read(127 * 4096, b));
  }
  SUBCASE("level 1 (the top block): every read fails") {
    flip_byte(t.hash, tree.level_start[1] * 4096 + 4000);  // in the zero padding: hashed too
    auto v = open_verified(t);
    REQUIRE(v);
    for (std::uint64_t blk : {std::uint64_t{0}, std::uint64_t{129}}) {
      const status st = v->src->read(blk * 4096, b);
      REQUIRE_FALSE(st);
      CHECK(st.error().what == what::verity_hash_block_does_not_match_its_digest[1]);
      CHECK(st.error().value == 0);
    }
  }
}

TEST_CASE("verity: a wrong or malformed root hash is refused by name") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  std::string wrong = t.root;
  wrong[10] = wrong[10] == '0' ? '1' : '0';
  auto v = open_verified(t, {}, wrong);
  REQUIRE(v);
  std::vector<std::byte> b(4096);
  const status st = v->src->read(0, b);
  REQUIRE_FALSE(st);
  CHECK(st.error().what == what::verity_hash_block_does_not_match_its_digest[1]);
  auto img = open_image(*v->src);
  CHECK_FALSE(img);
  for (const std::string& bad : {t.root.substr(2), t.root + "00", "zz" + t.root.substr(2)}) {
    auto m = open_verified(t, {}, bad);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == errc::invalid_argument);
    CHECK(m.error().what == what::verity_root_hash_not_hex_of_the_digest_size);
  }
  std::string upper = t.root;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(open_verified(t, {}, upper));
}

TEST_CASE("verity: reads past the data area are refused") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", true);
  auto v = open_verified(t, appended_at(t));
  REQUIRE(v);
  std::vector<std::byte> b(8);
  const status st = v->src->read(t.image_size - 4, b);  // runs into the tree's superblock
  REQUIRE_FALSE(st);
  CHECK(st.error().code == errc::truncated);
  CHECK(st.error().what == what::verity_read_past_the_data_area);
}

TEST_CASE("verity: every superblock field is checked by name") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  const std::string real = slurp(t.hash).substr(0, 512);
  auto parse = [&](auto&& patch) {
    std::string s = real;
    patch(s);
    return verity::parse_superblock(std::as_bytes(std::span(s.data(), s.size())));
  };
  auto put32 = [](std::string& s, std::size_t at, std::uint32_t v) { std::memcpy(&s[at], &v, 4); };
  auto expect = [](const result<verity::superblock>& r, const char* w) {
    REQUIRE_FALSE(r);
    CHECK(r.error().what == w);
  };
  {
    auto ok = parse([](std::string&) {});
    REQUIRE_MESSAGE(ok, ok.error().message());
    CHECK(ok->p.data_blocks == 130);
    CHECK(ok->p.data_block_size == 4096);
  }
  expect(parse([](std::string& s) { s[0] = 'V'; }), what::verity_superblock_signature_missing);
  expect(parse([&](std::string& s) { put32(s, 8, 2); }), what::verity_superblock_version_not_1);
  expect(parse([&](std::string& s) { put32(s, 12, 2); }), what::verity_hash_type_not_0_or_1);
  for (std::uint32_t bad : {0u, 256u, 3000u, 1u << 20})
    expect(parse([&](std::string& s) { put32(s, 64, bad); }), what::verity_data_block_size_invalid);
  expect(parse([&](std::string& s) { put32(s, 68, 6144); }), what::verity_hash_block_size_invalid);
  expect(parse([](std::string& s) { s[80] = 1; s[81] = 1; }), what::verity_salt_larger_than_256_bytes);
  expect(parse([](std::string& s) { std::memset(&s[72], 0, 8); }), what::verity_data_block_count_is_zero);
  expect(parse([](std::string& s) { s[79] = 0x10; }), what::verity_data_area_overflows);
  expect(parse([](std::string& s) { std::memset(&s[32], 'a', 32); }),
         what::verity_algorithm_name_not_nul_terminated);
  {
    auto r = parse([](std::string& s) { std::memcpy(&s[32], "md5\0\0\0", 6); });
    expect(r, what::verity_hash_algorithm_not_supported);
    CHECK(r.error().code == errc::unsupported);
  }
  expect(verity::parse_superblock(std::as_bytes(std::span(real.data(), 100))),
         what::verity_superblock_signature_missing);

  // Counts against the sources' sizes, through open().
  auto write_sb = [&](std::uint64_t data_blocks) {
    std::string s = slurp(t.hash);
    std::memcpy(&s[72], &data_blocks, 8);
    std::ofstream(t.hash, std::ios::binary | std::ios::trunc).write(s.data(), static_cast<std::streamsize>(s.size()));
  };
  write_sb(131);  // one block more than the image has
  auto big = open_verified(t);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == errc::truncated);
  CHECK(big.error().what == what::verity_data_source_smaller_than_the_data_area);
  write_sb(130);
  fs::resize_file(t.hash, 3 * 4096);  // superblock + 2 of the tree's 3 blocks
  auto short_tree = open_verified(t);
  REQUIRE_FALSE(short_tree);
  CHECK(short_tree.error().what == what::verity_hash_source_smaller_than_the_tree);
  verity_options odd;
  odd.hash_offset = 100;
  auto misaligned = open_verified(t, odd);
  REQUIRE_FALSE(misaligned);
  CHECK(misaligned.error().what == what::verity_hash_offset_not_aligned);
}

// A tree veritysetup made over a copy of plain-4k with another hash algorithm.
verity_tree tree_with_hash(const temp_dir& dir, const std::string& algorithm) {
  verity_tree x;
  x.image = dir / "img";
  fs::copy_file(fixture_image("plain-4k"), x.image);
  x.hash = dir / "hash";
  x.format = run({"veritysetup", "format", "--hash=" + algorithm, x.image, x.hash});
  REQUIRE_MESSAGE(x.format.rc == 0, x.format.err);
  x.root = field(x.format.out, "Root hash");
  return x;
}

TEST_CASE("verity: trees of other hash algorithms are refused as unsupported by name") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = tree_with_hash(dir, "sha1");
  auto v = open_verified(t, {}, t.root);
  REQUIRE_FALSE(v);
  CHECK(v.error().code == errc::unsupported);
  CHECK(v.error().what == what::verity_hash_algorithm_not_supported);
}

TEST_CASE("verity: a sha512 tree (as seekable zstd layers embed) verifies every file") {
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree t = tree_with_hash(dir, "sha512");
  REQUIRE(t.root.size() == 128);
  auto v = open_verified(t);
  REQUIRE_MESSAGE(v, v.error().message());
  CHECK(v->src->params().algorithm == verity::hash_algorithm::sha512);
  check_against_manifest("plain-4k", *v->src);
  CHECK(v->src->stats().failures == 0);
}

TEST_CASE("verity: the tree's layout follows the kernel's rules on hand-made parameters") {
  verity::params p;
  p.data_blocks = 1;  // one data block: no hash blocks, its digest is the root
  auto t1 = verity::make_tree(p, 0);
  REQUIRE(t1);
  CHECK(t1->levels == 0);
  CHECK(t1->end_block == 0);
  p.data_blocks = 128 * 128 + 1;  // just over two full levels of 4 KiB sha256 blocks
  auto t3 = verity::make_tree(p, 1);
  REQUIRE(t3);
  CHECK(t3->levels == 3);
  CHECK(t3->level_blocks[2] == 1);
  CHECK(t3->level_blocks[1] == 2);
  CHECK(t3->level_blocks[0] == 129);
  CHECK(t3->level_start[2] == 1);  // top level first
  CHECK(t3->level_start[1] == 2);
  CHECK(t3->level_start[0] == 4);
  CHECK(t3->position(0, 128 * 128).hash_block == 4 + 128);
  CHECK(t3->position(1, 128 * 128).hash_block == 3);
  CHECK(t3->position(0, 5).offset == 5 * 32);
  p.hash_block_size = 512;
  p.data_block_size = 512;
  p.data_blocks = std::uint64_t{1} << 54;  // 2^63 bytes: 14 levels of 16 digests
  auto deep = verity::make_tree(p, 0);
  REQUIRE(deep);
  CHECK(deep->levels == 14);
  auto over = verity::make_tree(p, ~std::uint64_t{0} - 3);  // the tree would pass 2^64 blocks
  REQUIRE_FALSE(over);
  CHECK(over.error().what == what::verity_hash_area_overflows);
  p.hash_block_size = 32;  // below two sha256 digests (and below 512)
  CHECK(verity::make_tree(p, 0).error().what == what::verity_hash_block_size_invalid);
  CHECK(verity::first_hash_block(4096, 4096, true).value() == 2);  // superblock padded to a block
  CHECK(verity::first_hash_block(512, 4096, true).value() == 1);
  CHECK(verity::first_hash_block(8192, 4096, false).value() == 2);
  CHECK(verity::first_hash_block(512, 4096, false).error().what == what::verity_hash_offset_not_aligned);
}

// ---- the real kernel and the tool ---------------------------------------------------------

namespace {

// The offset of a byte inside `path`'s stored data in fixture `name` (untouched).
std::uint64_t byte_of_file(const std::string& name, const std::string& path, std::uint64_t within) {
  auto fx = test::open_fixture(name);
  REQUIRE(fx);
  reader r((*fx)->img);
  auto ino = r.stat(path);
  REQUIRE(ino);
  const auto ranges = stored_ranges((*fx)->img, *ino);
  REQUIRE(!ranges.empty());
  REQUIRE(ranges.front().first + within < ranges.front().second);
  return ranges.front().first + within;
}

std::string manifest_sha(const std::string& name, const std::string& path) {
  std::string err;
  const auto m = test::load_manifest(test::fixture_dir(name) + "/manifest.jsonl", err);
  REQUIRE(m);
  const auto it = m->find(path);
  REQUIRE(it != m->end());
  return it->second.sha256;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("verity: the kernel's dm-verity reads the same blocks (veritysetup open), where available") {
  SKIP_UNLESS(no_veritysetup());
  if (::geteuid() != 0) {
    MESSAGE("verity kernel cross-check skipped: not root");
    return;
  }
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", false);
  const std::string name = "erofsfs-verity-test-" + std::to_string(::getpid());
  const run_result o = run({"veritysetup", "open", t.image, name, t.hash, t.root});
  if (o.rc != 0) {
    MESSAGE("verity kernel cross-check skipped: veritysetup open failed (host kernel without "
            "device-mapper/dm-verity?): " << o.err);
    return;
  }
  auto v = open_verified(t);
  REQUIRE(v);
  const std::string dev = slurp("/dev/mapper/" + name);
  run({"veritysetup", "close", name});
  REQUIRE(dev.size() == v->src->size());
  std::vector<std::byte> all(dev.size());
  REQUIRE(v->src->read(0, all));
  CHECK(std::memcmp(all.data(), dev.data(), dev.size()) == 0);
}

TEST_CASE("verity: erofsfs cat --verity-* reads verified files and names a tampered block") {
  if (std::string_view(EROFSFS_CLI).empty()) {
    MESSAGE("erofsfs tool not built: verity cli test skipped");
    return;
  }
  SKIP_UNLESS(no_veritysetup());
  temp_dir dir;
  const verity_tree sep = make_tree(dir, "plain-4k", false);
  const std::string victim = "/data/text-96k", other = "/data/random-32k";
  auto cat = [&](const std::vector<std::string>& verity, const std::string& image,
                 const std::string& path) {
    std::vector<std::string> args{EROFSFS_CLI, "cat"};
    args.insert(args.end(), verity.begin(), verity.end());
    args.push_back(image);
    args.push_back(path);
    return run(args);
  };
  const std::vector<std::string> with_file{"--verity-root", sep.root, "--verity-hash", sep.hash};
  {
    const run_result r = cat(with_file, sep.image, victim);
    CHECK_MESSAGE(r.rc == 0, r.err);
    CHECK(test::sha256::of(std::as_bytes(std::span(r.out.data(), r.out.size()))) ==
          manifest_sha("plain-4k", victim));
  }
  const std::uint64_t at = byte_of_file("plain-4k", victim, 70000);
  flip_byte(sep.image, at);
  {
    const run_result r = cat(with_file, sep.image, victim);
    CHECK(r.rc == 1);
    CHECK(r.out.size() < 70000 / 4096 * 4096 + 1);  // nothing of the bad block or after it
    const bool names_block =
        contains(r.err, std::string(what::verity_data_block_does_not_match_its_digest) +
                            " (offset 0x") &&
        contains(r.err, "value " + std::to_string(at / 4096) + ")");
    CHECK_MESSAGE(names_block, r.err);
  }
  {
    const run_result r = cat(with_file, sep.image, other);
    CHECK_MESSAGE(r.rc == 0, r.err);
    CHECK(test::sha256::of(std::as_bytes(std::span(r.out.data(), r.out.size()))) ==
          manifest_sha("plain-4k", other));
  }
  // The tree appended to the image, found at --verity-offset; a wrong root fails.
  const verity_tree app = make_tree(dir, "lz4", true);
  const std::string offset = std::to_string(app.image_size);
  const run_result ok = cat({"--verity-root", app.root, "--verity-offset", offset}, app.image,
                            "/data/text-96k");
  CHECK_MESSAGE(ok.rc == 0, ok.err);
  CHECK(test::sha256::of(std::as_bytes(std::span(ok.out.data(), ok.out.size()))) ==
        manifest_sha("lz4", "/data/text-96k"));
  std::string wrong = app.root;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  const run_result bad = cat({"--verity-root", wrong, "--verity-offset", offset}, app.image,
                             "/data/text-96k");
  CHECK(bad.rc == 1);
  // 95 data blocks: a one-level tree, whose only block the wrong root fails.
  CHECK_MESSAGE(contains(bad.err, what::verity_hash_block_does_not_match_its_digest[0]), bad.err);
  const run_result no_root = cat({"--verity-hash", sep.hash}, sep.image, other);
  CHECK(no_root.rc == 1);
  CHECK_MESSAGE(contains(no_root.err, "need --verity-root"), no_root.err);
}

TEST_CASE("kernel: serve-fanotify with verification gives the reader of a tampered file EIO, others read right") {
  if (std::string_view(EROFSFS_CLI).empty()) {
    MESSAGE("erofsfs tool not built: serve-fanotify verity test skipped");
    return;
  }
  SKIP_UNLESS(no_veritysetup());
  if (::geteuid() != 0 || !contains(slurp("/proc/filesystems"), "erofs")) {
    MESSAGE("fanotify kernel test skipped: not root or no erofs");
    return;
  }
  temp_dir dir;
  const verity_tree t = make_tree(dir, "plain-4k", true);
  const std::string victim = "/data/text-96k";
  const std::uint64_t at = byte_of_file("plain-4k", victim, 40000);
  flip_byte(t.image, at);
  const std::string mnt = dir / "mnt", err_path = dir / "stderr";
  ::mkdir(mnt.c_str(), 0755);
  std::vector<std::string> args{EROFSFS_CLI, "serve-fanotify", t.image, "--sparse",
                                dir / "sparse", "--mount", mnt, "--verity-root", t.root,
                                "--verity-offset", std::to_string(t.image_size)};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  const int e = posix_spawn(&pid, EROFSFS_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(e == 0);
  bool up = false, exited = false;
  int status = 0;
  for (int i = 0; i < 1200 && !up && !exited; ++i) {  // about a minute at most
    up = contains(slurp(err_path), "mounted on");
    if (!up) {
      exited = ::waitpid(pid, &status, WNOHANG) == pid;
      ::usleep(50000);
    }
  }
  if (exited && contains(slurp(err_path), "not supported")) {
    MESSAGE("fanotify kernel test skipped: " << slurp(err_path));
    return;
  }
  REQUIRE_MESSAGE(up, slurp(err_path));

  std::string err;
  const auto m = test::load_manifest(test::fixture_dir("plain-4k") + "/manifest.jsonl", err);
  REQUIRE(m);
  int eio = 0, right = 0;
  for (const auto& kv : *m) {
    const test::manifest_entry& f = kv.second;
    if (f.type != "file") continue;
    const int fd = ::open((mnt + f.path).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE_MESSAGE(fd >= 0, f.path);
    test::sha256 h;
    std::vector<std::byte> buf(65536);
    int read_errno = 0;
    while (true) {  // bounded by the file's size
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_errno = errno;
      if (n <= 0) break;
      h.update(std::span(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    if (f.path == victim) {
      CHECK(read_errno == EIO);
      eio += read_errno == EIO;
    } else {
      CHECK_MESSAGE(read_errno == 0, f.path << ": " << std::strerror(read_errno));
      CHECK_MESSAGE(h.hex() == f.sha256, f.path);
      ++right;
    }
  }
  REQUIRE(::kill(pid, SIGTERM) == 0);
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  const std::string log = slurp(err_path);
  MESSAGE("tampered data block " << at / 4096 << ": " << eio << " reader got EIO, " << right
                                 << " files read right");
  CHECK(eio == 1);
  CHECK(right > 100);
  const bool names_block =
      contains(log, std::string(what::verity_data_block_does_not_match_its_digest) +
                        " (offset 0x") &&
      contains(log, "value " + std::to_string(at / 4096) + ")");
  CHECK_MESSAGE(names_block, log);
  // The kernel may ask again after a denial (readahead, then the read itself): one or more.
  const std::string exiting = log.substr(log.find("exiting:"));
  const bool denied = !contains(exiting, "denied 0") && !contains(exiting, "fill errors 0");
  CHECK_MESSAGE(denied, exiting);
  ::umount2(mnt.c_str(), MNT_DETACH);  // in case the tool could not unmount
}
