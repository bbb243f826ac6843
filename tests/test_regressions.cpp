// Issue 8 regressions on real mkfs.erofs 1.9.4 images (tests/data/regressions/README.md).
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <algorithm>
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

TEST_CASE("regression: 1 MiB read inside a 2^50-byte hole is zeros and allocates nothing") {
  // cfs-huge (mkcomposefs): /sparse/pib-2-50 is 2^50 bytes in 128 hole chunks of 2^43.
  auto f = test::open_fixture("cfs-huge");
  REQUIRE(f);
  const image& img = (*f)->img;
  read_context ctx;
  auto ino = resolve_path(img, "/sparse/pib-2-50", ctx);
  REQUIRE(ino);
  REQUIRE(ino->size == std::uint64_t{1} << 50);
  std::vector<std::byte> buf(1u << 20, std::byte{0x5A});
  const std::uint64_t at = (std::uint64_t{1} << 49) + 12345;  // inside, not chunk-aligned
  auto n = read(img, *ino, at, buf, ctx);
  REQUIRE(n);
  CHECK(*n == buf.size());
  CHECK(std::all_of(buf.begin(), buf.end(), [](std::byte b) { return b == std::byte{0}; }));
  // Memory stays bounded: the hole is zero-filled into the caller's buffer; the context
  // neither decodes nor copies anything for it.
  CHECK(ctx.decoded.capacity() == 0);
  CHECK(ctx.encoded.capacity() == 0);
  CHECK(ctx.scratch.capacity() <= img.block_size());
  // The last byte of the file reads as well, and nothing past it.
  auto last = read(img, *ino, ino->size - 1, std::span(buf).first(16), ctx);
  REQUIRE(last);
  CHECK(*last == 1);
}
