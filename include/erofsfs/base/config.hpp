// Build-wide switches (L0): the caller-contract assertion and the fuzzing switch.
//
// EROFSFS_ASSERT guards *caller* mistakes only (value() on an error, a null buffer).
// Image bytes never reach an assertion: they produce an erofsfs::error instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef EROFSFS_ASSERT
#define EROFSFS_ASSERT(cond, msg)                                                      \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "erofsfs: %s:%d: %s (%s)\n", __FILE__, __LINE__, msg, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
#endif

// Defined by the fuzz targets: lowers the default limits so a fuzzer does not report
// out-of-memory or timeouts for legal-but-huge values.
#if defined(EROFSFS_FUZZING)
#define EROFSFS_FUZZING_ENABLED 1
#else
#define EROFSFS_FUZZING_ENABLED 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EROFSFS_LIKELY(x) __builtin_expect(!!(x), 1)
#define EROFSFS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define EROFSFS_LIKELY(x) (x)
#define EROFSFS_UNLIKELY(x) (x)
#endif
