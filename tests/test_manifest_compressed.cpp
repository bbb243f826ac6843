// Every compressed fixture image reads exactly as the Linux kernel saw it (manifest.jsonl):
// paths, types, modes, sizes, xattrs and the SHA-256 of every file's decoded content.
#include <doctest/doctest.h>

#include <string>

#include "erofsfs/codecs/all.hpp"
#include "erofsfs/erofsfs.hpp"
#include "support/codecs.hpp"
#include "support/manifest.hpp"

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
