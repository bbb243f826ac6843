// Every decoder this program has (L5): the built-in LZ4 plus the MicroLZMA, DEFLATE and
// Zstandard adapters. By default all three are in, so including this header means linking
// liblzma, zlib and libzstd. A build that lacks one defines its macro to 0 and leaves that
// library out: EROFSFS_HAVE_LZMA, EROFSFS_HAVE_ZLIB, EROFSFS_HAVE_ZSTD (erofsfs's own CMake
// defines each to 0 or 1 from pkg-config). Images that need a missing decoder then fail with
// errc::unsupported, naming the algorithm.
#pragma once

#ifndef EROFSFS_HAVE_LZMA
#define EROFSFS_HAVE_LZMA 1
#endif
#ifndef EROFSFS_HAVE_ZLIB
#define EROFSFS_HAVE_ZLIB 1
#endif
#ifndef EROFSFS_HAVE_ZSTD
#define EROFSFS_HAVE_ZSTD 1
#endif

#include "../decode/decompressor.hpp"
#include "../format/disk.hpp"
#include "builtin.hpp"
#if EROFSFS_HAVE_LZMA
#include "lzma.hpp"
#endif
#if EROFSFS_HAVE_ZLIB
#include "deflate.hpp"
#endif
#if EROFSFS_HAVE_ZSTD
#include "zstd.hpp"
#endif

namespace erofsfs {

// Whether all_decompressors() decodes algorithm `alg` (a disk::compression_* id).
inline constexpr bool all_decompressors_have(unsigned alg) noexcept {
  switch (alg) {
    case disk::compression_lz4: return true;
    case disk::compression_lzma: return EROFSFS_HAVE_LZMA != 0;
    case disk::compression_deflate: return EROFSFS_HAVE_ZLIB != 0;
    case disk::compression_zstd: return EROFSFS_HAVE_ZSTD != 0;
  }
  return false;
}

inline const decompressor_table& all_decompressors() noexcept {
  static const decompressor_table table = [] {
    decompressor_table t(builtin_decompressors());
#if EROFSFS_HAVE_LZMA
    static const codecs::microlzma_decompressor lzma;
    t.set(disk::compression_lzma, lzma);
#endif
#if EROFSFS_HAVE_ZLIB
    static const codecs::deflate_decompressor deflate;
    t.set(disk::compression_deflate, deflate);
#endif
#if EROFSFS_HAVE_ZSTD
    static const codecs::zstd_decompressor zstd;
    t.set(disk::compression_zstd, zstd);
#endif
    return t;
  }();
  return table;  // immutable after initialisation: no global state to manage
}

}  // namespace erofsfs
