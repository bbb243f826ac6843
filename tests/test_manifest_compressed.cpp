// Every compressed fixture image reads exactly as the Linux kernel saw it (manifest.jsonl):
// paths, types, modes, sizes, xattrs and the SHA-256 of every file's decoded content.
#include <doctest/doctest.h>

#include <string>

#include "erofsfs/erofsfs.hpp"
#include "support/manifest.hpp"

namespace {

using namespace erofsfs;

// The built-in LZ4 decoder; the other algorithms come from the codec adapters.
const decompressor_table& decoders() {
  static const decompressor_table t = builtin_decompressors();
  return t;
}

void check_fixture(const std::string& name) {
  const auto diffs = erofsfs::test::check_fixture_against_manifest(name, &decoders());
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

TEST_CASE("known issue lz4hc-frag-ztail-mkfs-bug reads as the kernel shows it") {
  const auto diffs = erofsfs::test::check_fixture_against_manifest(
      "lz4hc-frag-ztail-mkfs-bug", &decoders(), "known-issues");
  for (const std::string& d : diffs) FAIL_CHECK(d);
  CHECK(diffs.empty());
}
