// The interface between one header's run check and the image it runs on. Each check is a TU
// that includes its erofsfs header first and only that header (plus this file, which needs
// nothing from erofsfs), and calls the header's entry points on a real image. The image is
// opened in opener.cpp, a shared library that exports nothing but header_check_open: its
// copies of erofsfs's inline functions are hidden, so a function the header declares but
// does not define (or include the definition of) fails the check's link.
#pragma once

#include <cstddef>
#include <cstdio>
#include <span>

namespace erofsfs {
class image;
struct inode;
struct extent;
}  // namespace erofsfs

struct header_check_input {
  const char* path = nullptr;            // the image file
  std::span<const std::byte> bytes;      // all of it
  const erofsfs::image* img = nullptr;   // opened from `bytes` with the built-in decoders
  const erofsfs::inode* root = nullptr;  // the root directory
  const erofsfs::inode* file = nullptr;  // header_check_file, a compressed regular file
  const erofsfs::extent* file_extent = nullptr;  // file's first encoded extent
  std::span<const std::byte> root_block;         // the root directory's first block
};

// The file every check looks at in tests/data/images/lz4hc-ztailpacking.
inline constexpr const char* header_check_file = "/data/mixed-36k";
inline constexpr std::size_t header_check_file_size = 36865;

// Opens `path`; nullptr (after a message) if it cannot.
const header_check_input* header_check_open(const char* path);

// The check: 0 when every call did what it should.
int header_check(const header_check_input& in);

#define HEADER_EXPECT(cond)                                                      \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);    \
      return 1;                                                                  \
    }                                                                            \
  } while (0)
