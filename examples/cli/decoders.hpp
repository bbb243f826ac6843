// The decoders of the erofsfs tool, built once for every subcommand: the library's built-in
// LZ4 plus the MicroLZMA, DEFLATE and Zstandard adapters this build found libraries for
// (EROFSFS_HAVE_LZMA/ZLIB/ZSTD, set by examples/CMakeLists.txt).
#pragma once

#include <erofsfs/decode/decompressor.hpp>

namespace erofsfs::cli {

// The one decoder table every command opens images with (immutable, shared by threads).
const decompressor_table& decoders();

// The algorithms this build decodes, e.g. "lz4 lzma deflate zstd".
const char* decoder_names() noexcept;

}  // namespace erofsfs::cli
