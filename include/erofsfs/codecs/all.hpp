// Every decoder erofsfs has (L5): the built-in LZ4 plus the MicroLZMA, DEFLATE and Zstandard
// adapters. Including this header means linking liblzma, zlib and libzstd; a program that may
// lack some of them builds its own decompressor_table from the adapters it has.
#pragma once

#include "../decode/decompressor.hpp"
#include "../format/disk.hpp"
#include "builtin.hpp"
#include "deflate.hpp"
#include "lzma.hpp"
#include "zstd.hpp"

namespace erofsfs {

inline const decompressor_table& all_decompressors() noexcept {
  static const codecs::microlzma_decompressor lzma;
  static const codecs::deflate_decompressor deflate;
  static const codecs::zstd_decompressor zstd;
  static const decompressor_table table = decompressor_table(builtin_decompressors())
                                              .set(disk::compression_lzma, lzma)
                                              .set(disk::compression_deflate, deflate)
                                              .set(disk::compression_zstd, zstd);
  return table;  // immutable after initialisation: no global state to manage
}

}  // namespace erofsfs
