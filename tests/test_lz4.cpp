// The built-in LZ4 block decoder. liblz4 only produces the compressed inputs here; every
// decoded byte comes from erofsfs::lz4_decompress. Output buffers are sized exactly, so a
// sanitizer build catches any write past the end.
#include <doctest/doctest.h>
#include <lz4.h>
#include <lz4hc.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <erofsfs/codecs/lz4.hpp>
#include <erofsfs/api/open.hpp>
#include <random>
#include <string>
#include <vector>

using namespace erofsfs;

namespace {

using bytes = std::vector<std::byte>;

bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  bytes b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

// Text-like data with repeats at many distances, plus runs with short periods (offsets 1..15),
// so every match-copy path of the decoder is taken.
bytes compressible_bytes(std::size_t n, std::uint64_t seed) {
  static const char* words[] = {"erofs ", "inode ", "block ", "the ", "compress ", "lz4 ",
                                "\n", "0123456789", "struct ", "{}", "superblock "};
  std::mt19937_64 rng(seed);
  bytes b;
  b.reserve(n);
  while (b.size() < n) {
    const unsigned kind = rng() % 10;
    if (kind < 6) {
      for (const char* w = words[rng() % std::size(words)]; *w && b.size() < n; ++w)
        b.push_back(static_cast<std::byte>(*w));
    } else if (kind < 8) {
      const std::size_t period = 1 + rng() % 15, len = rng() % 300;
      std::byte pat[15];
      for (auto& p : pat) p = static_cast<std::byte>(rng());
      for (std::size_t i = 0; i < len && b.size() < n; ++i) b.push_back(pat[i % period]);
    } else if (kind < 9 && b.size() > 100) {
      const std::size_t from = rng() % b.size(), len = 4 + rng() % 200;
      for (std::size_t i = 0; i < len && b.size() < n; ++i) b.push_back(b[from + i]);
    } else {
      b.push_back(static_cast<std::byte>(rng()));
    }
  }
  return b;
}

bytes lz4_compress(const bytes& src, bool hc = false) {
  bytes dst(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(src.size()))));
  const auto* s = reinterpret_cast<const char*>(src.data());
  auto* d = reinterpret_cast<char*>(dst.data());
  const int n = hc ? LZ4_compress_HC(s, d, static_cast<int>(src.size()), static_cast<int>(dst.size()),
                                     LZ4HC_CLEVEL_DEFAULT)
                   : LZ4_compress_default(s, d, static_cast<int>(src.size()),
                                          static_cast<int>(dst.size()));
  REQUIRE(n > 0);
  dst.resize(static_cast<std::size_t>(n));
  return dst;
}

bytes hexbytes(std::initializer_list<unsigned> v) {
  bytes b;
  for (unsigned x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

bytes ascii(const std::string& s) {
  bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

void check_round_trip(const bytes& src, bool hc) {
  const bytes c = lz4_compress(src, hc);
  bytes out(src.size());
  const auto r = lz4_decompress(c, out, false);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(*r == src.size());
  CHECK(out == src);
}

}  // namespace

TEST_CASE("lz4 round-trips liblz4 output for compressible, random and tiny inputs") {
  for (std::size_t n : {1u, 5u, 12u, 13u, 20u, 63u, 64u, 65u, 100u, 1000u, 4096u, 16384u, 65536u,
                        200000u}) {
    CAPTURE(n);
    check_round_trip(compressible_bytes(n, n), false);
    check_round_trip(random_bytes(n, n + 1), false);
    check_round_trip(bytes(n, std::byte{0}), false);
  }
}

TEST_CASE("lz4 round-trips LZ4HC output") {
  for (std::size_t n : {7u, 300u, 4096u, 65536u, 1u << 20}) {
    CAPTURE(n);
    check_round_trip(compressible_bytes(n, 7 * n), true);
  }
}

TEST_CASE("lz4 decodes fixed-output blocks like EROFS's destSize compression") {
  const bytes src = compressible_bytes(256 * 1024, 99);
  for (int budget : {512, 4096, 16384}) {
    CAPTURE(budget);
    bytes c(static_cast<std::size_t>(budget));
    int consumed = static_cast<int>(src.size());
    const int n = LZ4_compress_destSize(reinterpret_cast<const char*>(src.data()),
                                        reinterpret_cast<char*>(c.data()), &consumed, budget);
    REQUIRE(n > 0);
    c.resize(static_cast<std::size_t>(n));
    bytes out(static_cast<std::size_t>(consumed));
    REQUIRE(lz4_decompress(c, out, false));
    CHECK(std::equal(out.begin(), out.end(), src.begin()));
  }
}

TEST_CASE("lz4 partial decoding yields exactly the wanted prefix") {
  const bytes src = compressible_bytes(20000, 5);
  const bytes c = lz4_compress(src);
  for (std::size_t n = 0; n <= src.size(); n += (n < 200 ? 1 : 97)) {
    CAPTURE(n);
    bytes out(n);
    const auto r = lz4_decompress(c, out, true);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    CHECK(std::equal(out.begin(), out.end(), src.begin()));
  }
}

TEST_CASE("lz4 partial decoding ignores garbage after the block (legacy, no 0-padding)") {
  const bytes src = compressible_bytes(4096, 11);
  bytes c = lz4_compress(src);
  const bytes junk = random_bytes(300, 12);
  c.insert(c.end(), junk.begin(), junk.end());
  bytes out(src.size());
  REQUIRE(lz4_decompress(c, out, true));
  CHECK(out == src);
}

TEST_CASE("lz4 full decoding rejects an output size other than the block's") {
  const bytes src = compressible_bytes(5000, 3);
  const bytes c = lz4_compress(src);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, src.size() - 1, src.size() + 1,
                        src.size() + 100}) {
    CAPTURE(n);
    bytes out(n);
    const auto r = lz4_decompress(c, out, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::decompress_failed);
  }
}

TEST_CASE("lz4 partial decoding fails when the block produces too few bytes") {
  const bytes c = lz4_compress(compressible_bytes(1000, 4));
  bytes out(1001);
  const auto r = lz4_decompress(c, out, true);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::decompress_failed);
}

TEST_CASE("lz4 rejects every truncation of a block") {
  const bytes src = compressible_bytes(3000, 8);
  const bytes c = lz4_compress(src);
  bytes out(src.size());
  for (std::size_t n = 0; n < c.size(); ++n) {
    CAPTURE(n);
    const auto r = lz4_decompress(bytes_view(c).first(n), out, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::decompress_failed);
  }
}

TEST_CASE("lz4 hand-made blocks: literals only, and overlapping matches of every short offset") {
  {
    const bytes c = hexbytes({0x50, 'h', 'e', 'l', 'l', 'o'});
    bytes out(5);
    REQUIRE(lz4_decompress(c, out, false));
    CHECK(out == ascii("hello"));
  }
  {
    bytes out(0);
    CHECK(lz4_decompress(hexbytes({0x00}), out, false));  // an empty block decodes to nothing
  }
  // Offsets 1..20 with a long match: the output repeats the first `off` bytes. Large enough
  // that the fast loop runs, then the final literals take the exact loop.
  for (unsigned off = 1; off <= 20; ++off) {
    CAPTURE(off);
    const std::size_t mlen = 4 + 15 + 255 + 100;  // 374
    bytes c;
    c.push_back(static_cast<std::byte>(std::min(off, 15u) << 4 | 15));
    if (off >= 15) c.push_back(static_cast<std::byte>(off - 15));
    for (unsigned i = 0; i < off; ++i) c.push_back(static_cast<std::byte>('a' + i));
    c.push_back(static_cast<std::byte>(off & 0xff));
    c.push_back(static_cast<std::byte>(off >> 8));
    c.push_back(std::byte{255});
    c.push_back(std::byte{100});
    c.push_back(std::byte{0x50});
    for (int i = 0; i < 5; ++i) c.push_back(std::byte{'z'});
    bytes want;
    for (std::size_t i = 0; i < off + mlen; ++i) want.push_back(static_cast<std::byte>('a' + i % off));
    for (int i = 0; i < 5; ++i) want.push_back(std::byte{'z'});
    bytes out(want.size());
    const auto r = lz4_decompress(c, out, false);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    CHECK(out == want);
  }
}

TEST_CASE("lz4 short matches of every offset in the fast loop decode like a byte copy") {
  // 100 literals, then 2000 matches of 4..18 bytes at offsets 1..40 (the first rides on the
  // literal sequence, the rest have no literals), then 5 final literals.
  std::mt19937_64 rng(21);
  bytes c, want;
  for (int i = 0; i < 100; ++i) want.push_back(static_cast<std::byte>(rng()));
  for (int k = 0; k < 2000; ++k) {
    const std::size_t off = 1 + rng() % 40, ml = 4 + rng() % 15;
    if (k == 0) {
      c.push_back(static_cast<std::byte>(0xf0 | (ml - 4)));
      c.push_back(std::byte{100 - 15});
      c.insert(c.end(), want.begin(), want.end());
    } else {
      c.push_back(static_cast<std::byte>(ml - 4));
    }
    c.push_back(static_cast<std::byte>(off));
    c.push_back(std::byte{0});
    for (std::size_t i = 0; i < ml; ++i) want.push_back(want[want.size() - off]);
  }
  c.push_back(std::byte{0x50});
  for (int i = 0; i < 5; ++i) {
    c.push_back(std::byte{'q'});
    want.push_back(std::byte{'q'});
  }
  bytes out(want.size());
  const auto r = lz4_decompress(c, out, false);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(out == want);
}

TEST_CASE("lz4 rejects a match offset of 0") {
  const bytes c = hexbytes({0x40, 'a', 'b', 'c', 'd', 0x00, 0x00, 0x50, 'e', 'f', 'g', 'h', 'i'});
  bytes out(4 + 4 + 5);
  const auto r = lz4_decompress(c, out, false);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::decompress_failed);
  CHECK(std::string(r.error().what) == detail::lz4::msg_offset_zero);
  CHECK(r.error().offset == 5);
}

TEST_CASE("lz4 rejects a match offset reaching before the output start") {
  const bytes c = hexbytes({0x40, 'a', 'b', 'c', 'd', 0x05, 0x00, 0x50, 'e', 'f', 'g', 'h', 'i'});
  bytes out(13);
  const auto r = lz4_decompress(c, out, false);
  REQUIRE_FALSE(r);
  CHECK(std::string(r.error().what) == detail::lz4::msg_offset_far);
}

TEST_CASE("lz4 rejects length extensions and literals running past the block") {
  bytes out(1000);
  for (const bytes& c : {hexbytes({0xf0}), hexbytes({0xf0, 0xff, 0xff}),
                         hexbytes({0xf0, 0x05, 'a'}), hexbytes({0x1f, 'a', 0x01, 0x00}),
                         hexbytes({0x1f, 'a', 0x01, 0x00, 0xff}), hexbytes({0x10, 'a', 0x01}),
                         hexbytes({0x10, 'a'})}) {
    for (bool partial : {false, true}) {
      const auto r = lz4_decompress(c, out, partial);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::decompress_failed);
    }
  }
}

TEST_CASE("lz4 rejects an empty input and huge lengths without overflow") {
  bytes out(16);
  CHECK_FALSE(lz4_decompress(bytes_view{}, out, false));
  // A literal length of 15 + 255 * 4000: far beyond both spans.
  bytes c{std::byte{0xf0}};
  c.insert(c.end(), 4000, std::byte{0xff});
  c.push_back(std::byte{0x10});
  CHECK_FALSE(lz4_decompress(c, out, false));
  CHECK_FALSE(lz4_decompress(c, out, true));
  // The same for a match length.
  bytes m = hexbytes({0x1f, 'a', 0x01, 0x00});
  m.insert(m.end(), 4000, std::byte{0xff});
  m.push_back(std::byte{0x10});
  CHECK_FALSE(lz4_decompress(m, out, false));
  // A match running past the output: partial mode truncates it, full mode refuses.
  bytes small(8);
  const bytes run = hexbytes({0x1f, 'a', 0x01, 0x00, 0x30, 0x50, 'z', 'z', 'z', 'z', 'z'});
  CHECK_FALSE(lz4_decompress(run, small, false));
  REQUIRE(lz4_decompress(run, small, true));
  CHECK(small == ascii("aaaaaaaa"));
}

TEST_CASE("lz4 partial decoding of an empty output succeeds without reading input") {
  bytes out;
  CHECK(lz4_decompress(bytes_view{}, out, true));
}

TEST_CASE("lz4 refuses overlapping input and output spans") {
  bytes buf(64);
  const auto r = lz4_decompress(bytes_view(buf).first(32), mutable_bytes(buf).subspan(16), false);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_argument);
}

TEST_CASE("lz4 survives random garbage and mutated blocks in both modes") {
  std::mt19937_64 rng(1234);
  const bytes src = compressible_bytes(16384, 77);
  const bytes good = lz4_compress(src);
  for (int iter = 0; iter < 3000; ++iter) {
    bytes c;
    if (iter % 3 == 0) {
      c = random_bytes(1 + rng() % 2000, rng());
    } else {
      c = good;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) c[rng() % c.size()] = static_cast<std::byte>(rng());
      if (iter % 7 == 0) c.resize(1 + rng() % c.size());
    }
    const std::size_t outn = iter % 2 ? src.size() : rng() % 40000;
    bytes out(outn);
    for (bool partial : {false, true}) {
      const auto r = lz4_decompress(c, out, partial);
      if (r) CHECK(*r == outn);
      else CHECK(r.error().code == errc::decompress_failed);
    }
  }
}

TEST_CASE("the built-in decompressor table decodes LZ4 through decompressor_ref") {
  const bytes src = compressible_bytes(4096, 2);
  const bytes c = lz4_compress(src);
  const decompressor_ref d = builtin_decompressors().get(disk::compression_lz4);
  REQUIRE(d);
  bytes out(src.size());
  decode_request req;
  req.in = c;
  req.out = out;
  CHECK_FALSE(d.decode(req));
  CHECK(out == src);
  req.in = bytes_view(c).first(c.size() - 1);
  CHECK(d.decode(req) == errc::decompress_failed);
  CHECK_FALSE(builtin_decompressors().get(disk::compression_lzma));
}
