// check_mapping(): every index entry of a file is checked the way a lookup at any offset inside
// it (the kernel maps page by page) uses it, not only the entries an extent walk touches.
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/fixture_list.hpp"
#include "support/index_damage.hpp"
#include "support/manifest.hpp"

using namespace erofsfs;

namespace {

// The damaged bytes opened as an image (the index damage does not touch the superblock).
result<image> open_bytes(const std::vector<std::byte>& bytes, memory_source& src) {
  src = memory_source(std::span<const std::byte>(bytes));
  return open_image(src);
}

}  // namespace

TEST_CASE("check_mapping: every inode of every fixture maps at every index entry") {
  std::uint64_t inodes = 0;
  for (const std::string& name : test::fixture_names()) {
    CAPTURE(name);
    auto f = test::open_fixture(name, test::all_decoders());
    REQUIRE_MESSAGE(f, f.error().message());
    const image& img = (*f)->img;
    read_context ctx;
    const status st = walk(img, ctx, [&](const walk_entry& w) -> status {
      ++inodes;
      if (const auto p = check_mapping(img, w.ino))
        FAIL_CHECK(name << ": " << w.path << ": " << index_entry_name(p->entry) << " "
                        << p->index << ": " << p->err.message());
      return {};
    });
    CHECK_MESSAGE(st, st.error().message());
  }
  CHECK(inodes > 10000);
}

TEST_CASE("check_mapping: a NONHEAD lcluster with lookback distance 0 in a real LZ4HC image") {
  const auto d = test::zero_lookback_distance("lz4hc-pcluster16k");
  REQUIRE(d);
  CAPTURE(d->path);
  CAPTURE(d->entry);
  memory_source src;
  auto img = open_bytes(d->bytes, src);
  REQUIRE(img);
  auto ino = read_inode(*img, d->nid);
  REQUIRE(ino);
  // A read from extent starts (cat, extract, an extent walk) never decodes that delta0 and
  // returns the right bytes...
  auto pristine = test::open_fixture("lz4hc-pcluster16k");
  REQUIRE(pristine);
  read_context ctx;
  std::vector<std::byte> want, got;
  REQUIRE(read_all((*pristine)->img, *ino, want, ctx));
  REQUIRE(read_all(*img, *ino, got, ctx));
  CHECK(got == want);
  // ...while a lookup inside that lcluster, as the kernel's page-by-page read makes, fails.
  const std::uint64_t at = d->entry << ino->z.lclusterbits;
  auto e = map_extent(*img, *ino, at);
  REQUIRE_FALSE(e);
  CHECK(std::string_view(e.error().what) == what::bogus_lcluster_lookback_distance);
  // check_mapping finds it and names the lcluster.
  const auto p = check_mapping(*img, *ino);
  REQUIRE(p);
  CHECK(p->entry == index_entry::lcluster);
  CHECK(p->index == d->entry);
  CHECK(p->offset == at);
  CHECK(p->err.code == errc::corrupted);
  CHECK(std::string_view(p->err.what) == what::bogus_lcluster_lookback_distance);
  // The same file in the pristine image passes.
  CHECK_FALSE(check_mapping((*pristine)->img, *ino));
}

TEST_CASE("check_mapping: a chunk index whose device id is beyond the device table") {
  const auto d = test::bad_chunk_device("rebuild-two-layers");
  REQUIRE(d);
  CAPTURE(d->path);
  memory_source src;
  auto img = open_bytes(d->bytes, src);
  REQUIRE(img);
  auto ino = read_inode(*img, d->nid);
  REQUIRE(ino);
  const auto p = check_mapping(*img, *ino);
  REQUIRE(p);
  CHECK(p->entry == index_entry::chunk);
  CHECK(p->index == d->entry);
  CHECK(p->offset == d->entry << ino->chunkbits);
  CHECK(p->err.code == errc::no_device);
  CHECK(std::string_view(p->err.what) == what::device_id_beyond_the_device_table);
}

TEST_CASE("check_mapping: the cost of a huge sparse chunk-based file is its index entries") {
  // cfs-huge: a 2^50-byte file is 128 chunk entries, each one lookup.
  auto f = test::open_fixture("cfs-huge");
  REQUIRE(f);
  read_context ctx;
  auto ino = resolve_path((*f)->img, "/sparse/pib-2-50", ctx);
  REQUIRE(ino);
  CHECK(ino->size == std::uint64_t{1} << 50);
  CHECK(layout::chunk_count(ino->size, ino->chunkbits) == 128);
  CHECK_FALSE(check_mapping((*f)->img, *ino));
}
