#include <doctest/doctest.h>

#include <erofsfs/format/inode.hpp>

#include <string>
#include <string_view>

#include "support/image_builder.hpp"

using namespace erofsfs;
using test::raw_image;

namespace {
superblock sb4k() {
  superblock sb;
  sb.blkszbits = 12;
  sb.block_size = 4096;
  sb.epoch = 1000;
  sb.fixed_nsec = 7;
  return sb;
}
result<inode> parse(const raw_image& img, const superblock& sb = sb4k()) {
  return parse_inode(img.bytes, 5, 0, false, sb);
}
}  // namespace

TEST_CASE("a compact inode takes mtime from the epoch and nlink from i_nb") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {test::i_format(disk::inode_flat_plain), 0100600, 0, 10, 3, 4, 1, 5, 6, 20});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->isize == 32);
  CHECK(ino->nlink == 4);
  CHECK(ino->mtime == 1020);
  CHECK(ino->mtime_nsec == 7);
  CHECK(ino->startblk == 3);
  CHECK(ino->uid == 5);
  CHECK(ino->blocks_512 == 8);
}

TEST_CASE("NLINK_1 on a compact non-directory turns i_nb into address high bits") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {static_cast<std::uint16_t>(test::i_format(disk::inode_flat_plain) | disk::i_nlink_1), 0100644, 0, 10, 3, 2});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->nlink == 1);
  CHECK(ino->startblk == ((2ull << 32) | 3));
}

TEST_CASE("an extended inode carries 32-bit ids, 64-bit size and absolute mtime") {
  raw_image img(64);
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_flat_plain), 0100644, 0, 1ull << 40, 9, 0, 3, 70000, 80000, 1234});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->isize == 64);
  CHECK(ino->size == 1ull << 40);
  CHECK(ino->uid == 70000);
  CHECK(ino->gid == 80000);
  CHECK(ino->nlink == 3);
  CHECK(ino->mtime == 1234);
}

TEST_CASE("all address bits set in a FLAT_PLAIN inode mark a hole file") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {test::i_format(disk::inode_flat_plain), 0100644, 0, 10, 0xFFFFFFFF, 1});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->startblk == inode::hole_startblk);
}

TEST_CASE("device numbers decode from the new encoding") {
  raw_image img(32);
  const std::uint32_t rdev = (0xFFF << 8) | 0xFF | (0xFFF00u << 12);
  test::write_compact_inode(img, 0, {0, 020644, 0, 0, rdev, 1});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->rdev_major == 4095);
  CHECK(ino->rdev_minor == 1048575);
}

TEST_CASE("unknown i_format bits and data layouts are unsupported") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {0x20, 0100644, 0, 0, 0, 1});
  CHECK(parse(img).error().code == errc::unsupported);
  test::write_compact_inode(img, 0, {test::i_format(5), 0100644, 0, 0, 0, 1});
  CHECK(parse(img).error().code == errc::unsupported);
}

TEST_CASE("an i_mode without a valid file type is corruption") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {0, 0644, 0, 0, 0, 1});
  const auto r = parse(img);
  CHECK(r.error().code == errc::corrupted);
  CHECK(std::string(r.error().what) == "bogus i_mode file type");
}

TEST_CASE("a negative 64-bit i_size is corruption") {
  raw_image img(64);
  test::write_extended_inode(img, 0, {0, 0100644, 0, ~0ull});
  CHECK(parse(img).error().code == errc::corrupted);
}

TEST_CASE("a compressed inode in an image without compression is corruption") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {test::i_format(disk::inode_compressed_full), 0100644, 0, 10, 0, 1});
  CHECK(parse(img).error().code == errc::corrupted);
}

TEST_CASE("unknown chunk format bits are unsupported") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {test::i_format(disk::inode_chunk_based), 0100644, 0, 10, 0x80, 1});
  CHECK(parse(img).error().code == errc::unsupported);
}

TEST_CASE("the metabox ino folding matches Linux") {
  superblock sb = sb4k();
  sb.feature_incompat = disk::incompat_metabox;
  inode ino;
  ino.nid = 0x8000000000000000ull;
  CHECK(ino.ino(sb) == 2147483648ull);
}

// st_uid/st_gid and st_blocks as Linux's erofs_read_inode() and stat() give them. The figures
// were confirmed on a Linux 6.18 mount of a fixture whose inodes were patched the same way.

TEST_CASE("a stored uid or gid of 0xFFFFFFFF shows as the overflow id 65534, as in Linux") {
  raw_image img(64);
  test::write_extended_inode(img, 0, {0, 0140755, 0, 0, 0, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->uid == 65534);
  CHECK(ino->gid == 65534);
  // Any other 32-bit id is valid and shown as stored.
  test::write_extended_inode(img, 0, {0, 0140755, 0, 0, 0, 0, 1, 0xFFFFFFFE, 0x10000});
  ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->uid == 0xFFFFFFFEu);
  CHECK(ino->gid == 0x10000u);
}

TEST_CASE("a compact inode's 16-bit uid 0xFFFF is a valid id, not the overflow id") {
  raw_image img(32);
  test::write_compact_inode(img, 0, {0, 0010644, 0, 0, 0, 1, 1, 0xFFFF, 0xFFFF});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->uid == 0xFFFF);
  CHECK(ino->gid == 0xFFFF);
}

TEST_CASE("fifos, sockets and device nodes with a nonzero i_size count its blocks, as Linux") {
  raw_image img(64);
  for (std::uint16_t mode : {std::uint16_t{0010644}, std::uint16_t{0140755},
                             std::uint16_t{0020660}, std::uint16_t{0060660}}) {
    CAPTURE(mode);
    test::write_extended_inode(img, 0, {0, mode, 0, 5000, 0x103, 0, 1});
    auto ino = parse(img);
    REQUIRE(ino);
    CHECK(ino->blocks_512 == 16);  // round_up(5000, 4096) / 512
  }
}

TEST_CASE("a device node with a compressed layout reports i_u as its block count, wrapping in 32 bits") {
  superblock sb = sb4k();
  sb.available_compr_algs = 1;  // a compressed image, though Linux does not ask for devices
  raw_image img(64);
  // rdev 1:3 is i_u 0x103: 259 blocks of 4 KiB, whatever i_size and i_nb say.
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_compressed_compact), 0020660, 0,
                                      5000, 0x103, 1, 1});
  auto ino = parse(img, sb);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 2072);
  CHECK(ino->rdev_major == 1);
  CHECK(ino->rdev_minor == 3);
  // rdev 4095:1048575 is i_u 0xFFFFFFFF; Linux shifts it in 32 bits: 0xFFFFFFF8.
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_compressed_full), 0020660, 0,
                                      9000, 0xFFFFFFFF, 0, 1});
  ino = parse(img, sb);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 0xFFFFFFF8u);
  // A fifo with a compressed layout and i_u 0 has no blocks, whatever its size.
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_compressed_compact), 0010644, 0,
                                      5000, 0, 0, 1});
  ino = parse(img, sb);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 0);
}

TEST_CASE("a compressed file's block count ignores the 48-bit high bits in i_nb, as Linux") {
  superblock sb = sb4k();
  sb.available_compr_algs = 1;
  raw_image img(64);
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_compressed_full), 0100644, 0,
                                      100000, 7, 1, 1});
  auto ino = parse(img, sb);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 56);
}

TEST_CASE("an i_size within a block of INT64_MAX gives st_blocks the way Linux's round_up wraps") {
  raw_image img(64);
  test::write_extended_inode(img, 0, {0, 0010644, 0, 0x7FFFFFFFFFFFF001ull, 0, 0, 1});
  auto ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 0xFFC0000000000000ull);  // (INT64_MIN >> 9) as Linux's blkcnt_t
  test::write_extended_inode(img, 0, {0, 0010644, 0, 0x7FFFFFFFFFFFF000ull, 0, 0, 1});
  ino = parse(img);
  REQUIRE(ino);
  CHECK(ino->blocks_512 == 0x7FFFFFFFFFFFF000ull >> 9);
}

TEST_CASE("a device node claiming CHUNK_BASED with unknown chunk format bits is refused, as Linux") {
  raw_image img(64);
  // rdev 4095:1048575 read as a chunk format has bits outside EROFS_CHUNK_FORMAT_ALL.
  test::write_extended_inode(img, 0, {test::i_format(disk::inode_chunk_based), 0020660, 0, 9000,
                                      0xFFFFFFFF, 0, 1});
  const auto r = parse(img);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::unsupported);
  CHECK(std::string_view(r.error().what) == what::unknown_chunk_format_bits);
}
