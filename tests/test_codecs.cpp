// The library-backed decoders (erofsfs/codecs/*.hpp): round trips against each library's own
// compressor, partial decoding, and malformed input turning into errc::decompress_failed.
// Each codec's cases need its library (EROFSFS_HAVE_LZMA/ZLIB/ZSTD, tests/CMakeLists.txt);
// without it one case per codec stands in for them and reports itself skipped.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/codecs.hpp"

#if EROFSFS_HAVE_LZMA
#include <lzma.h>

#include <erofsfs/codecs/lzma.hpp>
#endif
#if EROFSFS_HAVE_ZLIB
#include <zlib.h>

#include <erofsfs/codecs/deflate.hpp>
#endif
#if EROFSFS_HAVE_ZSTD
#include <zstd.h>

#include <erofsfs/codecs/zstd.hpp>
#endif

using namespace erofsfs;
namespace erofsfs::codecs {}  // empty when every adapter is missing
using namespace erofsfs::codecs;

namespace {

using bytes = std::vector<std::byte>;

[[maybe_unused]] bytes sample(std::size_t n, std::uint64_t seed) {
  static const char* words[] = {"erofs ", "pcluster ", "lzma ", "deflate ", "zstd ", "\n", "inode "};
  std::mt19937_64 rng(seed);
  bytes b;
  while (b.size() < n) {
    if (rng() % 8 == 0) {
      b.push_back(static_cast<std::byte>(rng()));
      continue;
    }
    for (const char* w = words[rng() % std::size(words)]; *w && b.size() < n; ++w)
      b.push_back(static_cast<std::byte>(*w));
  }
  return b;
}

[[maybe_unused]] bytes garbage(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

[[maybe_unused]] bool same_prefix(const bytes& a, const bytes& b, std::size_t n) {
  return a.size() >= n && b.size() >= n && std::memcmp(a.data(), b.data(), n) == 0;
}

}  // namespace

// ---- MicroLZMA ----

#if EROFSFS_HAVE_LZMA
namespace {

// MicroLZMA as mkfs.erofs makes it: the encoder fills at most `budget` output bytes and
// reports how much input that covered.
struct micro_stream {
  bytes data;
  std::size_t consumed = 0;
};
micro_stream microlzma_compress(const bytes& src, std::size_t budget, std::uint32_t dict) {
  lzma_options_lzma opt{};
  REQUIRE_FALSE(lzma_lzma_preset(&opt, 6));
  opt.dict_size = dict;
  lzma_stream strm = LZMA_STREAM_INIT;
  REQUIRE(lzma_microlzma_encoder(&strm, &opt) == LZMA_OK);
  micro_stream out;
  out.data.resize(budget);
  strm.next_in = reinterpret_cast<const std::uint8_t*>(src.data());
  strm.avail_in = src.size();
  strm.next_out = reinterpret_cast<std::uint8_t*>(out.data.data());
  strm.avail_out = budget;
  REQUIRE(lzma_code(&strm, LZMA_FINISH) == LZMA_STREAM_END);
  out.data.resize(static_cast<std::size_t>(strm.total_out));
  out.consumed = static_cast<std::size_t>(strm.total_in);
  lzma_end(&strm);
  return out;
}

}  // namespace

TEST_CASE("microlzma decodes a fixed-output stream from lzma_microlzma_encoder") {
  const bytes src = sample(200000, 1);
  for (std::size_t budget : {4096u, 16384u, 65536u}) {
    CAPTURE(budget);
    const micro_stream s = microlzma_compress(src, budget, 64 * 1024);
    REQUIRE(s.consumed > 0);
    bytes out(s.consumed);
    const status st = microlzma_decode(s.data, out, false, 64 * 1024);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
    CHECK(same_prefix(out, src, out.size()));
  }
}

TEST_CASE("microlzma partial decoding yields the wanted prefix") {
  const bytes src = sample(50000, 2);
  const micro_stream s = microlzma_compress(src, 8192, 1 << 20);
  for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{4096}, s.consumed - 1, s.consumed}) {
    CAPTURE(n);
    bytes out(n);
    const status st = microlzma_decode(s.data, out, true, 1 << 20);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
    CHECK(same_prefix(out, src, n));
  }
}

TEST_CASE("microlzma full decoding rejects a wrong extent size") {
  const bytes src = sample(20000, 3);
  const micro_stream s = microlzma_compress(src, 4096, 1 << 16);
  for (std::size_t n : {s.consumed - 1, s.consumed + 1}) {
    bytes out(n);
    const status st = microlzma_decode(s.data, out, false, 1 << 16);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == errc::decompress_failed);
  }
}

TEST_CASE("microlzma rejects garbage and truncated streams") {
  const micro_stream s = microlzma_compress(sample(20000, 4), 4096, 1 << 16);
  bytes out(s.consumed);
  CHECK(microlzma_decode(bytes_view(s.data).first(s.data.size() / 2), out, false).error().code ==
        errc::decompress_failed);
  CHECK(microlzma_decode(bytes_view{}, out, false).error().code == errc::decompress_failed);
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const bytes g = garbage(1 + seed * 7 % 3000, seed);
    for (bool partial : {false, true}) {
      const status st = microlzma_decode(g, out, partial);
      if (!st) CHECK(st.error().code == errc::decompress_failed);
    }
  }
}
#else
TEST_CASE("microlzma: the liblzma adapter cases") { EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_lzma); }
#endif

// ---- DEFLATE ----

#if EROFSFS_HAVE_ZLIB
namespace {

bytes deflate_compress(const bytes& src) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  bytes out(deflateBound(&s, static_cast<uLong>(src.size())));
  s.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(src.data()));
  s.avail_in = static_cast<uInt>(src.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace

TEST_CASE("deflate decodes raw DEFLATE from zlib in full and partial mode") {
  const bytes src = sample(100000, 5);
  const bytes c = deflate_compress(src);
  bytes out(src.size());
  const status st = deflate_decode(c, out, false);
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
  CHECK(out == src);
  for (std::size_t n : {1u, 1000u, 65536u, 99999u, 100000u}) {
    CAPTURE(n);
    bytes part(n);
    REQUIRE(deflate_decode(c, part, true));
    CHECK(same_prefix(part, src, n));
  }
}

TEST_CASE("deflate full decoding rejects a wrong extent size and truncation") {
  const bytes src = sample(30000, 6);
  const bytes c = deflate_compress(src);
  for (std::size_t n : {src.size() - 1, src.size() + 1}) {
    bytes out(n);
    const status st = deflate_decode(c, out, false);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == errc::decompress_failed);
  }
  bytes out(src.size());
  CHECK(deflate_decode(bytes_view(c).first(c.size() / 2), out, false).error().code ==
        errc::decompress_failed);
  CHECK(deflate_decode(bytes_view(c).first(c.size() / 2), out, true).error().code ==
        errc::decompress_failed);
}

TEST_CASE("deflate rejects garbage without crashing") {
  bytes out(5000);
  int failures = 0;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const bytes g = garbage(1 + seed * 13 % 2000, seed + 1000);
    for (bool partial : {false, true}) {
      const status st = deflate_decode(g, out, partial);
      if (!st) {
        CHECK(st.error().code == errc::decompress_failed);
        ++failures;
      }
    }
  }
  CHECK(failures > 500);
}
#else
TEST_CASE("deflate: the zlib adapter cases") { EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_deflate); }
#endif

// ---- Zstandard ----

#if EROFSFS_HAVE_ZSTD
namespace {

bytes zstd_compress(const bytes& src, int window_log = 0, bool content_size = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  REQUIRE(c);
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
  if (window_log) ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
  bytes out(ZSTD_compressBound(src.size()));
  const std::size_t n = ZSTD_compress2(c, out.data(), out.size(), src.data(), src.size());
  ZSTD_freeCCtx(c);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("zstd decodes a frame in full and partial mode, with and without content size") {
  const bytes src = sample(300000, 7);
  for (bool content_size : {true, false}) {
    CAPTURE(content_size);
    const bytes c = zstd_compress(src, 17, content_size);
    bytes out(src.size());
    const status st = zstd_decode(c, out, false);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
    CHECK(out == src);
    for (std::size_t n : {1u, 4096u, 131072u, 299999u, 300000u}) {
      CAPTURE(n);
      bytes part(n);
      const status ps = zstd_decode(c, part, true);
      REQUIRE_MESSAGE(ps, (ps ? "" : ps.error().message()));
      CHECK(same_prefix(part, src, n));
    }
  }
}

TEST_CASE("zstd full decoding rejects a wrong extent size and truncation") {
  const bytes src = sample(40000, 8);
  const bytes c = zstd_compress(src, 0, false);
  for (std::size_t n : {src.size() - 1, src.size() + 1}) {
    bytes out(n);
    const status st = zstd_decode(c, out, false);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == errc::decompress_failed);
  }
  bytes out(src.size());
  for (bool partial : {false, true})
    CHECK(zstd_decode(bytes_view(c).first(c.size() - 3), out, partial).error().code ==
          errc::decompress_failed);
}

TEST_CASE("zstd partial decoding refuses a frame window above the EROFS limit") {
  const bytes src = sample(4u << 20, 9);
  const bytes c = zstd_compress(src, 23, false);
  bytes out(1000);
  const status st = zstd_decode(c, out, true);
  REQUIRE_FALSE(st);
  CHECK(std::string(st.error().what).find("window") != std::string::npos);
}

TEST_CASE("zstd rejects garbage without crashing") {
  bytes out(5000);
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    bytes g = garbage(1 + seed * 11 % 2000, seed + 77);
    if (seed % 2 && g.size() >= 4) std::memcpy(g.data(), "\x28\xb5\x2f\xfd", 4);  // real magic
    for (bool partial : {false, true}) {
      const status st = zstd_decode(g, out, partial);
      REQUIRE_FALSE(st);
      CHECK(st.error().code == errc::decompress_failed);
    }
  }
}
#else
TEST_CASE("zstd: the libzstd adapter cases") { EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_zstd); }
#endif

// ---- through the decompressor interface ----

#if EROFSFS_HAVE_LZMA && EROFSFS_HAVE_ZLIB && EROFSFS_HAVE_ZSTD
TEST_CASE("codec decompressors work through decompressor_ref with the image's config") {
  static const microlzma_decompressor lzma;
  static const deflate_decompressor deflate;
  static const zstd_decompressor zstd;
  decompressor_table table;
  table.set(disk::compression_lzma, lzma).set(disk::compression_deflate, deflate)
      .set(disk::compression_zstd, zstd);
  compression_configs cfg;
  cfg.lzma_dict_size = 1 << 16;
  cfg.zstd_windowlog = 7;

  const bytes src = sample(60000, 10);
  const micro_stream m = microlzma_compress(src, 16384, cfg.lzma_dict_size);
  const bytes d = deflate_compress(src), z = zstd_compress(src, 17);
  struct {
    std::uint8_t alg;
    bytes_view in;
    std::size_t n;
  } cases[] = {{disk::compression_lzma, m.data, m.consumed},
               {disk::compression_deflate, d, src.size()},
               {disk::compression_zstd, z, src.size()}};
  for (const auto& c : cases) {
    CAPTURE(int{c.alg});
    bytes out(c.n);
    decode_request req;
    req.in = c.in;
    req.out = out;
    req.algorithm = c.alg;
    req.config = &cfg;
    CHECK_FALSE(table.get(c.alg).decode(req));
    CHECK(same_prefix(out, src, c.n));
    const bytes bad = garbage(c.in.size(), c.alg);
    req.in = bad;
    CHECK(table.get(c.alg).decode(req) == errc::decompress_failed);
  }
}
#else
TEST_CASE("codec decompressors work through decompressor_ref with the image's config") {
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_lzma);
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_deflate);
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_zstd);
}
#endif

#if EROFSFS_HAVE_ZLIB && EROFSFS_HAVE_ZSTD
TEST_CASE("one codec object decodes concurrently from several threads") {
  static const zstd_decompressor zstd;
  static const deflate_decompressor deflate;
  const bytes src = sample(100000, 11);
  const bytes z = zstd_compress(src), d = deflate_compress(src);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bytes out(src.size());
      int good = 0;
      for (int i = 0; i < 20; ++i) {
        decode_request req;
        req.in = t % 2 ? bytes_view(z) : bytes_view(d);
        req.out = out;
        const std::error_code ec = t % 2 ? zstd.decode(req) : deflate.decode(req);
        good += !ec && out == src;
      }
      ok[static_cast<std::size_t>(t)] = good;
    });
  for (auto& th : threads) th.join();
  for (int g : ok) CHECK(g == 20);
}
#else
TEST_CASE("one codec object decodes concurrently from several threads") {
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_deflate);
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_zstd);
}
#endif
