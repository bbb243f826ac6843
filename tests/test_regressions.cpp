// Issue 8 regressions on real mkfs.erofs 1.9.4 images (tests/data/regressions/README.md).
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <optional>
#include <string>
#include <vector>

#include "support/manifest.hpp"

using namespace erofsfs;

namespace {

std::string regression(const std::string& file) {
  return std::string(EROFSFS_TEST_DATA) + "/regressions/" + file;
}

}  // namespace

TEST_CASE("regression: an -Ededupe image without fragments (packed_nid 0) opens and reads") {
  auto src = mmap_source::open(regression("dedupe-only.erofs").c_str());
  REQUIRE(src);
  auto img = open_image(*src);
  REQUIRE_MESSAGE(img, img.error().message());
  CHECK(img->sb().has_incompat(disk::incompat_dedupe));
  CHECK(img->packed_inode() == nullptr);
  std::string err;
  auto expected = test::load_manifest(regression("dedupe-only.manifest.jsonl"), err);
  REQUIRE_MESSAGE(expected, err);
  auto actual = test::entries_from_image(*img);
  REQUIRE(actual);
  const auto diffs = test::compare_manifests(*expected, *actual);
  for (const std::string& d : diffs) FAIL_CHECK(d);
  CHECK(diffs.empty());
}

TEST_CASE("regression: a read_context never serves one image's decoded bytes for another at the "
          "same address") {
  auto a = mmap_source::open(regression("lz4-a.erofs").c_str());
  auto b = mmap_source::open(regression("lz4-b.erofs").c_str());
  REQUIRE(a);
  REQUIRE(b);
  read_context ctx;
  std::optional<image> img;  // the same storage for both images
  std::vector<std::byte> first, second;
  {
    auto opened = open_image(*a);
    REQUIRE(opened);
    img.emplace(std::move(*opened));
    auto f = resolve_path(*img, "/f", ctx);
    REQUIRE(f);
    REQUIRE(read_all(*img, *f, first, ctx));
  }
  const image* address = &*img;
  img.reset();
  {
    auto opened = open_image(*b);
    REQUIRE(opened);
    img.emplace(std::move(*opened));
    REQUIRE(&*img == address);
    auto f = resolve_path(*img, "/f", ctx);
    REQUIRE(f);
    REQUIRE(read_all(*img, *f, second, ctx));
  }
  REQUIRE(first.size() == 40000);
  REQUIRE(second.size() == first.size());
  CHECK(first != second);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < first.size(); ++i) differing += first[i] != second[i];
  CHECK(differing == 1);
  CHECK(first[20000] != second[20000]);
}

TEST_CASE("regression: a 16 GiB all-hole chunk-based file maps as holes without reading them") {
  auto src = mmap_source::open(regression("chunk-hole-16g.erofs").c_str());
  REQUIRE(src);
  auto img = open_image(*src);
  REQUIRE(img);
  read_context ctx;
  auto huge = resolve_path(*img, "/huge", ctx);
  REQUIRE(huge);
  CHECK(huge->size == (std::uint64_t{16} << 30));
  extent_iterator it(*img, *huge);
  extent e;
  std::uint64_t covered = 0, extents = 0;
  while (true) {
    auto more = it.next(e);
    REQUIRE(more);
    if (!*more) break;
    CHECK(e.kind == extent_kind::hole);
    covered = e.end();
    ++extents;
  }
  CHECK(covered == huge->size);
  CHECK(extents == 1);  // adjacent hole chunks merge
}
