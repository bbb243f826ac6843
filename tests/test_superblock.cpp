#include <doctest/doctest.h>

#include <erofsfs/format/superblock.hpp>

#include "support/image_builder.hpp"

using namespace erofsfs;
using test::raw_image;

namespace {
result<superblock> parse(const raw_image& img) {
  return parse_superblock(std::span(img.bytes).subspan(disk::super_offset));
}
raw_image valid() {
  raw_image img(4096);
  test::write_superblock(img, {});
  return img;
}
}  // namespace

TEST_CASE("a minimal superblock parses with its fields") {
  raw_image img = valid();
  img.le16(disk::super_offset + 0x0E, 42);
  img.put(disk::super_offset + 0x40, "label");
  auto sb = parse(img);
  REQUIRE(sb);
  CHECK(sb->block_size == 4096);
  CHECK(sb->root_nid == 42);
  CHECK(sb->volume_name() == "label");
  CHECK_FALSE(sb->compression_capable());
}

TEST_CASE("a bad magic is corruption") {
  raw_image img = valid();
  img.le32(disk::super_offset, 0x12345678);
  CHECK(parse(img).error().code == errc::corrupted);
}

TEST_CASE("block sizes below 512 bytes are corruption and above the limit unsupported") {
  raw_image img = valid();
  img.u8(disk::super_offset + 0x0C, 8);
  CHECK(parse(img).error().code == errc::corrupted);
  img.u8(disk::super_offset + 0x0C, 17);
  CHECK(parse(img).error().code == errc::unsupported);
}

TEST_CASE("unknown incompatible feature bits are refused by name with the bits") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, 0x400);
  const auto r = parse(img);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::unsupported);
  CHECK(r.error().value == 0x400);
  CHECK(std::string(r.error().what) == "unknown incompatible feature bits");
}

TEST_CASE("a sealed checksum verifies and a flipped byte in the block fails it") {
  raw_image img = valid();
  test::seal_superblock_checksum(img);
  CHECK(parse(img));
  img.u8(3000, 1);  // outside the 144-byte superblock, inside the checksummed range
  const auto r = parse(img);
  REQUIRE_FALSE(r);
  CHECK(std::string(r.error().what) == "superblock checksum mismatch");
}

TEST_CASE("the checksum is verified before incompatible bits are looked at") {
  raw_image img = valid();
  test::seal_superblock_checksum(img);
  img.le32(disk::super_offset + 0x50, 0x400);  // damages the checksum too
  CHECK(parse(img).error().code == errc::corrupted);
}

TEST_CASE("the 48-bit root nid and block count come from rootnid_8b and blocks_hi") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_48bit);
  img.le16(disk::super_offset + 0x0E, 3);  // blocks_hi
  img.le32(disk::super_offset + 0x24, 5);
  img.le64(disk::super_offset + 0x70, 0x123456789ull);
  auto sb = parse(img);
  REQUIRE(sb);
  CHECK(sb->root_nid == 0x123456789ull);
  CHECK(sb->blocks == ((3ull << 32) | 5));
}

TEST_CASE("the metabox feature needs an extension slot") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_metabox);
  CHECK(parse(img).error().code == errc::corrupted);
  img.u8(disk::super_offset + 0x0D, 1);
  img.le64(disk::super_offset + 0x80, 77);
  auto sb = parse(img);
  REQUIRE(sb);
  CHECK(sb->metabox_nid == 77);
}

TEST_CASE("fields past sb_size read as absent") {
  raw_image img = valid();
  img.le64(disk::super_offset + 0x80, 77);  // metabox_nid, but no extension slot
  auto sb = parse(img);
  REQUIRE(sb);
  CHECK(sb->metabox_nid == 0);
}

TEST_CASE("without COMPR_CFGS the 0-padding bit makes the image LZ4-capable") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_lz4_0padding);
  auto sb = parse(img);
  REQUIRE(sb);
  CHECK(sb->available_compr_algs == 1);
}

TEST_CASE("compression config records are read 4-byte aligned after the superblock") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_compr_cfgs);
  img.le16(disk::super_offset + 0x54, 0b1001);  // lz4 and zstd
  auto sb = parse(img);
  REQUIRE(sb);
  raw_image rec(64);
  rec.le16(0, 14);
  rec.le16(2, 0);       // lz4 max_distance
  rec.le16(4, 4);       // max_pclusterblks
  rec.le16(16, 6);      // zstd record at the next 4-aligned position
  rec.u8(18, 0);
  rec.u8(19, 5);
  auto used = parse_compression_configs(*sb, rec.bytes);
  REQUIRE(used);
  CHECK(*used == 24);
  CHECK(sb->compression.lz4_max_pclusterblks == 4);
  CHECK(sb->compression.zstd_windowlog == 5);
}

TEST_CASE("a too short compression config record is corruption") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_compr_cfgs);
  img.le16(disk::super_offset + 0x54, 0b0001);
  auto sb = parse(img);
  REQUIRE(sb);
  raw_image rec(16);
  rec.le16(0, 4);
  CHECK(parse_compression_configs(*sb, rec.bytes).error().code == errc::corrupted);
}

TEST_CASE("an unknown algorithm in available_compr_algs is unsupported") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_compr_cfgs);
  img.le16(disk::super_offset + 0x54, 0x10);
  CHECK(parse(img).error().code == errc::unsupported);
}

TEST_CASE("device slots give tags, 48-bit block counts and unified addresses") {
  raw_image img = valid();
  img.le32(disk::super_offset + 0x50, disk::incompat_device_table | disk::incompat_48bit);
  img.le16(disk::super_offset + 0x56, 1);
  img.le16(disk::super_offset + 0x58, 2);
  auto sb = parse(img);
  REQUIRE(sb);
  raw_image slot(128);
  slot.put(0, "blob-a");
  slot.le32(0x40, 10);
  slot.le32(0x44, 20);
  slot.le16(0x48, 1);
  slot.le16(0x4A, 2);
  auto devs = parse_device_table(*sb, slot.bytes);
  REQUIRE(devs);
  CHECK((*devs)[0].tag() == "blob-a");
  CHECK((*devs)[0].blocks == ((1ull << 32) | 10));
  CHECK((*devs)[0].uniaddr == ((2ull << 32) | 20));
}
