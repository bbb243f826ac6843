// Fuzzes erofsfs::lz4_decompress. Input: a 4-byte header {u8 flags (bit 0: partial),
// u24 little-endian output size, taken modulo 256 KiB + 1} and then the LZ4 block.
//
// Checked beyond "no crash, no out-of-bounds access" (the sanitizers):
//  - success always means exactly out.size() bytes;
//  - a block that decodes fully to n bytes also decodes partially to the same n bytes, and
//    every partial prefix of it matches;
//  - with liblz4 linked (EROFSFS_HAVE_LIBLZ4): whenever LZ4_decompress_safe produces exactly
//    n bytes, ours produces the same bytes. The one accepted difference: we refuse a match
//    offset of 0, which liblz4 1.9 decodes from uninitialised output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <erofsfs/codecs/lz4.hpp>
#include <vector>

#if defined(EROFSFS_HAVE_LIBLZ4)
#include <lz4.h>
#endif

namespace {

// Larger outputs only slow the fuzzer down: every path is reached well below this.
constexpr std::size_t max_out = 256 * 1024;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const bool partial = (data[0] & 1) != 0;
  const std::size_t n = (data[1] | std::size_t{data[2]} << 8 | std::size_t{data[3]} << 16) % (max_out + 1);
  // Exact-size heap copies, so AddressSanitizer sees a one-byte overrun on either side.
  const std::vector<std::byte> in(reinterpret_cast<const std::byte*>(data + 4),
                                  reinterpret_cast<const std::byte*>(data + size));
  std::vector<std::byte> out(n);
  const auto r = erofsfs::lz4_decompress(in, out, partial);
  if (r) check(*r == n);
  if (partial || !r) {
#if defined(EROFSFS_HAVE_LIBLZ4)
    if (!partial && !r && r.error().what != erofsfs::detail::lz4::msg_offset_zero) {
      // liblz4 must not succeed where we report a real error.
      std::vector<char> ref(n);
      const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()), ref.data(),
                                          static_cast<int>(in.size()), static_cast<int>(n));
      check(got != static_cast<int>(n) || in.empty());
    }
#endif
    return 0;
  }

  // Full decode succeeded: partial decodes of the same or shorter length agree with it.
  std::vector<std::byte> again(n);
  check(static_cast<bool>(erofsfs::lz4_decompress(in, again, true)));
  check(again == out);
  const std::size_t half = n / 2;
  std::vector<std::byte> prefix(half);
  check(static_cast<bool>(erofsfs::lz4_decompress(in, prefix, true)));
  check(half == 0 || std::memcmp(prefix.data(), out.data(), half) == 0);

#if defined(EROFSFS_HAVE_LIBLZ4)
  std::vector<char> ref(n);
  const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()), ref.data(),
                                      static_cast<int>(in.size()), static_cast<int>(n));
  if (got == static_cast<int>(n)) check(n == 0 || std::memcmp(ref.data(), out.data(), n) == 0);
#endif
  return 0;
}
