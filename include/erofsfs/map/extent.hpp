// The mapper's output (L4): one contiguous piece of a file's logical space and where its bytes
// are. A lazy-loading daemon uses it to fetch exactly the bytes a read needs.
#pragma once

#include <cstdint>

namespace erofsfs {

enum class extent_kind : std::uint8_t {
  hole,         // reads as zeros; nothing stored
  mapped,       // raw file bytes at (device, physical); byte y of the file is at physical + y - logical
  inline_data,  // raw file bytes in metadata: primary device, or metabox stream (flag in_metabox)
  encoded,      // a pcluster at (device, physical, physical_length) decodes to the whole extent
  fragment,     // raw file bytes at offset `physical` of the packed inode's data (§12.11)
};

inline constexpr const char* extent_kind_name(extent_kind k) noexcept {
  switch (k) {
    case extent_kind::hole: return "hole";
    case extent_kind::mapped: return "mapped";
    case extent_kind::inline_data: return "inline";
    case extent_kind::encoded: return "encoded";
    case extent_kind::fragment: return "fragment";
  }
  return "unknown";
}

namespace extent_flags {
inline constexpr std::uint8_t in_metabox = 0x01;      // physical is an offset in the metabox stream
inline constexpr std::uint8_t in_metadata = 0x02;     // encoded: the pcluster is inline (ztailpacking)
inline constexpr std::uint8_t partial_ref = 0x04;     // encoded: uses only a prefix of the pcluster's output
inline constexpr std::uint8_t interlaced = 0x08;      // encoded plain data, rotated within its block (§12.9)
}  // namespace extent_flags

// Algorithm of an encoded extent: 0..3 are the on-disk ids (lz4, lzma, deflate, zstd);
// uncompressed-but-rotated (interlaced) data uses this pseudo id.
inline constexpr std::uint8_t algorithm_interlaced = 0x10;

struct extent {
  std::uint64_t logical = 0;   // file offset of the first byte
  std::uint64_t length = 0;    // file bytes covered (for encoded: the whole decoded extent)
  extent_kind kind = extent_kind::hole;
  std::uint8_t flags = 0;      // extent_flags
  std::uint8_t algorithm = 0;  // encoded only
  std::uint16_t device = 0;    // 0: primary device; i: extra device i (after resolution)
  std::uint64_t physical = 0;  // byte offset on `device`, in metadata, or in the packed inode
  std::uint64_t physical_length = 0;  // bytes stored at `physical`

  std::uint64_t end() const noexcept { return logical + length; }
  // File bytes [pos, pos + len) lie inside this extent (no overflow for any pos, len).
  bool holds(std::uint64_t pos, std::uint64_t len) const noexcept {
    return pos >= logical && pos - logical <= length && len <= length - (pos - logical);
  }
};

}  // namespace erofsfs
