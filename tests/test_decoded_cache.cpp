// The shared decoded-pcluster cache (decode/decoded_cache.hpp): readers going through it read
// exactly what readers without it read, on every fixture image; images never share entries,
// not even two opened from the same bytes or one opened where another was; the budget holds;
// a reader's buffer outlives its eviction; many threads share one cache.
#include <doctest/doctest.h>

#include <erofsfs/decode/decoded_cache.hpp>
#include <erofsfs/erofsfs.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture_list.hpp"
#include "support/manifest.hpp"
#include "support/sha256.hpp"

using namespace erofsfs;
using namespace erofsfs::test;

namespace {

// Files above this are hashed over their first bytes only (composefs fixtures have files of
// 2^50 bytes, all hole).
constexpr std::uint64_t hashed_prefix = 16u << 20;

// path -> sha256 of the file, read in odd-sized pieces so reads start and end inside extents
// and cross their boundaries; an error is recorded in place of the hash.
std::map<std::string, std::string> digests(const image& img, read_context& ctx) {
  std::map<std::string, std::string> out;
  std::vector<std::byte> piece(3001);
  const status st = walk(img, ctx, [&](const walk_entry& w) -> status {
    if (!w.ino.is_regular()) return {};
    sha256 h;
    const std::uint64_t end = std::min(w.ino.size, hashed_prefix);
    std::uint64_t at = 0;
    while (at < end) {  // bounded: at grows by > 0 or the loop ends
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), end - at));
      auto n = read(img, w.ino, at, std::span(piece).first(want), ctx);
      if (!n) {
        out[std::string(w.path)] = n.error().message();
        return {};
      }
      if (*n == 0) break;
      h.update(std::span(piece).first(*n));
      at += *n;
    }
    out[std::string(w.path)] = h.hex();
    return {};
  });
  if (!st) out["<walk>"] = st.error().message();
  return out;
}

std::string image_path(const std::string& name) {
  return fixture_dir(name) + "/" + name + ".erofs";
}

std::size_t count_differences(const std::map<std::string, std::string>& want,
                              const std::map<std::string, std::string>& got) {
  std::size_t diffs = 0;
  for (const auto& [path, hash] : want) {
    const auto it = got.find(path);
    if (it != got.end() && it->second == hash) continue;
    if (++diffs <= 3) FAIL_CHECK(path << ": " << hash << " vs "
                                      << (it == got.end() ? std::string("missing") : it->second));
  }
  if (got.size() != want.size()) ++diffs;
  return diffs;
}

decoded_ref buffer_of(std::size_t size, std::byte fill) {
  auto b = decoded_buffer::make(size);
  for (std::byte& x : b->fill()) x = fill;
  return b;
}

decoded_cache_key key_at(const void* image, std::uint64_t physical, std::uint64_t length) {
  decoded_cache_key k;
  k.image = image;
  k.physical = physical;
  k.physical_length = 4096;
  k.length = length;
  return k;
}

}  // namespace

TEST_CASE("decoded cache: every fixture reads the same through a shared cache, cold and warm") {
  for (const std::string& name : fixture_names()) {
    CAPTURE(name);
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    read_context plain;
    const auto want = digests((*fx)->img, plain);
    decoded_cache cache(64u << 20);
    read_context shared;
    shared.shared_cache = &cache;
    CHECK(count_differences(want, digests((*fx)->img, shared)) == 0);  // cold: fills the cache
    read_context again;  // a second reader finds what the first decoded
    again.shared_cache = &cache;
    const std::uint64_t hits_before = cache.stats().hits;
    CHECK(count_differences(want, digests((*fx)->img, again)) == 0);
    if (cache.stats().insertions > 0) CHECK(cache.stats().hits > hits_before);
  }
}

TEST_CASE("decoded cache: a second pass over a compressed image decodes nothing") {
  auto fx = open_fixture("lz4", all_decoders());
  REQUIRE(fx);
  decoded_cache cache(64u << 20);
  read_context first, second;
  first.shared_cache = second.shared_cache = &cache;
  digests((*fx)->img, first);
  const decoded_cache_stats after_first = cache.stats();
  REQUIRE(after_first.insertions > 0);
  digests((*fx)->img, second);
  const decoded_cache_stats after_second = cache.stats();
  CHECK(after_second.misses == after_first.misses);
  CHECK(after_second.insertions == after_first.insertions);
  CHECK(after_second.hits > after_first.hits);
}

TEST_CASE("decoded cache: two images opened from the same bytes never share entries") {
  auto src = mmap_source::open(image_path("lz4").c_str());
  REQUIRE(src);
  auto a = open_image(*src);
  auto b = open_image(*src);
  REQUIRE(a);
  REQUIRE(b);
  decoded_cache cache(64u << 20);
  read_context ra, rb;
  ra.shared_cache = rb.shared_cache = &cache;
  const auto want = digests(*a, ra);
  const decoded_cache_stats after_a = cache.stats();
  REQUIRE(after_a.insertions > 0);
  CHECK(count_differences(want, digests(*b, rb)) == 0);
  const decoded_cache_stats after_b = cache.stats();
  // Same addresses, same bytes, but b found none of a's entries: it decoded and inserted its own.
  CHECK(after_b.insertions - after_a.insertions == after_a.insertions);
  CHECK(after_b.entries == 2 * after_a.entries);
}

TEST_CASE("decoded cache: an image opened where a closed one was does not see its entries") {
  // The cache and the context (its held entry) hold the old image's identity token, so the
  // new token cannot be at the same address: nothing of the old image matches, even with the
  // same layout at the same place.
  auto src = mmap_source::open(image_path("lz4").c_str());
  REQUIRE(src);
  decoded_cache cache(64u << 20);
  std::optional<image> img;
  img.emplace(std::move(*open_image(*src)));
  read_context ctx;
  ctx.shared_cache = &cache;
  const auto want = digests(*img, ctx);
  const decoded_cache_stats before = cache.stats();
  REQUIRE(before.insertions > 0);
  img.reset();  // the context still holds its last entry
  img.emplace(std::move(*open_image(*src)));
  CHECK(count_differences(want, digests(*img, ctx)) == 0);
  const decoded_cache_stats after = cache.stats();
  CHECK(after.insertions - before.insertions == before.insertions);
}

TEST_CASE("decoded cache: forget drops exactly the entries of one image") {
  int image_a = 0, image_b = 0;
  std::shared_ptr<const void> token_a(&image_a, [](const void*) {});
  std::shared_ptr<const void> token_b(&image_b, [](const void*) {});
  decoded_cache cache(1u << 20, 1);
  CHECK(cache.insert(key_at(&image_a, 0, 100), token_a, buffer_of(100, std::byte{1})));
  CHECK(cache.insert(key_at(&image_b, 0, 100), token_b, buffer_of(100, std::byte{2})));
  cache.forget(&image_a);
  CHECK_FALSE(cache.find(key_at(&image_a, 0, 100)));
  auto kept = cache.find(key_at(&image_b, 0, 100));
  REQUIRE(kept);
  CHECK(kept->bytes()[0] == std::byte{2});
  CHECK(cache.stats().entries == 1);
}

TEST_CASE("decoded cache: an entry whose token is not its key's image is refused") {
  int image_a = 0, image_b = 0;
  std::shared_ptr<const void> token_b(&image_b, [](const void*) {});
  decoded_cache cache(1u << 20, 1);
  CHECK_FALSE(cache.insert(key_at(&image_a, 0, 100), token_b, buffer_of(100, std::byte{1})));
  CHECK_FALSE(cache.insert(key_at(&image_a, 0, 100), nullptr, buffer_of(100, std::byte{1})));
  CHECK(cache.stats().entries == 0);
}

TEST_CASE("decoded cache: inserting past the budget evicts an entry unused since the sweep passed it, not one just read") {
  int image = 0;
  std::shared_ptr<const void> token(&image, [](const void*) {});
  const std::size_t size = 1000;
  const std::size_t budget = 3 * (size + decoded_cache::entry_overhead);
  decoded_cache cache(budget, 1);
  for (std::uint64_t i = 0; i < 3; ++i)
    REQUIRE(cache.insert(key_at(&image, i * 4096, size), token, buffer_of(size, std::byte{1})));
  REQUIRE(cache.find(key_at(&image, 0, size)));  // 0 is now the most recently used
  REQUIRE(cache.insert(key_at(&image, 3 * 4096, size), token, buffer_of(size, std::byte{1})));
  CHECK(cache.find(key_at(&image, 0, size)));
  CHECK_FALSE(cache.find(key_at(&image, 4096, size)));  // the first untouched one went
  CHECK(cache.find(key_at(&image, 2 * 4096, size)));
  CHECK(cache.find(key_at(&image, 3 * 4096, size)));
  CHECK(cache.stats().evictions == 1);
  CHECK(cache.stats().bytes <= budget);
}

TEST_CASE("decoded cache: an extent larger than a shard's budget is served but not kept") {
  int image = 0;
  std::shared_ptr<const void> token(&image, [](const void*) {});
  decoded_cache cache(4096, 1);
  CHECK_FALSE(cache.insert(key_at(&image, 0, 8192), token, buffer_of(8192, std::byte{1})));
  CHECK(cache.stats().entries == 0);
  // Through a reader: a budget below any extent still reads every file right.
  auto fx = open_fixture("lz4hc-pcluster16k", all_decoders());
  REQUIRE(fx);
  read_context plain, tiny;
  tiny.shared_cache = &cache;
  CHECK(count_differences(digests((*fx)->img, plain), digests((*fx)->img, tiny)) == 0);
  CHECK(cache.stats().entries == 0);
}

TEST_CASE("decoded cache: thousands of inserts and evictions keep every kept entry findable with its bytes") {
  // Exercises the index's backward-shift deletion and slot reuse: after every insertion, each
  // key the cache still has must be found with its own bytes, and no more entries than stats
  // counts may be found.
  int image = 0;
  std::shared_ptr<const void> token(&image, [](const void*) {});
  const std::size_t size = 64;
  decoded_cache cache(37 * (size + decoded_cache::entry_overhead), 1);
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  for (int round = 0; round < 3000; ++round) {
    const std::uint64_t k = next() % 200;
    if (cache.find(key_at(&image, k * 4096, size))) continue;
    REQUIRE(cache.insert(key_at(&image, k * 4096, size), token,
                         buffer_of(size, static_cast<std::byte>(k))));
    if (round % 100 != 0) continue;
    std::uint64_t found = 0;
    for (std::uint64_t j = 0; j < 200; ++j) {
      const decoded_ref r = cache.find(key_at(&image, j * 4096, size));
      if (!r) continue;
      ++found;
      REQUIRE(r->bytes()[0] == static_cast<std::byte>(j));
    }
    REQUIRE(found == cache.stats().entries);
    REQUIRE(found <= 37);  // the budget's worth
  }
  CHECK(cache.stats().entries == 37);
  CHECK(cache.stats().evictions > 1000);
}

TEST_CASE("decoded cache: a held buffer keeps its bytes after the cache evicts it") {
  int image = 0;
  std::shared_ptr<const void> token(&image, [](const void*) {});
  const std::size_t size = 1000;
  decoded_cache cache(size + decoded_cache::entry_overhead, 1);
  REQUIRE(cache.insert(key_at(&image, 0, size), token, buffer_of(size, std::byte{7})));
  const decoded_ref held = cache.find(key_at(&image, 0, size));
  REQUIRE(held);
  REQUIRE(cache.insert(key_at(&image, 4096, size), token, buffer_of(size, std::byte{9})));
  CHECK_FALSE(cache.find(key_at(&image, 0, size)));
  for (const std::byte b : held->bytes()) REQUIRE(b == std::byte{7});
}

TEST_CASE("decoded cache: reading a whole image under a small budget stays within it") {
  auto fx = open_fixture("real-python-allfrag", all_decoders());  // 1.1 MB of decoded extents
  REQUIRE(fx);
  read_context plain;
  const auto want = digests((*fx)->img, plain);
  decoded_cache cache(256u << 10, 2);
  read_context ctx;
  ctx.shared_cache = &cache;
  CHECK(count_differences(want, digests((*fx)->img, ctx)) == 0);
  const decoded_cache_stats st = cache.stats();
  CHECK(st.evictions > 0);
  CHECK(st.bytes <= cache.budget());
}

// Run under ThreadSanitizer by the tsan build (tests/CMakeLists.txt: erofsfs_tsan_tests).
TEST_CASE("decoded cache: many threads sharing one cache and one image read the image's bytes") {
  for (const char* name : {"lz4", "lz4-fragments", "real-python-allfrag", "zstd-ztail-frag-dedupe"}) {
    CAPTURE(name);
    auto fx = open_fixture(name, all_decoders());
    REQUIRE(fx);
    read_context plain;
    const auto want = digests((*fx)->img, plain);
    // Small enough that threads evict what others are reading, large enough to hit.
    decoded_cache cache(512u << 10, 4);
    constexpr unsigned threads = 8;
    std::vector<std::map<std::string, std::string>> got(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        read_context ctx;
        ctx.shared_cache = &cache;
        got[t] = digests((*fx)->img, ctx);
        got[t] = digests((*fx)->img, ctx);  // a second pass, with entries others decoded
      });
    for (auto& th : pool) th.join();
    for (unsigned t = 0; t < threads; ++t) {
      CAPTURE(t);
      CHECK(count_differences(want, got[t]) == 0);
    }
    CHECK(cache.stats().hits > 0);
    CHECK(cache.stats().bytes <= cache.budget());
  }
}
