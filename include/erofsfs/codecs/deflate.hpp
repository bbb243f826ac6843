// Raw DEFLATE decoder for algorithm 2 (compression.md §5), backed by zlib. Include this
// header and link zlib (pkg-config zlib) to use it; nothing else in erofsfs needs it.
//
// Each call owns its z_stream (about 7 KiB, plus zlib's 32 KiB window when a partial decode
// stops early), so one decompressor object may serve any number of threads.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <limits>
#include <system_error>

#include "../base/bytes.hpp"
#include "../decode/decompressor.hpp"
#include "../base/error.hpp"

namespace erofsfs::codecs {

// Decodes one raw DEFLATE stream (no zlib or gzip wrapper). Full: the final block must end
// exactly when out.size() bytes are produced (bytes after it are not checked, as in Linux).
// Partial: the first out.size() bytes are produced and the rest of the stream is ignored.
inline status deflate_decode(bytes_view in, mutable_bytes out, bool partial) noexcept {
  if (partial && out.empty()) return {};
  if (in.empty())
    return make_error(errc::decompress_failed, what::deflate_empty_stream, {.offset = 0});
  constexpr std::size_t uint_max = std::numeric_limits<uInt>::max();
  if (in.size() > uint_max || out.size() > uint_max)
    return make_error(errc::invalid_argument, what::deflate_span_larger_than_zlib_can_take);

  z_stream strm{};
  int ret = inflateInit2(&strm, -15);  // a 32 KiB window decodes any windowbits <= 15
  if (ret == Z_MEM_ERROR)
    return make_error(std::make_error_code(std::errc::not_enough_memory),
                      what::deflate_cannot_allocate_the_decoder);
  if (ret != Z_OK)
    return make_error(errc::internal, what::deflate_inflateinit2_failed,
                      {.value = static_cast<std::uint64_t>(ret)});
  // zlib's API is not const-correct; inflate never writes through next_in.
  strm.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
  strm.avail_in = static_cast<uInt>(in.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  ret = inflate(&strm, partial ? Z_SYNC_FLUSH : Z_FINISH);
  const std::uint64_t consumed = strm.total_in, produced = strm.total_out;
  inflateEnd(&strm);

  if (ret == Z_MEM_ERROR)
    return make_error(std::make_error_code(std::errc::not_enough_memory),
                      what::deflate_cannot_allocate_the_window);
  if (ret == Z_DATA_ERROR || ret == Z_STREAM_ERROR || ret == Z_NEED_DICT)
    return make_error(errc::decompress_failed, what::deflate_corrupt_stream,
                      {.offset = consumed, .value = produced});
  if (produced != out.size())
    return make_error(errc::decompress_failed,
                      ret == Z_STREAM_END ? "deflate: stream decodes to fewer bytes than wanted"
                                          : "deflate: stream ends early (truncated)",
                      {.offset = consumed, .value = produced});
  if (ret == Z_STREAM_END || partial) return {};
  // Full mode with the output full but no end of stream: there is more data than the extent.
  return make_error(errc::decompress_failed, what::deflate_stream_goes_on_past_the_extent,
                    {.offset = consumed, .value = produced});
}

// Algorithm 2.
struct deflate_decompressor {
  std::error_code decode(const decode_request& r) const noexcept {
    const status s = deflate_decode(r.in, r.out, r.partial);
    return s ? std::error_code{} : s.error().code;
  }
};
static_assert(decompressor<deflate_decompressor>);

}  // namespace erofsfs::codecs
