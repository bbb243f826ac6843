// The decoder table of the erofsfs tool (see decoders.hpp).
#include "decoders.hpp"

#include <erofsfs/codecs/builtin.hpp>
#include <erofsfs/format/disk.hpp>

#ifdef EROFSFS_HAVE_LZMA
#include <erofsfs/codecs/lzma.hpp>
#endif
#ifdef EROFSFS_HAVE_ZLIB
#include <erofsfs/codecs/deflate.hpp>
#endif
#ifdef EROFSFS_HAVE_ZSTD
#include <erofsfs/codecs/zstd.hpp>
#endif

namespace erofsfs::cli {

const decompressor_table& decoders() {
  // The adapters are stateless; the table is filled once and never changed afterwards.
#ifdef EROFSFS_HAVE_LZMA
  static const codecs::microlzma_decompressor lzma;
#endif
#ifdef EROFSFS_HAVE_ZLIB
  static const codecs::deflate_decompressor deflate;
#endif
#ifdef EROFSFS_HAVE_ZSTD
  static const codecs::zstd_decompressor zstd;
#endif
  static const decompressor_table table = [] {
    decompressor_table t = builtin_decompressors();
#ifdef EROFSFS_HAVE_LZMA
    t.set(disk::compression_lzma, lzma);
#endif
#ifdef EROFSFS_HAVE_ZLIB
    t.set(disk::compression_deflate, deflate);
#endif
#ifdef EROFSFS_HAVE_ZSTD
    t.set(disk::compression_zstd, zstd);
#endif
    return t;
  }();
  return table;
}

const char* decoder_names() noexcept {
  return "lz4"
#ifdef EROFSFS_HAVE_LZMA
         " lzma"
#endif
#ifdef EROFSFS_HAVE_ZLIB
         " deflate"
#endif
#ifdef EROFSFS_HAVE_ZSTD
         " zstd"
#endif
      ;
}

}  // namespace erofsfs::cli
