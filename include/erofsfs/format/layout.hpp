// Layout rules (L1): where the pieces of an inode's metadata sit relative to each other, each
// rule stated once. The mapper, open_image, xattr reading and metadata_ranges() (which a
// lazy-loading daemon trusts to prefetch exactly what the kernel reads without asking) all call
// these, so they cannot drift apart. Compressed-index rules are in compressed_index.hpp.
// All arithmetic is checked: a false return means the image's values overflow.
#pragma once

#include <cstdint>

#include "../base/bytes.hpp"
#include "disk.hpp"

namespace erofsfs::layout {

// --- §6.2: FLAT_INLINE: the last, partial block sits inline after the inode's xattrs ---------

// File offset where the inline tail of a FLAT_INLINE file of `size` bytes starts (the start of
// its last block); 0 for an empty file.
constexpr std::uint64_t inline_tail_start(std::uint64_t size, unsigned blkszbits) noexcept {
  return size == 0 ? 0 : round_down(size - 1, std::uint64_t{1} << blkszbits);
}
constexpr std::uint64_t inline_tail_length(std::uint64_t size, unsigned blkszbits) noexcept {
  return size - inline_tail_start(size, blkszbits);
}
// The tail must not cross a block boundary of the metadata area.
constexpr bool inline_tail_fits(std::uint64_t tail_pos, std::uint64_t tail_len,
                                unsigned blkszbits) noexcept {
  const std::uint64_t bs = std::uint64_t{1} << blkszbits;
  return tail_len <= bs && (tail_pos & (bs - 1)) <= bs - tail_len;
}

// --- §7: CHUNK_BASED: an array of block-map entries or chunk indexes after the xattrs --------

constexpr unsigned chunk_entry_size(std::uint16_t chunk_format) noexcept {
  return (chunk_format & disk::chunk_format_indexes) ? sizeof(disk::inode_chunk_index) : 4;
}
constexpr std::uint64_t chunk_count(std::uint64_t size, unsigned chunkbits) noexcept {
  return size == 0 ? 0 : ((size - 1) >> chunkbits) + 1;
}
// Position of entry `chunknr`: the array starts at the tail area, aligned to the entry size.
constexpr bool chunk_entry_position(std::uint64_t tail_area_pos, std::uint16_t chunk_format,
                                    std::uint64_t chunknr, std::uint64_t& pos) noexcept {
  const unsigned unit = chunk_entry_size(chunk_format);
  std::uint64_t array, rel;
  return checked_round_up(tail_area_pos, unit, array) && checked_mul(chunknr, unit, rel) &&
         checked_add(array, rel, pos);
}
// The whole array of a file of `size` bytes: [pos, pos + len).
constexpr bool chunk_array_span(std::uint64_t tail_area_pos, std::uint16_t chunk_format,
                                std::uint64_t size, unsigned chunkbits, std::uint64_t& pos,
                                std::uint64_t& len) noexcept {
  return chunk_entry_position(tail_area_pos, chunk_format, 0, pos) &&
         checked_mul(chunk_count(size, chunkbits), chunk_entry_size(chunk_format), len) &&
         in_bounds(pos, len, ~std::uint64_t{0});
}

// --- §9: xattrs --------------------------------------------------------------------------------

// Bytes of the inline xattr area for i_xattr_icount (§9.1).
constexpr std::uint32_t xattr_ibody_size(std::uint16_t icount) noexcept {
  return icount == 0 ? 0 : sizeof(disk::xattr_ibody_header) + 4 * (std::uint32_t{icount} - 1);
}
// One entry, inline or shared: header, name, value, padded to 4 bytes (at most 65796 bytes).
constexpr std::uint64_t xattr_entry_size(std::uint8_t name_len, std::uint16_t value_size) noexcept {
  return (sizeof(disk::xattr_entry) + std::uint64_t{name_len} + value_size + 3) & ~std::uint64_t{3};
}

// §9.5: long name prefix records: 4-byte aligned `u16 len`, then len bytes (base index + infix).
constexpr std::uint64_t long_prefix_record_start(std::uint64_t pos) noexcept {
  return (pos + 3) & ~std::uint64_t{3};  // pos < 2^34 (xattr_prefix_start is 32-bit * 4)
}
constexpr std::uint64_t long_prefix_record_size(std::uint16_t len) noexcept { return 2 + len; }

}  // namespace erofsfs::layout
