#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>
#include <string>

#include "support/image_builder.hpp"
#include "support/manifest.hpp"

using namespace erofsfs;
using test::tiny_image;

namespace {
std::string as_text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
}  // namespace

TEST_CASE("a hand-made image opens, resolves paths and reads file data") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  auto file = resolve_path(*img, "/file", ctx);
  REQUIRE(file);
  CHECK(file->nid == tiny_image::file_nid);
  std::vector<std::byte> data;
  REQUIRE(read_all(*img, *file, data, ctx));
  CHECK(data.size() == tiny_image::file_size);
  CHECK(as_text(std::span(data).first(5)) == "abcde");
}

TEST_CASE("read stops at end of file and returns 0 past it") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  auto file = read_inode(*img, tiny_image::file_nid);
  REQUIRE(file);
  std::byte buf[100];
  CHECK(*read(*img, *file, tiny_image::file_size - 10, buf, ctx) == 10);
  CHECK(*read(*img, *file, tiny_image::file_size + 10, buf, ctx) == 0);
}

TEST_CASE("a file whose blocks lie past the end of the image fails as truncated") {
  tiny_image t;
  test::write_compact_inode(t.img, tiny_image::file_pos,
                            {test::i_format(disk::inode_flat_plain), 0100644, 0,
                             tiny_image::file_size, 1000, 1});
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  auto file = read_inode(*img, tiny_image::file_nid);
  REQUIRE(file);
  std::vector<std::byte> data;
  const status st = read_all(*img, *file, data, ctx);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == errc::truncated);
  CHECK(std::string(st.error().what) == "data past the end of the device");
}

TEST_CASE("inline data crossing a block boundary is corruption") {
  tiny_image t;
  test::write_compact_inode(t.img, tiny_image::root_pos,
                            {test::i_format(disk::inode_flat_inline), 040755, 0, 4090, 0, 2});
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  auto root = read_inode(*img, 0);
  REQUIRE(root);
  const auto e = map_extent(*img, *root, 0);
  REQUIRE_FALSE(e);
  CHECK(std::string(e.error().what) == "inline data crosses a block boundary");
}

TEST_CASE("a root inode that is not a directory fails open") {
  tiny_image t;
  t.img.le16(disk::super_offset + 0x0E, tiny_image::file_nid);
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE_FALSE(img);
  CHECK(std::string(img.error().what) == "root inode is not a directory");
}

TEST_CASE("the walk visits every entry once and skips dot entries") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  std::vector<std::string> paths;
  REQUIRE(walk(*img, ctx, [&](const walk_entry& e) -> status {
    paths.emplace_back(e.path);
    return {};
  }));
  CHECK(paths == std::vector<std::string>{"/", "/file"});
}

TEST_CASE("a directory entry pointing back at the root is reported as a loop") {
  tiny_image t;
  // Rename "file" to "loop" and point it at the root directory.
  t.img.put(tiny_image::root_dir_pos + 36 + 3, "loop");
  t.img.le64(tiny_image::root_dir_pos + 24, 0);
  t.img.u8(tiny_image::root_dir_pos + 24 + 10, disk::ft_dir);
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  const status st = walk(*img, ctx, [](const walk_entry&) -> status { return {}; });
  REQUIRE_FALSE(st);
  CHECK(std::string(st.error().what) == "directory reached twice (loop or hard-linked directory)");
}

TEST_CASE("path lookup of a missing name is not_found and through a file is not_a_directory") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  CHECK(resolve_path(*img, "/nope", ctx).error().code == errc::not_found);
  CHECK(resolve_path(*img, "/file/x", ctx).error().code == errc::not_a_directory);
  CHECK(resolve_path(*img, "/./file/", ctx)->nid == tiny_image::file_nid);
}

TEST_CASE("the extent iterator covers a flat file with one mapped extent") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  auto file = read_inode(*img, tiny_image::file_nid);
  REQUIRE(file);
  extent_iterator it(*img, *file);
  extent e;
  REQUIRE(*it.next(e));
  CHECK(e.kind == extent_kind::mapped);
  CHECK(e.logical == 0);
  CHECK(e.length == tiny_image::file_size);
  CHECK(e.physical == tiny_image::file_block * tiny_image::bs);
  CHECK_FALSE(*it.next(e));
}

TEST_CASE("metadata ranges list the superblock block, inodes and inline directory data") {
  tiny_image t;
  memory_source src(t.img.view());
  auto img = open_image(src);
  REQUIRE(img);
  read_context ctx;
  std::vector<metadata_range> all;
  REQUIRE(for_each_metadata_range(*img, ctx, [&](const metadata_range& m) { all.push_back(m); }));
  auto has = [&](metadata_kind k, std::uint64_t off, std::uint64_t len) {
    for (const auto& m : all)
      if (m.kind == k && m.offset == off && m.length == len) return true;
    return false;
  };
  CHECK(has(metadata_kind::superblock, 0, 4096));
  CHECK(has(metadata_kind::inode, tiny_image::root_pos, 32));
  CHECK(has(metadata_kind::inode, tiny_image::file_pos, 32));
  CHECK(has(metadata_kind::inline_data, tiny_image::root_dir_pos, t.dir_size));
  auto merged = metadata_ranges(*img, ctx);
  REQUIRE(merged);
  CHECK(merged->size() == 2);  // block 0, and the inode block
}

TEST_CASE("the extent iterator returns every extent of a file with a mapped part and an inline tail") {
  auto f = erofsfs::test::open_fixture("plain-4k");
  REQUIRE(f);
  const image& img = (*f)->img;
  read_context ctx;
  auto ino = resolve_path(img, "/data/mixed-36k", ctx);
  REQUIRE(ino);
  extent_iterator it(img, *ino);
  extent e;
  std::uint64_t covered = 0;
  unsigned count = 0;
  while (*it.next(e)) {
    CHECK(e.logical == covered);
    covered = e.end();
    ++count;
  }
  CHECK(covered == ino->size);
  CHECK(count >= 2);
  CHECK(e.kind == extent_kind::inline_data);
}
