// Checksums and hashes the format uses (L0): CRC-32C for the superblock checksum (§2.3) and
// XXH32 for the xattr name bloom filter (§9.6). Table-free XXH32 and a constexpr CRC table,
// so there is no global state to initialise.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "bytes.hpp"

namespace erofsfs {

namespace detail {
inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}();
}  // namespace detail

// Reflected CRC-32C over `data` continuing from `crc`, without the final inversion: EROFS stores
// the raw register (seed 0xFFFFFFFF, no final XOR), so crc32c_raw(~0u, "123456789") = 0x1CF96D7C.
constexpr std::uint32_t crc32c_raw(std::uint32_t crc, std::span<const std::byte> data) noexcept {
  for (std::byte b : data)
    crc = detail::crc32c_table[(crc ^ std::to_integer<std::uint32_t>(b)) & 0xFF] ^ (crc >> 8);
  return crc;
}

// Standard XXH32 (one-shot). xxh32("", 0) = 0x02CC5D05.
inline std::uint32_t xxh32(std::span<const std::byte> data, std::uint32_t seed) noexcept {
  constexpr std::uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u,
                          p5 = 374761393u;
  auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  const std::byte* p = data.data();
  std::size_t len = data.size();
  const std::byte* end = p + len;
  std::uint32_t h;
  if (len >= 16) {
    std::uint32_t v1 = seed + p1 + p2, v2 = seed + p2, v3 = seed, v4 = seed - p1;
    const std::byte* limit = end - 16;
    do {
      v1 = rotl(v1 + load_le32(p) * p2, 13) * p1;
      v2 = rotl(v2 + load_le32(p + 4) * p2, 13) * p1;
      v3 = rotl(v3 + load_le32(p + 8) * p2, 13) * p1;
      v4 = rotl(v4 + load_le32(p + 12) * p2, 13) * p1;
      p += 16;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
  } else {
    h = seed + p5;
  }
  h += static_cast<std::uint32_t>(len);
  while (end - p >= 4) {
    h = rotl(h + load_le32(p) * p3, 17) * p4;
    p += 4;
  }
  while (p < end) {
    h = rotl(h + std::to_integer<std::uint32_t>(*p) * p5, 11) * p1;
    ++p;
  }
  h ^= h >> 15;
  h *= p2;
  h ^= h >> 13;
  h *= p3;
  h ^= h >> 16;
  return h;
}

}  // namespace erofsfs
