// The compressed mapper and reader on real fixture images: lcluster indexes (full and
// compact), big pclusters, ztailpacking, fragments, dedupe, metabox, encoded extents, plus
// hand-made malformed map headers and indexes.
#include <doctest/doctest.h>
#include <lz4.h>

#include <cstring>
#include <string>
#include <vector>

#include "erofsfs/erofsfs.hpp"
#include "support/manifest.hpp"

namespace {

using namespace erofsfs;

// liblz4 as a decoder, so these tests exercise the mapper independently of the built-in one.
struct liblz4_decoder {
  std::error_code decode(const decode_request& r) const noexcept {
    const int in = static_cast<int>(r.in.size());
    const int out = static_cast<int>(r.out.size());
    const char* src = reinterpret_cast<const char*>(r.in.data());
    char* dst = reinterpret_cast<char*>(r.out.data());
    const int n = r.partial ? LZ4_decompress_safe_partial(src, dst, in, out, out)
                            : LZ4_decompress_safe(src, dst, in, out);
    return n == out ? std::error_code{} : make_error_code(errc::decompress_failed);
  }
};

const decompressor_table& lz4_table() {
  static const liblz4_decoder d;
  static const decompressor_table t = decompressor_table{}.set(disk::compression_lz4, d);
  return t;
}

std::unique_ptr<test::fixture> open_lz4(const std::string& name, const char* group = "images") {
  auto f = test::open_fixture(name, &lz4_table(), group);
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
