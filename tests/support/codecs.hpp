// Which codec libraries this test build has, and the visible skip of cases that need a missing
// one. tests/CMakeLists.txt defines EROFSFS_HAVE_LZMA, EROFSFS_HAVE_ZLIB and EROFSFS_HAVE_ZSTD
// to 0 or 1 from pkg-config; a case that needs a missing library prints "codec skipped: <why>",
// which ctest reports as skipped (never as passed). Cases that loop over every fixture leave
// out the images this build cannot decode and say so in a message instead: that marker would
// hide their other results. Test-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <erofsfs/codecs/all.hpp>
#include <erofsfs/erofsfs.hpp>

#include "manifest.hpp"

namespace erofsfs::test {

// The library behind algorithm `alg` (a disk::compression_* id), as pkg-config names it.
inline constexpr std::string_view codec_library(unsigned alg) noexcept {
  switch (alg) {
    case disk::compression_lz4: return "built in";
    case disk::compression_lzma: return "liblzma";
    case disk::compression_deflate: return "zlib";
    case disk::compression_zstd: return "libzstd";
  }
  return "none";
}

// The libraries of the algorithms in `algs` (a bit per disk::compression_* id, as the
// superblock's available_compr_algs) that this build lacks, space-separated; "" if none.
inline std::string missing_codec_libraries(std::uint16_t algs) {
  std::string out;
  for (unsigned alg = 0; alg < disk::compression_max; ++alg) {  // bounded: 4 algorithms
    if (!(algs & (1u << alg)) || all_decompressors_have(alg)) continue;
    if (!out.empty()) out += ' ';
    out += codec_library(alg);
  }
  return out;
}

// The same for fixture `name`, from its superblock; "" also when it does not open (the case
// then fails on its own open).
inline std::string fixture_missing_codecs(const std::string& name, const char* group = "images") {
  auto fx = open_fixture(name, nullptr, group);
  return fx ? missing_codec_libraries((*fx)->img.sb().available_compr_algs) : std::string();
}

}  // namespace erofsfs::test

// Ends the current test case as skipped when this build lacks the library of algorithm `alg`.
#define EROFSFS_SKIP_WITHOUT_CODEC(alg)                                                       \
  do {                                                                                        \
    if (!::erofsfs::all_decompressors_have(alg)) {                                            \
      MESSAGE("codec skipped: " << ::erofsfs::test::codec_library(alg)                        \
                                << " is not in this build");                                 \
      return;                                                                                 \
    }                                                                                         \
  } while (0)

// Ends the current test case as skipped when fixture `name` needs a library this build lacks.
#define EROFSFS_SKIP_UNLESS_DECODABLE(name)                                                   \
  do {                                                                                        \
    if (const std::string missing_ = ::erofsfs::test::fixture_missing_codecs(name);           \
        !missing_.empty()) {                                                                  \
      MESSAGE("codec skipped: fixture " << std::string(name) << " needs " << missing_        \
                                        << ", not in this build");                           \
      return;                                                                                 \
    }                                                                                         \
  } while (0)
