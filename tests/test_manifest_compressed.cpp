// Every compressed fixture image reads exactly as the Linux kernel saw it (manifest.jsonl):
// paths, types, modes, sizes, xattrs and the SHA-256 of every file's decoded content.
#include <doctest/doctest.h>

#include <string>

#include "erofsfs/codecs/all.hpp"
#include "erofsfs/erofsfs.hpp"
#include "support/codecs.hpp"
#include "support/manifest.hpp"
#include "support/sha256.hpp"

namespace {

using namespace erofsfs;

void check_fixture(const std::string& name) {
  EROFSFS_SKIP_UNLESS_DECODABLE(name);
  const auto diffs = erofsfs::test::check_fixture_against_manifest(name, &all_decompressors());
  for (const std::string& d : diffs) FAIL_CHECK(std::string(name + ": " + d));
  CHECK(diffs.empty());
}

}  // namespace

#define EROFSFS_MANIFEST_CASE(image, what) \
  TEST_CASE("fixture " image " (" what ") matches the kernel's view") { check_fixture(image); }

EROFSFS_MANIFEST_CASE("lz4", "LZ4, compact indexes")
EROFSFS_MANIFEST_CASE("lz4-legacy-index", "LZ4, full indexes")
EROFSFS_MANIFEST_CASE("lz4hc-pcluster16k", "LZ4HC big pclusters")
EROFSFS_MANIFEST_CASE("lz4hc-ztailpacking", "LZ4HC ztailpacking")
EROFSFS_MANIFEST_CASE("lz4-fragments", "LZ4 fragments")
EROFSFS_MANIFEST_CASE("lz4hc-allfrag-dedupe", "LZ4HC whole-file fragments + dedupe")
EROFSFS_MANIFEST_CASE("lz4hc-b1024-ztail", "LZ4HC 1 KiB blocks + ztailpacking")
EROFSFS_MANIFEST_CASE("metabox-lz4", "LZ4 metabox")
EROFSFS_MANIFEST_CASE("dirs-compressed", "LZ4HC compressed directories")
EROFSFS_MANIFEST_CASE("v15-lz4-legacy", "erofs-utils 1.5 LZ4 without 0-padding")
EROFSFS_MANIFEST_CASE("v15-lz4hc-pcluster16k", "erofs-utils 1.5 LZ4HC big pclusters")
EROFSFS_MANIFEST_CASE("v15-lz4hc-ztailpacking", "erofs-utils 1.5 LZ4HC ztailpacking")
EROFSFS_MANIFEST_CASE("xattr-prefix-packed", "long xattr prefixes in the packed inode")
EROFSFS_MANIFEST_CASE("lzma-pcluster64k", "MicroLZMA 64 KiB pclusters, sparse files")
EROFSFS_MANIFEST_CASE("lzma-ztail-frag-dedupe", "MicroLZMA ztailpacking + fragments + dedupe")
EROFSFS_MANIFEST_CASE("deflate-pcluster16k", "DEFLATE 16 KiB pclusters")
EROFSFS_MANIFEST_CASE("deflate-allfrag", "DEFLATE whole-file fragments")
EROFSFS_MANIFEST_CASE("zstd-pcluster32k", "Zstandard 32 KiB pclusters")
EROFSFS_MANIFEST_CASE("zstd-48bit", "Zstandard encoded extents, unaligned pclusters")
EROFSFS_MANIFEST_CASE("zstd-ztail-frag-dedupe", "Zstandard ztailpacking + fragments + dedupe")
EROFSFS_MANIFEST_CASE("newest-combo", "48bit + metabox + fragments + dedupe + ztailpacking + zstd")
EROFSFS_MANIFEST_CASE("v18-multi-algorithm", "erofs-utils 1.8 LZ4HC + MicroLZMA + Zstandard")
EROFSFS_MANIFEST_CASE("v18-lzma-ztail-frag", "erofs-utils 1.8 MicroLZMA ztailpacking + fragments")
EROFSFS_MANIFEST_CASE("real-doc-dedupe", "-Ededupe alone: the fragments bit with packed_nid 0")
EROFSFS_MANIFEST_CASE("real-python-allfrag", "a Python stdlib slice, every file in the packed inode")
EROFSFS_MANIFEST_CASE("metabox-xattr-prefix", "metabox with long xattr prefixes")

TEST_CASE("known issue lz4hc-frag-ztail-mkfs-bug reads as the kernel shows it") {
  const auto diffs = erofsfs::test::check_fixture_against_manifest(
      "lz4hc-frag-ztail-mkfs-bug", &all_decompressors(), "known-issues");
  for (const std::string& d : diffs) FAIL_CHECK(d);
  CHECK(diffs.empty());
}

namespace {

// sha256 of regular file `ino` read with read_extent() along its extents, `piece` bytes at a
// time (0: each extent whole), with a fresh read_context.
std::string hash_by_extents(const image& img, const inode& ino, std::size_t piece) {
  read_context ctx;
  extent_iterator it(img, ino);
  extent e;
  erofsfs::test::sha256 h;
  std::vector<std::byte> buf;
  while (true) {
    auto more = it.next(e);
    if (!more) return "iterator: " + more.error().message();
    if (!*more) break;
    for (std::uint64_t at = e.logical; at < e.end();) {
      const std::uint64_t n = piece == 0 ? e.length : std::min<std::uint64_t>(piece, e.end() - at);
      buf.resize(static_cast<std::size_t>(n));
      if (const status st = read_extent(img, ino, e, at, buf, ctx); !st)
        return "read_extent: " + st.error().message();
      h.update(std::span<const std::byte>(buf));
      at += n;
    }
  }
  return h.hex();
}

}  // namespace

TEST_CASE("read_extent along the extents gives the kernel's bytes, whole or in 1000-byte pieces") {
  // Whole extents take the straight decode into the caller's buffer; pieces go through the
  // context's held extent. Both must give every file's kernel sha256.
  for (const char* name : {"lz4hc-pcluster16k", "lz4hc-ztailpacking", "lzma-ztail-frag-dedupe",
                           "zstd-ztail-frag-dedupe", "newest-combo", "deflate-pcluster16k"}) {
    CAPTURE(name);
    EROFSFS_SKIP_UNLESS_DECODABLE(name);
    std::string err;
    const auto want = erofsfs::test::load_manifest(
        erofsfs::test::fixture_dir(name) + "/manifest.jsonl", err);
    REQUIRE_MESSAGE(want, err);
    auto f = erofsfs::test::open_fixture(name, &all_decompressors());
    REQUIRE(f);
    const image& img = (*f)->img;
    unsigned files = 0;
    read_context walk_ctx;
    const status st = walk(img, walk_ctx, [&](const walk_entry& w) -> status {
      if (!w.ino.is_regular()) return {};
      const auto it = want->find(std::string(w.path));
      if (it == want->end() || it->second.sha256.empty()) return {};
      CAPTURE(w.path);
      CHECK(hash_by_extents(img, w.ino, 0) == it->second.sha256);
      CHECK(hash_by_extents(img, w.ino, 1000) == it->second.sha256);
      ++files;
      return {};
    });
    CHECK(st);
    CHECK(files > 0);
  }
}

TEST_CASE("read_extent refuses a span outside the extent it is given") {
  auto f = erofsfs::test::open_fixture("lz4hc-pcluster16k", &all_decompressors());
  REQUIRE(f);
  const image& img = (*f)->img;
  read_context ctx;
  auto ino = resolve_path(img, "/data/text-96k", ctx);
  REQUIRE(ino);
  extent_iterator it(img, *ino);
  extent e;
  REQUIRE(*it.next(e));
  std::vector<std::byte> buf(16);
  const status before = read_extent(img, *ino, e, e.logical + e.length - 8, buf, ctx);
  REQUIRE_FALSE(before);
  CHECK(std::string_view(before.error().what) == what::read_outside_the_extent);
  CHECK(before.error().code == errc::invalid_argument);
}
