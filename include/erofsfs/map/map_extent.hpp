// The mapper (L4): file offset -> extent, for every data layout, with device resolution.
// Flat (§6) and chunk-based (§7) layouts are here; compressed layouts are in zmap.hpp.
//
// map_extent() returns the extent that contains `offset`. Every value read from the image is
// range-checked; every address computation is overflow-checked; extents never cross a device
// boundary of the unified address space.
#pragma once

#include <cstdint>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "extent.hpp"
#include "../format/disk.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../format/layout.hpp"
#include "compressed_map.hpp"

namespace erofsfs {

namespace detail {

// Builds a `mapped` extent for file bytes [l0, l1) stored at unified/device address p0, clipped
// to the device region that holds `offset` (l0 <= offset < l1).
inline result<extent> mapped_extent(const image& img, const inode& ino, std::uint16_t raw_device,
                                    std::uint64_t p0, std::uint64_t l0, std::uint64_t l1,
                                    std::uint64_t offset) noexcept {
  std::uint64_t end;
  if (!checked_add(p0, l1 - l0, end))
    return corrupted(what::data_address_overflows,
                     {.nid = ino.nid, .offset = ino.pos, .value = p0});
  EROFSFS_TRY_ASSIGN(const device_address at,
                     detail::core(img).resolve(raw_device, p0 + (offset - l0), ino.nid));
  extent e;
  e.kind = extent_kind::mapped;
  e.device = at.device;
  // resolve() reports only the distance to the next region boundary, so the start of the run
  // is resolved too, to find out whether a boundary lies between it and the query point.
  std::uint64_t start_l = l0;
  if (offset != l0) {
    // The run starts in another region (or one we cannot read): begin the extent at the query.
    auto first = detail::core(img).resolve(raw_device, p0, ino.nid);
    if (!first || first->device != at.device || first->contiguous <= offset - l0 ||
        at.offset - first->offset != offset - l0)
      start_l = offset;
  }
  e.logical = start_l;
  e.physical = at.offset - (offset - start_l);
  const std::uint64_t forward = l1 - offset;
  e.length = (offset - start_l) + (at.contiguous < forward ? at.contiguous : forward);
  e.physical_length = e.length;
  return e;
}

inline result<extent> map_flat(const image& img, const inode& ino, std::uint64_t offset) noexcept {
  const unsigned bits = img.blkszbits();
  const std::uint64_t bs = img.block_size();
  extent e;
  if (ino.layout == data_layout::flat_plain && ino.startblk == inode::hole_startblk) {
    e.kind = extent_kind::hole;
    e.length = ino.size;
    return e;
  }
  const std::uint64_t tail_start = ino.layout == data_layout::flat_inline
                                       ? layout::inline_tail_start(ino.size, bits)
                                       : div_round_up(ino.size, bs) << bits;  // <= size rounded
  if (offset < tail_start) {
    std::uint64_t p0;
    if (!checked_shl(ino.startblk, bits, p0))
      return corrupted(what::start_block_address_overflows,
                       {.nid = ino.nid, .offset = ino.pos, .value = ino.startblk});
    return mapped_extent(img, ino, 0, p0, 0, tail_start < ino.size ? tail_start : ino.size,
                         offset);
  }
  // §6.2: the tail follows the inline xattrs and must sit inside one block.
  const std::uint64_t tail_pos = ino.tail_area_pos();
  const std::uint64_t tail_len = layout::inline_tail_length(ino.size, bits);
  if (!layout::inline_tail_fits(tail_pos, tail_len, bits))
    return corrupted(what::inline_data_crosses_a_block_boundary,
                     {.nid = ino.nid, .offset = tail_pos, .value = tail_len});
  e.kind = extent_kind::inline_data;
  e.logical = tail_start;
  e.length = tail_len;
  e.physical = tail_pos;
  e.physical_length = tail_len;
  if (ino.in_metabox) e.flags |= extent_flags::in_metabox;
  return e;
}

inline result<extent> map_chunk(const image& img, const inode& ino, std::uint64_t offset) noexcept {
  const bool indexes = (ino.chunk_format & disk::chunk_format_indexes) != 0;
  const unsigned unit = layout::chunk_entry_size(ino.chunk_format);
  const std::uint64_t chunknr = offset >> ino.chunkbits;
  std::uint64_t pos;
  if (!layout::chunk_entry_position(ino.tail_area_pos(), ino.chunk_format, chunknr, pos))
    return corrupted(what::chunk_index_position_overflows,
                     {.nid = ino.nid, .offset = ino.pos, .value = chunknr});
  std::byte raw[8];
  EROFSFS_TRY(detail::core(img).read_meta(pos, std::span(raw, unit), ino.in_metabox, ino.nid));

  const std::uint64_t chunk_size = std::uint64_t{1} << ino.chunkbits;
  extent e;
  e.logical = chunknr << ino.chunkbits;
  const std::uint64_t left = ino.size - e.logical;
  e.length = left < chunk_size ? left : chunk_size;

  std::uint64_t blk;
  std::uint16_t raw_device = 0;
  if (indexes) {
    const auto idx = disk::load<disk::inode_chunk_index>(raw);
    const std::uint64_t mask = (ino.chunk_format & disk::chunk_format_48bit)
                                   ? disk::null_addr_48
                                   : std::uint64_t{disk::null_addr};
    blk = ((std::uint64_t{idx.startblk_hi.get()} << 32) | idx.startblk_lo.get()) & mask;
    if (blk == mask) return e;  // hole
    raw_device = idx.device_id.get() & img.device_id_mask();
  } else {
    blk = load_le32(raw);
    if (blk == disk::null_addr) return e;  // hole
  }
  std::uint64_t p0;
  if (!checked_shl(blk, img.blkszbits(), p0))
    return corrupted(what::chunk_block_address_overflows,
                     {.nid = ino.nid, .offset = pos, .value = blk});
  return mapped_extent(img, ino, raw_device, p0, e.logical, e.end(), offset);
}

}  // namespace detail

// The extent of `ino` that contains file offset `offset` (< ino.size).
inline result<extent> map_extent(const image& img, const inode& ino, std::uint64_t offset) noexcept {
  if (!ino.has_data())
    return make_error(errc::invalid_argument, what::inode_type_has_no_data, {.nid = ino.nid});
  if (offset >= ino.size)
    return make_error(errc::invalid_argument, what::offset_at_or_beyond_end_of_file,
                      {.nid = ino.nid, .value = offset});
  result<extent> e = make_error(errc::internal, what::unhandled_data_layout, {.nid = ino.nid});
  switch (ino.layout) {
    case data_layout::flat_plain:
    case data_layout::flat_inline: e = detail::map_flat(img, ino, offset); break;
    case data_layout::chunk_based: e = detail::map_chunk(img, ino, offset); break;
    case data_layout::compressed_full:
    case data_layout::compressed_compact: e = zmap_extent(img, ino, offset); break;
  }
  // The one sanity check every caller relies on (liberofs: z_erofs_map_sanity_check): the
  // extent contains the offset, so loops that advance by extents always make progress.
  if (e && (e->logical > offset || e->end() <= offset || e->end() < e->logical))
    return corrupted(what::mapped_extent_does_not_cover_the_offset,
                     {.nid = ino.nid, .offset = ino.pos, .value = offset});
  return e;
}

// Reads inode `nid`, ready for mapping (compressed inodes get their map header decoded).
inline result<inode> read_inode(const image& img, std::uint64_t nid) noexcept {
  EROFSFS_TRY_ASSIGN(inode ino, detail::core(img).load_inode(nid));
  if (ino.has_data() && ino.is_compressed()) EROFSFS_TRY(zmap_init(img, ino));
  return ino;
}

}  // namespace erofsfs
