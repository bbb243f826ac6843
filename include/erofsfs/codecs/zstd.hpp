// Zstandard decoder for algorithm 3 (compression.md §6), backed by libzstd. Include this
// header and link libzstd (pkg-config libzstd) to use it; nothing else in erofsfs needs it.
//
// Each call owns its ZSTD_DCtx, so one decompressor object may serve any number of threads.
// Full decodes go straight into the output (no window buffer); partial decodes stream and so
// allocate the frame's window, which EROFS caps at 1 MiB.
#pragma once

#include <zstd.h>
#include <zstd_errors.h>

#include <cstdint>
#include <system_error>

#include "../base/bytes.hpp"
#include "../decode/decompressor.hpp"
#include "../base/error.hpp"

namespace erofsfs::codecs {

// Linux accepts windowlog <= 10 in the config record, i.e. windows up to 1 << 20 bytes.
inline constexpr int zstd_max_window_log = 20;

namespace detail {
struct zstd_dctx {
  ZSTD_DCtx* p = ZSTD_createDCtx();
  zstd_dctx() = default;
  zstd_dctx(const zstd_dctx&) = delete;
  zstd_dctx& operator=(const zstd_dctx&) = delete;
  ~zstd_dctx() { ZSTD_freeDCtx(p); }
};
}  // namespace detail

// Decodes the Zstandard frame at the start of `in` (bytes after it are ignored, as in Linux).
// Full: the frame must end exactly at out.size() bytes. Partial: the first out.size() bytes.
inline status zstd_decode(bytes_view in, mutable_bytes out, bool partial,
                          int window_log_max = zstd_max_window_log) noexcept {
  if (partial && out.empty()) return {};
  if (in.empty())
    return make_error(errc::decompress_failed, what::zstd_empty_stream, {.offset = 0});
  const std::size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
  if (ZSTD_isError(frame))
    return make_error(errc::decompress_failed, what::zstd_no_complete_frame_in_the_stream,
                      {.offset = 0, .value = in.size()});
  detail::zstd_dctx ctx;
  if (!ctx.p)
    return make_error(std::make_error_code(std::errc::not_enough_memory),
                      what::zstd_cannot_allocate_the_decoder);
  if (ZSTD_isError(ZSTD_DCtx_setParameter(ctx.p, ZSTD_d_windowLogMax, window_log_max)))
    return make_error(errc::invalid_argument, what::zstd_window_log_limit_out_of_range);

  if (!partial) {
    const std::size_t n = ZSTD_decompressDCtx(ctx.p, out.data(), out.size(), in.data(), frame);
    if (ZSTD_isError(n)) {
      const bool too_long = ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall;
      return make_error(errc::decompress_failed,
                        too_long ? "zstd: frame goes on past the extent" : "zstd: corrupt frame",
                        {.value = static_cast<std::uint64_t>(ZSTD_getErrorCode(n))});
    }
    if (n != out.size())
      return make_error(errc::decompress_failed,
                        what::zstd_frame_decodes_to_fewer_bytes_than_the_extent, {.value = n});
    return {};
  }

  ZSTD_inBuffer ib{in.data(), frame, 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  // Every call that returns without error makes progress or ends the frame; the bound is a
  // guard against a library that does not.
  for (std::size_t calls = 0; ob.pos < ob.size; ++calls) {
    const std::size_t in_before = ib.pos, out_before = ob.pos;
    const std::size_t r = ZSTD_decompressStream(ctx.p, &ob, &ib);
    if (ZSTD_isError(r)) {
      const bool window = ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge;
      return make_error(
          errc::decompress_failed,
          window ? "zstd: frame window larger than EROFS allows" : "zstd: corrupt frame",
          {.offset = ib.pos, .value = static_cast<std::uint64_t>(ZSTD_getErrorCode(r))});
    }
    if (r == 0) break;  // frame complete
    if ((ib.pos == in_before && ob.pos == out_before) || calls > frame + out.size())
      return make_error(errc::decompress_failed, what::zstd_frame_ends_early_truncated,
                        {.offset = ib.pos, .value = ob.pos});
  }
  if (ob.pos != out.size())
    return make_error(errc::decompress_failed, what::zstd_frame_decodes_to_fewer_bytes_than_wanted,
                      {.offset = ib.pos, .value = ob.pos});
  return {};
}

// Algorithm 3. The configured windowlog (window = 1 << (windowlog + 10)) bounds the frames
// accepted, never above Linux's 1 MiB.
struct zstd_decompressor {
  std::error_code decode(const decode_request& r) const noexcept {
    int wlog = zstd_max_window_log;
    if (r.config && r.config->zstd_windowlog != 0 && r.config->zstd_windowlog + 10 < wlog)
      wlog = r.config->zstd_windowlog + 10;
    const status s = zstd_decode(r.in, r.out, r.partial, wlog);
    return s ? std::error_code{} : s.error().code;
  }
};
static_assert(decompressor<zstd_decompressor>);

}  // namespace erofsfs::codecs
