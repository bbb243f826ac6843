#include <doctest/doctest.h>

#include <erofsfs/format/dir_block.hpp>

#include "support/image_builder.hpp"

using namespace erofsfs;
using test::raw_image;

namespace {
raw_image block_of(const std::vector<test::dirent_spec>& entries, std::size_t& used) {
  raw_image b;
  used = test::write_dir_block(b, 0, entries);
  return b;
}
result<dir_block> parse(const raw_image& b, std::size_t used) {
  return dir_block::parse(std::span(b.bytes).first(used), 1, 0);
}
const std::vector<test::dirent_spec> sample = {
    {".", 1, disk::ft_dir}, {"..", 1, disk::ft_dir}, {"a", 2, disk::ft_reg_file},
    {"bb", 3, disk::ft_symlink}, {"c", 4, disk::ft_dir}};
}  // namespace

TEST_CASE("a directory block yields its entries with names, nids and types") {
  std::size_t used;
  const raw_image b = block_of(sample, used);
  auto blk = parse(b, used);
  REQUIRE(blk);
  REQUIRE(blk->size() == 5);
  CHECK(blk->entry(3).name == "bb");
  CHECK(blk->entry(3).nid == 3);
  CHECK(blk->entry(3).type == file_type::symlink);
  CHECK(blk->entry(4).name == "c");
}

TEST_CASE("the last name ends at the first NUL of the block") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.grow(used + 10);  // zero padding after the last name
  auto blk = dir_block::parse(std::span(b.bytes).first(used + 10), 1, 0);
  REQUIRE(blk);
  CHECK(blk->entry(4).name == "c");
}

TEST_CASE("find looks names up by binary search") {
  std::size_t used;
  const raw_image b = block_of(sample, used);
  auto blk = parse(b, used);
  REQUIRE(blk);
  CHECK(blk->find("bb")->nid == 3);
  CHECK(blk->find("..")->nid == 1);
  CHECK_FALSE(blk->find("b"));
  CHECK_FALSE(blk->find("zz"));
}

TEST_CASE("a first nameoff that is not a multiple of 12 is corruption") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.le16(8, 61);
  CHECK(std::string(parse(b, used).error().what) == "invalid first dirent nameoff");
}

TEST_CASE("a first nameoff of zero or past the block is corruption") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.le16(8, 0);
  CHECK(parse(b, used).error().code == errc::corrupted);
  b.le16(8, static_cast<std::uint16_t>(used + 12 - used % 12));
  CHECK(parse(b, used).error().code == errc::corrupted);
}

TEST_CASE("name offsets that do not increase are corruption") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.le16(12 * 2 + 8, b.get16(12 * 3 + 8));  // entry 2 starts where entry 3 starts
  CHECK(std::string(parse(b, used).error().what) == "dirent nameoff not increasing");
}

TEST_CASE("a last nameoff outside the block is corruption") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.le16(12 * 4 + 8, static_cast<std::uint16_t>(used));
  CHECK(std::string(parse(b, used).error().what) == "last dirent nameoff out of block");
}

TEST_CASE("names with a slash are corruption") {
  std::size_t used;
  raw_image b = block_of({{".", 1, 2}, {"..", 1, 2}, {"a/b", 2, 1}}, used);
  CHECK(std::string(parse(b, used).error().what) == "dirent name contains '/' or NUL");
}

TEST_CASE("names out of order are corruption") {
  std::size_t used;
  raw_image b = block_of({{".", 1, 2}, {"..", 1, 2}, {"b", 2, 1}, {"a", 3, 1}}, used);
  CHECK(std::string(parse(b, used).error().what) == "dirent names not in increasing order");
}

TEST_CASE("a file type of 8 or more is corruption") {
  std::size_t used;
  raw_image b = block_of({{".", 1, 2}, {"..", 1, 2}, {"a", 2, 9}}, used);
  CHECK(std::string(parse(b, used).error().what) == "invalid dirent file type");
}

TEST_CASE("a 256-byte name is corruption") {
  std::size_t used;
  raw_image b = block_of({{".", 1, 2}, {"..", 1, 2}, {std::string(256, 'x'), 2, 1}}, used);
  CHECK(std::string(parse(b, used).error().what) == "dirent name length out of range");
}

TEST_CASE("directory order compares unsigned bytes and puts prefixes first") {
  CHECK(dirent_name_compare("a", "ab") < 0);
  CHECK(dirent_name_compare("\xff", "a") > 0);
  CHECK(dirent_name_compare("-x", ".") < 0);
}

TEST_CASE("parse_first returns a block's first entry without reading the rest") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  // Break the order of later names: a full parse refuses the block, the first entry is fine.
  std::swap(b.bytes[used - 1], b.bytes[used - 3]);
  CHECK_FALSE(dir_block::parse(std::span(b.bytes).first(used), 1, 0));
  auto first = dir_block::parse_first(std::span(b.bytes).first(used), 1, 0);
  REQUIRE(first);
  CHECK(first->name == ".");
  CHECK(first->nid == 1);
}

TEST_CASE("parse_first applies the first-entry checks of a full parse") {
  std::size_t used;
  raw_image b = block_of(sample, used);
  b.bytes[8] = std::byte{13};  // first nameoff not a multiple of 12
  auto first = dir_block::parse_first(std::span(b.bytes).first(used), 1, 0);
  REQUIRE_FALSE(first);
  CHECK(first.error().code == errc::corrupted);
  CHECK(std::string(first.error().what) == "invalid first dirent nameoff");
}
