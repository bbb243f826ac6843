// Byte-level helpers (L0): little-endian loads, overflow-checked arithmetic and the one
// range predicate every bounds check uses.
//
// EROFS is little-endian only. Loads are memcpy plus a conditional byte swap: g++ 12 folds
// that into one load, while a byte loop stays a loop.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace erofsfs {

using bytes_view = std::span<const std::byte>;
using mutable_bytes = std::span<std::byte>;

namespace detail {
template <class T>
inline T load_le(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    if constexpr (sizeof(T) == 2) v = static_cast<T>(__builtin_bswap16(v));
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  return v;
}
}  // namespace detail

// The caller has proven that p points at enough bytes (usually through a fixed-size struct).
inline std::uint8_t load_u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }
inline std::uint16_t load_le16(const std::byte* p) noexcept { return detail::load_le<std::uint16_t>(p); }
inline std::uint32_t load_le32(const std::byte* p) noexcept { return detail::load_le<std::uint32_t>(p); }
inline std::uint64_t load_le64(const std::byte* p) noexcept { return detail::load_le<std::uint64_t>(p); }

// Little-endian stores, for the few files erofsfs itself writes (the fanotify fill journal).
inline void store_le32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline void store_le64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

// `[off, off + len)` lies inside `[0, size)`, written so that nothing can overflow.
constexpr bool in_bounds(std::uint64_t off, std::uint64_t len, std::uint64_t size) noexcept {
  return off <= size && len <= size - off;
}

// Checked arithmetic on values that came from an image: false means "overflowed".
constexpr bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_add_overflow(a, b, &out);
}
constexpr bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  return !__builtin_mul_overflow(a, b, &out);
}
constexpr bool checked_shl(std::uint64_t a, unsigned shift, std::uint64_t& out) noexcept {
  if (shift >= 64) return a == 0 ? (out = 0, true) : false;
  if (a > (~std::uint64_t{0} >> shift)) return false;
  out = a << shift;
  return true;
}

// Power-of-two alignment helpers; `align` must be a power of two (a caller contract).
constexpr std::uint64_t round_down(std::uint64_t x, std::uint64_t align) noexcept {
  return x & ~(align - 1);
}
constexpr bool checked_round_up(std::uint64_t x, std::uint64_t align, std::uint64_t& out) noexcept {
  std::uint64_t t;
  if (!checked_add(x, align - 1, t)) return false;
  out = round_down(t, align);
  return true;
}
constexpr std::uint64_t div_round_up(std::uint64_t x, std::uint64_t d) noexcept {
  return x / d + (x % d != 0);
}

}  // namespace erofsfs
