// The compressed mapper and reader on real fixture images: lcluster indexes (full and
// compact), big pclusters, ztailpacking, fragments, dedupe, metabox, encoded extents, plus
// hand-made malformed map headers and indexes.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "erofsfs/erofsfs.hpp"
#include "support/manifest.hpp"

namespace {

using namespace erofsfs;

std::unique_ptr<test::fixture> open_lz4(const std::string& name, const char* group = "images") {
  auto f = test::open_fixture(name, nullptr, group);
  REQUIRE_MESSAGE(f.has_value(), (f ? std::string() : f.error().message()));
  return std::move(*f);
}

inode lookup(const image& img, const std::string& path) {
  read_context ctx;
  auto ino = resolve_path(img, path, ctx);
  REQUIRE_MESSAGE(ino.has_value(), (path + ": " + (ino ? std::string() : ino.error().message())));
  return *ino;
}

std::vector<extent> all_extents(const image& img, const inode& ino) {
  std::vector<extent> out;
  std::uint64_t pos = 0;
  while (pos < ino.size) {
    auto e = map_extent(img, ino, pos);
    REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message()));
    REQUIRE(e->logical == pos);
    REQUIRE(e->length > 0);
    out.push_back(*e);
    pos = e->end();
  }
  return out;
}

}  // namespace

TEST_CASE("zmap: compact-index lz4 file maps to back-to-back encoded extents") {
  auto f = open_lz4("lz4");
  const inode ino = lookup(f->img, "/data/text-96k");
  REQUIRE(ino.layout == data_layout::compressed_compact);
  const auto ext = all_extents(f->img, ino);
  REQUIRE(ext.size() > 1);
  for (const extent& e : ext) {
    CHECK((e.kind == extent_kind::encoded || e.kind == extent_kind::mapped));
    if (e.kind == extent_kind::encoded) {
      CHECK(e.algorithm == disk::compression_lz4);
      CHECK(e.physical_length == f->img.block_size());
      CHECK(e.physical % f->img.block_size() == 0);
    }
  }
}
