// MicroLZMA decoder for algorithm 1 (compression.md §4), backed by liblzma. Include this
// header and link liblzma (pkg-config liblzma) to use it; nothing else in erofsfs needs it.
//
// Each call builds its own lzma_stream, so one decompressor object may serve any number of
// threads. The LZMA dictionary is capped at the output size: a pcluster is an independent
// stream and no match can reach further back than the bytes decoded so far.
#pragma once

#include <lzma.h>

#include <algorithm>
#include <cstdint>
#include <system_error>

#include "../base/bytes.hpp"
#include "../decode/decompressor.hpp"
#include "../base/error.hpp"

namespace erofsfs::codecs {

// Linux's upper bound for the configured dictionary (Z_EROFS_LZMA_MAX_DICT_SIZE); also what
// erofs-utils passes when it does not know better.
inline constexpr std::uint32_t microlzma_max_dict_size = 8u << 20;

// Decodes one MicroLZMA stream of exactly in.size() bytes. Full: it must decode to exactly
// out.size() bytes; partial: the first out.size() bytes are produced and the rest is ignored.
// dict_size 0 means "unknown" (the 8 MiB maximum).
inline status microlzma_decode(bytes_view in, mutable_bytes out, bool partial,
                               std::uint32_t dict_size = 0) noexcept {
  if (partial && out.empty()) return {};
  if (in.empty())
    return make_error(errc::decompress_failed, what::lzma_empty_stream, {.offset = 0});
  if (dict_size == 0 || dict_size > microlzma_max_dict_size) dict_size = microlzma_max_dict_size;
  const std::uint64_t need = std::max<std::uint64_t>(out.size(), 4096);
  const auto dict = static_cast<std::uint32_t>(std::min<std::uint64_t>(dict_size, need));

  lzma_stream strm = LZMA_STREAM_INIT;
  lzma_ret ret = lzma_microlzma_decoder(&strm, in.size(), out.size(), !partial, dict);
  if (ret != LZMA_OK) {
    lzma_end(&strm);  // safe after a failed init, frees anything it allocated
    if (ret == LZMA_MEM_ERROR)
      return make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::lzma_cannot_allocate_the_decoder);
    return make_error(errc::decompress_failed, what::lzma_decoder_refused_the_stream_parameters,
                      {.offset = 0, .value = ret});
  }
  strm.next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  strm.avail_in = in.size();
  strm.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  strm.avail_out = out.size();
  // One call normally does it all; the bound only guards against a decoder making no progress.
  for (int i = 0; i < 64 && ret == LZMA_OK && strm.avail_out != 0; ++i) {
    const std::size_t before_in = strm.avail_in, before_out = strm.avail_out;
    ret = lzma_code(&strm, LZMA_FINISH);
    if (ret == LZMA_OK && strm.avail_in == before_in && strm.avail_out == before_out) break;
  }
  const std::uint64_t consumed = strm.total_in, produced = strm.total_out;
  lzma_end(&strm);

  if (ret == LZMA_MEM_ERROR)
    return make_error(std::make_error_code(std::errc::not_enough_memory),
                      what::lzma_cannot_allocate_the_dictionary);
  if (produced != out.size())
    return make_error(errc::decompress_failed,
                      ret == LZMA_STREAM_END || ret == LZMA_OK
                          ? "lzma: stream decodes to fewer bytes than wanted"
                          : "lzma: corrupt stream",
                      {.offset = consumed, .value = ret});
  if (ret == LZMA_STREAM_END || (partial && ret == LZMA_OK)) return {};
  return make_error(errc::decompress_failed,
                    partial ? "lzma: corrupt stream" : "lzma: stream does not end with the extent",
                    {.offset = consumed, .value = ret});
}

// Algorithm 1. The dictionary size comes from the image's COMPR_CFGS record when present.
struct microlzma_decompressor {
  std::error_code decode(const decode_request& r) const noexcept {
    const std::uint32_t dict = r.config ? r.config->lzma_dict_size : 0;
    const status s = microlzma_decode(r.in, r.out, r.partial, dict);
    return s ? std::error_code{} : s.error().code;
  }
};
static_assert(decompressor<microlzma_decompressor>);

}  // namespace erofsfs::codecs
