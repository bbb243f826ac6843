// Built-in LZ4 block decoder (L5): the decoder behind algorithm 0, no library needed.
//
// One raw LZ4 block (compression.md §3) decodes into `out`. Full mode: the block must produce
// exactly out.size() bytes and end there. Partial mode: decoding stops once out is full, the
// block may go on (EROFS partial reads and legacy images without 0-padding).
//
// Bounds: nothing outside `in` is read and nothing outside `out` is written, for any input.
// Speed: a fast loop copies in 8/16/32-byte strides that may run past the bytes they need;
// it only runs while both cursors are far enough from their ends for those overshoots to stay
// inside the spans, then an exact loop finishes. `in` and `out` must not overlap.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "../base/bytes.hpp"
#include "../decode/decompressor.hpp"
#include "../base/error.hpp"

namespace erofsfs {

// Hides a value's origin from the optimiser so it cannot re-associate the arithmetic on it.
#if defined(__GNUC__) || defined(__clang__)
#define EROFSFS_OPAQUE(x) __asm__("" : "+r"(x))
#else
#define EROFSFS_OPAQUE(x) ((void)0)
#endif

// The copy helpers sit in the hot loop; clang otherwise keeps some out of line and spills
// the loop's registers around each call. (Forcing it on g++ 12 measured ~6% slower.)
#if defined(__clang__)
#define EROFSFS_LZ4_INLINE [[gnu::always_inline]] inline
#else
#define EROFSFS_LZ4_INLINE inline
#endif

namespace detail::lz4 {

using u8 = unsigned char;

// The fast loop runs while at least this many input / output bytes remain. Input: a token,
// then 16 bytes read at once that hold up to 14 literals and the 2-byte offset, so a short
// literal run never ends the block inside the fast loop. Output: a short sequence writes at
// most 14 literals + a 32-byte match piece (or 18 + 15 bytes of pattern overshoot).
inline constexpr std::size_t fast_in_margin = 17;
inline constexpr std::size_t fast_out_margin = 48;

EROFSFS_LZ4_INLINE void copy8(u8* d, const u8* s) noexcept { std::memcpy(d, s, 8); }
EROFSFS_LZ4_INLINE void copy16(u8* d, const u8* s) noexcept { std::memcpy(d, s, 16); }

// Copies [s, s + (e - d)) to d in 32-byte strides; writes (and reads) up to 31 bytes past the
// end. Correct for overlapping match copies as long as d - s >= 16: each 16-byte piece reads
// only bytes that are either old or already written.
EROFSFS_LZ4_INLINE void wild_copy32(u8* d, const u8* s, const u8* e) noexcept {
  do {
    copy16(d, s);
    copy16(d + 16, s + 16);
    d += 32;
    s += 32;
  } while (d < e);
}

// 8 <= d - s < 16: 8-byte pieces never overlap their own source; overshoot up to 7 bytes.
EROFSFS_LZ4_INLINE void copy_offset8(u8* d, const u8* s, const u8* e) noexcept {
  do {
    copy8(d, s);
    d += 8;
    s += 8;
  } while (d < e);
}

EROFSFS_LZ4_INLINE std::uint64_t le_bytes(const u8* s, unsigned n) noexcept {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= std::uint64_t{s[i]} << (8 * i);
  return v;
}

// One unaligned 16-bit load (a byte loop is not folded into one load by g++ 12).
EROFSFS_LZ4_INLINE std::size_t load_offset(const u8* s) noexcept {
  std::uint16_t v;
  std::memcpy(&v, s, 2);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap16(v);
  return v;
}

EROFSFS_LZ4_INLINE void store_le64(u8* d, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(d, &v, 8);
}

// Fills [d, e) with the period-`off` pattern that starts at d - off (1 <= off < 8), as a
// byte-by-byte overlapping copy would. The pattern is built once in a register, so the loop
// only stores (no reloads of just-written bytes). Writes up to 15 bytes past e.
EROFSFS_LZ4_INLINE void fill_pattern(u8* d, const u8* e, std::size_t off) noexcept {
  const u8* s = d - off;
  std::uint64_t v;
  std::size_t step;  // the largest multiple of off that fits in 8 bytes
  switch (off) {
    case 1: v = std::uint64_t{s[0]} * 0x0101010101010101ull; step = 8; break;
    case 2: v = le_bytes(s, 2) * 0x0001000100010001ull; step = 8; break;
    case 4: v = le_bytes(s, 4) * 0x0000000100000001ull; step = 8; break;
    case 3: v = le_bytes(s, 3); v |= v << 24 | v << 48; step = 6; break;
    case 5: v = le_bytes(s, 5); v |= v << 40; step = 5; break;
    case 6: v = le_bytes(s, 6); v |= v << 48; step = 6; break;
    default: v = le_bytes(s, 7); v |= v << 56; step = 7; break;
  }
  if (step == 8) {
    do {
      store_le64(d, v);
      store_le64(d + 8, v);
      d += 16;
    } while (d < e);
  } else {
    do {
      store_le64(d, v);
      d += step;
    } while (d < e);
  }
}

// Match copy of [d, e) from d - off with the strides above; writes up to 31 bytes past e.
EROFSFS_LZ4_INLINE void wild_match(u8* d, const u8* e, std::size_t off) noexcept {
  if (off >= 16)
    wild_copy32(d, d - off, e);
  else if (off >= 8)
    copy_offset8(d, d - off, e);
  else
    fill_pattern(d, e, off);
}

// Adds a length extension (bytes up to and including the first one that is not 255) to len.
// The caller has capped the input size, so len cannot overflow.
EROFSFS_LZ4_INLINE bool read_length(const u8*& ip, const u8* iend, std::size_t& len) noexcept {
  unsigned b;
  do {
    if (EROFSFS_UNLIKELY(ip == iend)) return false;
    b = *ip++;
    len += b;
  } while (b == 255);
  return true;
}

[[gnu::cold, gnu::noinline]] inline error fail(const char* what, const u8* ip,
                                               const u8* istart) noexcept {
  return make_error(errc::decompress_failed, what,
                    {.offset = static_cast<std::uint64_t>(ip - istart)});
}

// Match offset errors, told apart so callers (and the fuzzer's cross-check) can see which.
inline constexpr const char* msg_offset_zero = "lz4: match offset is 0";
inline constexpr const char* msg_offset_far = "lz4: match offset reaches before the output start";

}  // namespace detail::lz4

// Decodes one LZ4 block; returns the number of bytes produced (always out.size()). Errors are
// errc::decompress_failed with the failed check in `what` and the input position in `offset`;
// overlapping spans or an absurdly large input are errc::invalid_argument.
inline result<std::size_t> lz4_decompress(bytes_view in, mutable_bytes out,
                                          bool partial) noexcept {
  using namespace detail::lz4;
  if (partial && out.empty()) return std::size_t{0};
  if (in.empty()) return make_error(errc::decompress_failed, what::lz4_empty_block, {.offset = 0});
  // Length extensions add at most 255 per input byte; this cap keeps every sum in range.
  if (in.size() > SIZE_MAX / 512)
    return make_error(errc::invalid_argument, what::lz4_input_span_too_large);
  {
    const auto ib = reinterpret_cast<std::uintptr_t>(in.data());
    const auto ob = reinterpret_cast<std::uintptr_t>(out.data());
    if (!out.empty() && ib < ob + out.size() && ob < ib + in.size())
      return make_error(errc::invalid_argument, what::lz4_input_and_output_spans_overlap);
  }

  const u8* const istart = reinterpret_cast<const u8*>(in.data());
  const u8* const iend = istart + in.size();
  u8* const ostart = reinterpret_cast<u8*>(out.data());
  u8* const oend = ostart + out.size();
  const u8* ip = istart;
  u8* op = ostart;
  std::size_t token = 0, lit = 0, ml = 0, off = 0;
  const u8* m = nullptr;

  if (in.size() >= fast_in_margin && out.size() >= fast_out_margin) {
    const u8* const ifast = iend - fast_in_margin;
    u8* const ofast = oend - fast_out_margin;
    while (ip <= ifast && op <= ofast) {
      const u8* const seq = ip;
      // The next token's address is the loop's critical path: token load -> literal length
      // -> one add. Forming seq + 3 before the load is known keeps it to a single add.
      const u8* past_offset = seq + 3;
      EROFSFS_OPAQUE(past_offset);
      token = *ip++;
      lit = token >> 4;
      if (EROFSFS_LIKELY(lit != 15)) {
        copy16(op, ip);  // ip + 16 <= iend, op + 16 <= oend - 32
        op += lit;
        ip = past_offset + lit;
        off = load_offset(ip - 2);
      } else {
        if (!read_length(ip, iend, lit))
          return fail("lz4: literal length runs past the end of the block", ip, istart);
        const auto in_left = static_cast<std::size_t>(iend - ip);
        if (in_left < 32 || lit > in_left - 32 ||
            lit > static_cast<std::size_t>(oend - op) - fast_out_margin) {
          ip = seq;  // near an end: the exact loop redoes this sequence
          goto exact;
        }
        wild_copy32(op, ip, op + lit);
        op += lit;
        ip += lit;
        off = load_offset(ip);
        ip += 2;
      }
      // Here the offset lay inside the input (ip <= iend) and oend - op >= 34.
      if (EROFSFS_UNLIKELY(off - 1 >= static_cast<std::size_t>(op - ostart)))
        return fail(off == 0 ? msg_offset_zero : msg_offset_far, ip - 2, istart);
      m = op - off;
      ml = token & 15;
      if (EROFSFS_LIKELY(ml != 15)) {
        ml += 4;  // at most 18 bytes; up to 33 written, inside the 34 left
        // Exactly 18 bytes in 8-byte pieces: loads that straddle recent stores stall, so they
        // are kept narrow and never reach past the match.
        if (EROFSFS_LIKELY(off >= 8)) {
          copy8(op, m);
          copy8(op + 8, m + 8);
          std::memcpy(op + 16, m + 16, 2);
        } else {
          fill_pattern(op, op + ml, off);
        }
        op += ml;
        continue;
      }
      if (!read_length(ip, iend, ml))
        return fail("lz4: match length runs past the end of the block", ip, istart);
      ml += 4;
      if (ml > static_cast<std::size_t>(oend - op) - 32) goto exact_match;
      wild_match(op, op + ml, off);
      op += ml;
    }
  }

exact:
  // Bounded: every pass consumes at least one input byte.
  for (;;) {
    if (ip == iend) return fail("lz4: block ends without a final literal run", ip, istart);
    token = *ip++;
    lit = token >> 4;
    if (lit == 15 && !read_length(ip, iend, lit))
      return fail("lz4: literal length runs past the end of the block", ip, istart);
    if (lit > static_cast<std::size_t>(iend - ip))
      return fail("lz4: literals run past the end of the block", ip, istart);
    if (lit > static_cast<std::size_t>(oend - op)) {
      if (!partial) return fail("lz4: literals run past the end of the output", ip, istart);
      lit = static_cast<std::size_t>(oend - op);
      std::memcpy(op, ip, lit);
      return out.size();
    }
    // Near the ends only where 16 bytes fit; libc calls would dominate small blocks.
    if (lit <= 16 && iend - ip >= 16 && oend - op >= 16)
      copy16(op, ip);
    else if (lit != 0)
      std::memcpy(op, ip, lit);
    op += lit;
    ip += lit;
    if (ip == iend) {
      if (op == oend) return out.size();
      return fail(partial ? "lz4: block ends before the wanted output is produced"
                          : "lz4: block decodes to fewer bytes than the extent",
                  ip, istart);
    }
    if (partial && op == oend) return out.size();
    if (iend - ip < 2) return fail("lz4: match offset runs past the end of the block", ip, istart);
    off = load_offset(ip);
    ip += 2;
    if (off - 1 >= static_cast<std::size_t>(op - ostart))
      return fail(off == 0 ? msg_offset_zero : msg_offset_far, ip - 2, istart);
    ml = token & 15;
    if (ml == 15 && !read_length(ip, iend, ml))
      return fail("lz4: match length runs past the end of the block", ip, istart);
    ml += 4;
  exact_match:
    if (ml > static_cast<std::size_t>(oend - op)) {
      if (!partial) return fail("lz4: match runs past the end of the output", ip, istart);
      ml = static_cast<std::size_t>(oend - op);
    }
    m = op - off;
    if (off >= 8 && ml <= 16 && oend - op >= 16) {
      copy8(op, m);
      copy8(op + 8, m + 8);
      op += ml;
    } else if (off >= ml) {
      std::memcpy(op, m, ml);
      op += ml;
    } else {
      // Overlapping: strides while their overshoot stays inside out, then byte by byte.
      u8* const e = op + ml;
      if (oend - op > 32) {
        u8* const bulk = e < oend - 32 ? e : oend - 32;
        if (op < bulk) wild_match(op, bulk, off);
        op = bulk;
        m = op - off;
      }
      while (op != e) *op++ = *m++;
    }
    if (partial && op == oend) return out.size();
  }
}

// The built-in decompressor for algorithm 0. Stateless, so any number of threads may share one.
struct lz4_decompressor {
  std::error_code decode(const decode_request& r) const noexcept {
    const result<std::size_t> n = lz4_decompress(r.in, r.out, r.partial);
    return n ? std::error_code{} : n.error().code;
  }
};
static_assert(decompressor<lz4_decompressor>);

}  // namespace erofsfs

#undef EROFSFS_OPAQUE
#undef EROFSFS_LZ4_INLINE
