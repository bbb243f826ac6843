// The decoders an image is opened with when open_options::decompressors is null (L5): LZ4,
// which is built in. MicroLZMA, DEFLATE and Zstandard need their library: see lzma.hpp,
// deflate.hpp and zstd.hpp beside this file.
#pragma once

#include "../decode/decompressor.hpp"
#include "../format/disk.hpp"
#include "lz4.hpp"

namespace erofsfs {

inline const decompressor_table& builtin_decompressors() noexcept {
  static constexpr lz4_decompressor lz4{};
  static const decompressor_table table = decompressor_table{}.set(disk::compression_lz4, lz4);
  return table;  // both immutable: no global state
}

}  // namespace erofsfs
