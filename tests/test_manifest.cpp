// Every uncompressed fixture image reads exactly as the Linux kernel saw it: each path's type,
// mode, owner, size, nlink, mtime, ino, st_blocks, symlink target, rdev, xattrs and content
// hash match the image's manifest.jsonl (tests/data/images/<name>/).
#include <doctest/doctest.h>

#include <string>

#include "support/manifest.hpp"

namespace {

void check_fixture(const std::string& name) {
  const auto diffs = erofsfs::test::check_fixture_against_manifest(name);
  for (const std::string& d : diffs) FAIL_CHECK(std::string(name + ": " + d));
  CHECK(diffs.empty());
}

}  // namespace

#define EROFSFS_MANIFEST_CASE(image, what) \
  TEST_CASE("fixture " image " (" what ") matches the kernel's view") { check_fixture(image); }

EROFSFS_MANIFEST_CASE("plain-4k", "FLAT_INLINE tails, 4 KiB blocks, extended inodes")
EROFSFS_MANIFEST_CASE("plain-noinline", "FLAT_PLAIN only")
EROFSFS_MANIFEST_CASE("plain-compact-inodes", "32-byte inodes")
EROFSFS_MANIFEST_CASE("plain-extended-inodes", "64-byte inodes")
EROFSFS_MANIFEST_CASE("plain-b512", "512-byte blocks")
EROFSFS_MANIFEST_CASE("plain-b1024", "1 KiB blocks")
EROFSFS_MANIFEST_CASE("plain-b2048", "2 KiB blocks")
EROFSFS_MANIFEST_CASE("plain-48bit", "48-bit block addresses")
EROFSFS_MANIFEST_CASE("plain-dot-omitted", "directories without '.'")
EROFSFS_MANIFEST_CASE("plain-metazone", "metadata zone")
EROFSFS_MANIFEST_CASE("xattr-all-shared", "shared xattrs")
EROFSFS_MANIFEST_CASE("xattr-no-filter", "no xattr bloom filter")
EROFSFS_MANIFEST_CASE("xattr-prefix-plain", "long xattr prefixes in the image")
EROFSFS_MANIFEST_CASE("xattr-inode-digest", "inode digest xattr prefix")
EROFSFS_MANIFEST_CASE("chunk-4k-blockmap", "chunk block map")
EROFSFS_MANIFEST_CASE("chunk-4k-indexes", "chunk indexes")
EROFSFS_MANIFEST_CASE("chunk-1m", "1 MiB chunks")
EROFSFS_MANIFEST_CASE("chunk-8k-b1024-indexes", "8 KiB chunks on 1 KiB blocks")
EROFSFS_MANIFEST_CASE("chunk-4k-blobdev", "chunks in a blob device")
EROFSFS_MANIFEST_CASE("tar-index", "tar index over a tar blob")
EROFSFS_MANIFEST_CASE("tar-full", "tar converted in full")
EROFSFS_MANIFEST_CASE("rebuild-two-layers", "blob-index image over two layers")
EROFSFS_MANIFEST_CASE("v15-plain", "erofs-utils 1.5 plain")
EROFSFS_MANIFEST_CASE("v15-noinline", "erofs-utils 1.5 without inline tails")
EROFSFS_MANIFEST_CASE("v15-chunk-blobdev", "erofs-utils 1.5 chunks in a blob")

// Other producers and real trees (issue 8).
EROFSFS_MANIFEST_CASE("cfs-v0", "composefs format v0: metadata-only files, overlay xattrs, whiteouts")
EROFSFS_MANIFEST_CASE("cfs-v1", "composefs format v1")
EROFSFS_MANIFEST_CASE("cfs-dir-small", "composefs from a directory with a digest store")
EROFSFS_MANIFEST_CASE("cfs-huge", "composefs: 2^50-byte and 8.7e15-byte holes")
EROFSFS_MANIFEST_CASE("real-doc", "mkfs.erofs 1.9 on a slice of /usr/share/doc")
EROFSFS_MANIFEST_CASE("real-doc-chunk-blobdev", "real tree, chunks in a blob")
EROFSFS_MANIFEST_CASE("flat-doc-blobdev", "flat image: the blob appended at its unified address")
EROFSFS_MANIFEST_CASE("deb-tar-full", "a .deb data tarball converted in full")
EROFSFS_MANIFEST_CASE("deb-tar-index", "a .deb data tarball in tar index mode")
EROFSFS_MANIFEST_CASE("flat-deb-tar-index", "flat tar index: the tarball appended")
EROFSFS_MANIFEST_CASE("deb-tar-ungzip", "a gzipped .deb tarball through --ungzip")
