// Compressed-file index decoding (L1), spec §12.2-§12.5: bytes in, records out, no I/O.
//
// Each rule of how a compressed inode's indexes are laid out lives here once: the map header,
// where a full or compact lcluster entry sits, how a compact pack decodes, and the byte span all
// of an inode's index records occupy (metadata prefetching copies exactly that span, so the
// mapper and the prefetcher must agree on it). The mapper (map/compressed_map.hpp) reads the
// bytes these functions ask for and walks the records; fuzz/fuzz_compressed_index.cpp feeds
// them arbitrary bytes.
#pragma once

#include <cstdint>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "disk.hpp"
#include "inode.hpp"

namespace erofsfs::detail {

// One decoded lcluster, plus what earlier loads left behind: the kernel keeps compressedblks
// across loads (a CBLKCNT seen during lookback is reused), and so do we.
struct z_recorder {
  std::uint64_t lcn = 0;
  unsigned type = 0;
  unsigned headtype = 0;
  std::uint32_t clusterofs = 0;
  std::uint32_t delta0 = 0;
  std::uint32_t delta1 = 0;
  std::uint64_t pblk = 0;
  std::uint32_t compressedblks = 0;
  std::uint64_t nextpackoff = 0;  // end of the index entry / pack last loaded
  bool partialref = false;
};

// --- §12.2: the map header -----------------------------------------------------------------

// Decodes the map header of compressed inode `ino` (found at ino.z.header_pos) into `z`, as
// far as it goes without reading further bytes: locating the tail extent of ztailpacking and
// fragment files is the mapper's job (zmap_init).
inline status decode_map_header(const disk::z_map_header& h, const inode& ino, unsigned blkszbits,
                                bool big_pcluster_feature, z_info& z) noexcept {
  if (h.h_clusterbits & disk::z_fragment_inode_bit) {
    z.advise = disk::z_advise_fragment_pcluster;
    z.whole_fragment = true;
    z.fragment_offset = h.whole_fragmentoff();
    z.tail_head_lcn = 0;
    z.lclusterbits = blkszbits;
    return {};
  }
  z.advise = h.h_advise.get();
  z.lclusterbits = blkszbits + (h.h_clusterbits & 15u);
  if (ino.layout == data_layout::compressed_full && (z.advise & disk::z_advise_extents)) {
    z.extent_count = h.extent_count();
    z.extent_recsz = 4u << ((z.advise >> disk::z_advise_extrecsz_bit) & disk::z_advise_extrecsz_mask);
    // With 16/32-byte records byte 7 belongs to the extent count; no lcluster size is used.
    if (z.extent_recsz >= 16) z.lclusterbits = blkszbits;
    if (z.lclusterbits > 31)
      return unsupported(what::lcluster_size_above_2_gib,
                         {.nid = ino.nid, .offset = z.header_pos, .value = z.lclusterbits});
    return {};
  }
  if (z.lclusterbits > 31)
    return unsupported(what::lcluster_size_above_2_gib,
                       {.nid = ino.nid, .offset = z.header_pos, .value = z.lclusterbits});
  z.algorithm_head1 = h.h_algorithmtype & 15u;
  z.algorithm_head2 = h.h_algorithmtype >> 4;
  if (z.advise & disk::z_advise_fragment_pcluster)
    z.fragment_offset = h.fragmentoff();
  else if (z.advise & disk::z_advise_inline_pcluster)
    z.idata_size = h.idata_size();
  const std::uint16_t big = disk::z_advise_big_pcluster_1 | disk::z_advise_big_pcluster_2;
  if ((z.advise & big) && !big_pcluster_feature)
    return corrupted(what::big_pclusters_without_the_superblock_feature,
                     {.nid = ino.nid, .offset = z.header_pos, .value = z.advise});
  if (ino.layout == data_layout::compressed_compact && (z.advise & big) && (z.advise & big) != big)
    return corrupted(what::compact_indexes_with_only_one_big_pcluster_advise_bit,
                     {.nid = ino.nid, .offset = z.header_pos, .value = z.advise});
  return {};
}

// --- §12.4: full (8-byte) lcluster indexes ---------------------------------------------------

// Byte position of full index entry `lcn`: after the map header and 8 reserved bytes.
inline bool full_index_position(const z_info& z, std::uint64_t lcn, std::uint64_t& pos) noexcept {
  std::uint64_t rel;
  return checked_mul(lcn, sizeof(disk::z_lcluster_index), rel) &&
         checked_add(z.header_pos + 16, rel, pos);
}

// Decodes full index entry `lcn` (the 8 bytes at `pos`) into m.
inline status decode_full_index(const disk::z_lcluster_index& di, const z_info& z,
                                std::uint64_t nid, std::uint64_t pos, std::uint64_t lcn,
                                z_recorder& m) noexcept {
  m.lcn = lcn;
  m.nextpackoff = pos + sizeof di;
  const std::uint16_t advise = di.di_advise.get();
  m.type = advise & disk::z_li_lcluster_type_mask;
  const std::uint32_t u = di.di_u.get();
  if (m.type == disk::z_lcluster_type_nonhead) {
    m.clusterofs = std::uint32_t{1} << z.lclusterbits;
    m.delta0 = u & 0xFFFF;
    if (m.delta0 & disk::z_li_d0_cblkcnt) {
      if (!(z.advise & (disk::z_advise_big_pcluster_1 | disk::z_advise_big_pcluster_2)))
        return corrupted(what::cblkcnt_in_an_inode_without_big_pclusters,
                         {.nid = nid, .offset = pos, .value = lcn});
      m.compressedblks = m.delta0 & ~std::uint32_t{disk::z_li_d0_cblkcnt};
      m.delta0 = 1;
    }
    m.delta1 = u >> 16;
  } else {
    m.partialref = (advise & disk::z_li_partial_ref) != 0;
    m.clusterofs = di.di_clusterofs.get();
    if (m.clusterofs >= (std::uint64_t{1} << z.lclusterbits))
      return corrupted(what::lcluster_clusterofs_beyond_the_lcluster,
                       {.nid = nid, .offset = pos, .value = m.clusterofs});
    m.pblk = u;
  }
  return {};
}

// --- §12.5: compact (4-byte and 2-byte) lcluster indexes -------------------------------------

// How an inode's compact index array is cut: up to 7 four-byte entries until a 32-byte
// boundary, then (COMPACTED_2B) 2-byte entries in packs of 16, then 4-byte entries again.
struct compact_layout {
  std::uint64_t ebase = 0;     // first entry, right after the map header
  std::uint64_t totalidx = 0;  // entries: Linux sizes the array in blocks (erofs_iblks)
  std::uint64_t c4_init = 0;   // leading 4-byte entries
  std::uint64_t c2 = 0;        // 2-byte entries after them
};

inline compact_layout compact_index_layout(const z_info& z, std::uint64_t size,
                                           std::uint32_t block_size) noexcept {
  compact_layout l;
  l.ebase = z.header_pos + 8;
  l.totalidx = div_round_up(size, block_size);
  l.c4_init = ((32 - l.ebase % 32) / 4) & 7;
  if ((z.advise & disk::z_advise_compacted_2b) && l.c4_init < l.totalidx)
    l.c2 = round_down(l.totalidx - l.c4_init, 16);
  return l;
}

// Where compact entry `lcn` sits: its pack (the unit that is read and decoded together) and
// its index in the pack.
struct compact_slot {
  std::uint64_t packstart = 0;
  unsigned packbytes = 0;  // 8 (two 4-byte entries) or 32 (sixteen 2-byte entries)
  unsigned vcnt = 0;       // entries in the pack
  unsigned index = 0;      // of `lcn` within the pack
};

inline result<compact_slot> locate_compact_entry(const z_info& z, const compact_layout& l,
                                                 std::uint64_t lcn, std::uint64_t nid) noexcept {
  const unsigned lbits = z.lclusterbits;
  if (lcn >= l.totalidx)
    return corrupted(what::lcluster_beyond_the_compact_index_array,
                     {.nid = nid, .offset = l.ebase, .value = lcn});
  if (lbits > 14)
    return unsupported(what::compact_indexes_with_lclusters_above_16_kib,
                       {.nid = nid, .offset = z.header_pos, .value = lbits});
  std::uint64_t pos = l.ebase, idx = lcn;
  unsigned shift = 2;
  if (idx >= l.c4_init) {
    pos += 4 * l.c4_init;
    idx -= l.c4_init;
    if (idx < l.c2) {
      shift = 1;
    } else {
      pos += 2 * l.c2;
      idx -= l.c2;
    }
  }
  pos += idx << shift;  // idx < totalidx < 2^60: cannot overflow
  compact_slot s;
  if (shift == 2) {
    s.vcnt = 2;
  } else if (lbits <= 12) {
    s.vcnt = 16;
  } else {
    return unsupported(what::e_2_byte_compact_indexes_with_lclusters_above_4_kib,
                       {.nid = nid, .offset = z.header_pos, .value = lbits});
  }
  s.packbytes = s.vcnt << shift;
  s.packstart = round_down(pos, s.packbytes);
  s.index = static_cast<unsigned>((pos - s.packstart) >> shift);
  return s;
}

// Entry `i` of a compact pack: the `lobits` low bits, and the 2-bit type above them.
inline std::uint32_t z_compact_entry(const std::byte* pack, unsigned lobits, unsigned bitpos,
                                     unsigned& type) noexcept {
  const std::uint32_t v = load_le32(pack + bitpos / 8) >> (bitpos & 7);
  type = (v >> lobits) & 3;
  return v & ((std::uint32_t{1} << lobits) - 1);
}

// Decodes compact entry `lcn` from its pack (slot.packbytes bytes at slot.packstart) into m.
// `lookahead` also computes delta1 for a NONHEAD entry (needed when walking forward).
inline status decode_compact_pack(const std::byte* pack, const compact_slot& slot, const z_info& z,
                                  bool lookahead, std::uint64_t nid, std::uint64_t lcn,
                                  z_recorder& m) noexcept {
  const unsigned lbits = z.lclusterbits;
  const unsigned vcnt = slot.vcnt;
  const unsigned packbytes = slot.packbytes;
  const std::uint64_t packstart = slot.packstart;
  const std::uint64_t pos = packstart + (std::uint64_t{slot.index} << (packbytes == 8 ? 2 : 1));
  m.lcn = lcn;
  m.nextpackoff = packstart + packbytes;
  const unsigned lobits = lbits > 12 ? lbits : 12;
  const unsigned encodebits = (packbytes - 4) * 8 / vcnt;
  int i = static_cast<int>(slot.index);
  unsigned type;
  std::uint32_t lo = z_compact_entry(pack, lobits, encodebits * i, type);
  m.type = type;
  const bool big = (z.advise & disk::z_advise_big_pcluster_1) != 0;
  if (type == disk::z_lcluster_type_nonhead) {
    m.clusterofs = std::uint32_t{1} << lbits;
    if (lookahead) {
      // delta1: the NONHEAD run from here to the end of the pack, plus what the pack's last
      // entry says lies beyond it.
      std::uint32_t d1 = 0, l = 0;
      int j = i;
      bool head_seen = false;
      for (; j < static_cast<int>(vcnt); ++j) {  // bounded: vcnt <= 16
        unsigned t;
        l = z_compact_entry(pack, lobits, encodebits * j, t);
        if (t != disk::z_lcluster_type_nonhead) {
          head_seen = true;
          break;
        }
        ++d1;
      }
      if (!head_seen && !(l & disk::z_li_d0_cblkcnt)) d1 += l - 1;
      m.delta1 = d1 & 0xFFFF;  // a u16 in Linux too (l == 0 wraps there as well)
    }
    if (lo & disk::z_li_d0_cblkcnt) {
      if (!big)
        return corrupted(what::cblkcnt_in_an_inode_without_big_pclusters,
                         {.nid = nid, .offset = pos, .value = lcn});
      m.compressedblks = lo & ~std::uint32_t{disk::z_li_d0_cblkcnt};
      m.delta0 = 1;
      return {};
    }
    if (i + 1 != static_cast<int>(vcnt)) {
      m.delta0 = lo;
      return {};
    }
    // The pack's last entry holds delta1, not delta0: derive delta0 from its neighbour.
    unsigned t;
    lo = z_compact_entry(pack, lobits, encodebits * (i - 1), t);
    if (t != disk::z_lcluster_type_nonhead)
      lo = 0;
    else if (lo & disk::z_li_d0_cblkcnt)
      lo = 1;
    m.delta0 = lo + 1;
    return {};
  }
  m.clusterofs = lo;
  m.delta0 = 0;
  // The pack's base address counts blocks up to its first pcluster; add those whose heads
  // (or CBLKCNTs) come before entry i. Every step lowers i, so this ends within vcnt steps.
  std::uint64_t nblk;
  if (!big) {
    nblk = 1;
    while (i > 0) {
      --i;
      unsigned t;
      const std::uint32_t v = z_compact_entry(pack, lobits, encodebits * i, t);
      if (t == disk::z_lcluster_type_nonhead) i -= static_cast<int>(v);
      if (i >= 0) ++nblk;
    }
  } else {
    nblk = 0;
    while (i > 0) {
      --i;
      unsigned t;
      const std::uint32_t v = z_compact_entry(pack, lobits, encodebits * i, t);
      if (t == disk::z_lcluster_type_nonhead) {
        if (v & disk::z_li_d0_cblkcnt) {
          --i;
          nblk += v & ~std::uint32_t{disk::z_li_d0_cblkcnt};
          continue;
        }
        if (v <= 1)  // a big-pcluster pack never stores a plain delta0 of 0 or 1
          return corrupted(what::bogus_delta0_in_a_big_pcluster_compact_pack,
                           {.nid = nid, .offset = packstart, .value = v});
        i -= static_cast<int>(v) - 2;
        continue;
      }
      ++nblk;
    }
  }
  m.pblk = std::uint64_t{load_le32(pack + packbytes - 4)} + nblk;
  return {};
}


// --- the span of all index records (metadata prefetch) ----------------------------------------

// Byte span [pos, pos + len) of a compressed inode's map header and lcluster indexes or extent
// records (§12.2, §12.4, §12.5, §12.13), from the state decode_map_header() produced. False if
// it cannot be represented (a corrupted size).
inline bool compressed_index_span(const z_info& z, data_layout layout, std::uint64_t size,
                                  unsigned blkszbits, std::uint64_t& pos,
                                  std::uint64_t& len) noexcept {
  pos = z.header_pos;
  std::uint64_t end = pos + 8;
  if (z.whole_fragment) {
    len = 8;
    return true;
  }
  const unsigned lbits = z.lclusterbits ? z.lclusterbits : blkszbits;
  const std::uint64_t lclusters = size == 0 ? 0 : ((size - 1) >> lbits) + 1;
  std::uint64_t bytes;
  if (z.extent_recsz != 0) {
    const std::uint64_t rec = z.extent_recsz;
    std::uint64_t first;
    if (!checked_round_up(end, rec, first)) return false;
    const std::uint64_t count = rec >= 16 ? z.extent_count : lclusters;
    if (!checked_mul(count, rec, bytes) || !checked_add(bytes, rec == 4 ? 8 : 0, bytes) ||
        !checked_add(first, bytes, end))
      return false;
  } else if (layout == data_layout::compressed_full) {
    if (!checked_mul(lclusters, sizeof(disk::z_lcluster_index), bytes) ||
        !checked_add(pos + 16, bytes, end))
      return false;
  } else {
    z_info zz = z;
    const compact_layout l = compact_index_layout(zz, size, std::uint32_t{1} << blkszbits);
    const std::uint64_t head = l.c4_init < l.totalidx ? l.c4_init : l.totalidx;
    const std::uint64_t rest = l.totalidx - head - l.c2;
    // Trailing 4-byte entries come in packs of two.
    end = l.ebase + 4 * head + 2 * l.c2 + 8 * ((rest + 1) / 2);  // totalidx < 2^52: no overflow
  }
  if (end < pos) return false;
  len = end - pos;
  return true;
}

}  // namespace erofsfs::detail
