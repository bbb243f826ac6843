// The compressed-file mapper (L4), spec §12: lcluster indexes (full and compact), big
// pclusters, ztailpacking, fragments, dedupe and encoded extents.
//
// It follows the Linux reader (fs/erofs/zmap.c as of 6.18, the kernel the fixture manifests
// come from) rule for rule, including what it rejects. Unlike the kernel's read path, which
// works with a tentative extent end, every extent returned here has its exact length (the
// kernel's FIEMAP mode), so a caller can decode a whole pcluster with full semantics.
#pragma once

#include <algorithm>
#include <cstdint>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "extent.hpp"
#include "../format/disk.hpp"
#include "../core/image.hpp"
#include "../format/compressed_index.hpp"
#include "../format/inode.hpp"

namespace erofsfs {

namespace detail {

// Algorithm numbers as the kernel keeps them in m_algorithmformat: 0..3 on-disk ids, then the
// two ways of storing plain data.
inline constexpr unsigned z_alg_shifted = disk::compression_max;
inline constexpr unsigned z_alg_interlaced = disk::compression_max + 1;

// What one mapping step found, before it becomes an `extent`.
struct z_map {
  std::uint64_t la = 0;
  std::uint64_t llen = 0;
  std::uint64_t pa = 0;    // unified byte address, or metadata position when `meta`
  std::uint64_t plen = 0;
  unsigned alg = 0;
  bool mapped = false;     // false: hole
  bool meta = false;       // inline (ztailpacking) pcluster
  bool fragment = false;
  bool partial = false;
  std::uint64_t fragment_off = 0;
};

// Longest extent the kernel decodes (Z_EROFS_PCLUSTER_MAX_DSIZE); longer index walks stop early.
inline constexpr std::uint64_t z_max_walk = disk::pcluster_max_dsize;

inline status z_load_full(const image& img, const inode& ino, z_recorder& m,
                          std::uint64_t lcn) noexcept {
  std::uint64_t pos;
  if (!full_index_position(ino.z, lcn, pos))
    return corrupted(what::lcluster_index_position_overflows,
                     {.nid = ino.nid, .offset = ino.z.header_pos, .value = lcn});
  std::byte raw[sizeof(disk::z_lcluster_index)];
  EROFSFS_TRY(detail::core(img).read_meta(pos, raw, ino.in_metabox, ino.nid));
  return decode_full_index(disk::load<disk::z_lcluster_index>(raw), ino.z, ino.nid, pos, lcn, m);
}

inline status z_load_compact(const image& img, const inode& ino, z_recorder& m,
                             std::uint64_t lcn, bool lookahead) noexcept {
  const compact_layout l = compact_index_layout(ino.z, ino.size, img.block_size());
  EROFSFS_TRY_ASSIGN(const compact_slot slot, locate_compact_entry(ino.z, l, lcn, ino.nid));
  std::byte pack[32];
  EROFSFS_TRY(detail::core(img).read_meta(slot.packstart, std::span(pack, slot.packbytes),
                                          ino.in_metabox, ino.nid));
  return decode_compact_pack(pack, slot, ino.z, lookahead, ino.nid, lcn, m);
}

inline status z_load(const image& img, const inode& ino, z_recorder& m, std::uint64_t lcn,
                     bool lookahead) noexcept {
  if (ino.layout == data_layout::compressed_full) return z_load_full(img, ino, m, lcn);
  return z_load_compact(img, ino, m, lcn, lookahead);
}

// Walks back from m.lcn by `distance` until a HEAD-type lcluster; returns the extent start.
// Each step moves back by at least one lcluster, and the walk stops once it spans more than
// the longest extent the kernel accepts.
inline result<std::uint64_t> z_lookback(const image& img, const inode& ino, z_recorder& m,
                                        std::uint32_t distance) noexcept {
  const unsigned lbits = ino.z.lclusterbits;
  const std::uint64_t start = m.lcn;
  while (distance != 0 && m.lcn >= distance) {
    const std::uint64_t lcn = m.lcn - distance;
    if (((start - lcn) << lbits) > z_max_walk + (std::uint64_t{1} << lbits))
      return unsupported(what::compressed_extent_longer_than_12_mib,
                         {.nid = ino.nid, .offset = ino.z.header_pos, .value = lcn});
    EROFSFS_TRY(z_load(img, ino, m, lcn, false));
    if (m.type == disk::z_lcluster_type_nonhead) {
      distance = m.delta0;
      continue;
    }
    m.headtype = m.type;
    return (lcn << lbits) | m.clusterofs;
  }
  return corrupted(what::bogus_lcluster_lookback_distance,
                   {.nid = ino.nid, .offset = ino.z.header_pos, .value = m.lcn});
}

// Blocks of the pcluster whose HEAD was just loaded into m (§12.6 step 5).
inline status z_compressed_len(const image& img, const inode& ino, z_recorder& m,
                               z_map& r) noexcept {
  const z_info& z = ino.z;
  const bool big1 = (z.advise & disk::z_advise_big_pcluster_1) != 0;
  const bool big2 = (z.advise & disk::z_advise_big_pcluster_2) != 0;
  const std::uint64_t lcn = m.lcn + 1;
  if ((m.headtype == disk::z_lcluster_type_head1 && !big1) ||
      ((m.headtype == disk::z_lcluster_type_plain || m.headtype == disk::z_lcluster_type_head2) &&
       !big2) ||
      (lcn << z.lclusterbits) >= ino.size)
    m.compressedblks = 1;
  if (!m.compressedblks) {
    EROFSFS_TRY(z_load(img, ino, m, lcn, false));
    if (m.type == disk::z_lcluster_type_nonhead && m.delta0 != 1)
      return corrupted(what::bogus_cblkcnt_lcluster_after_a_head,
                       {.nid = ino.nid, .offset = z.header_pos, .value = lcn});
    if (m.type != disk::z_lcluster_type_nonhead || !m.compressedblks) m.compressedblks = 1;
  }
  r.plen = std::uint64_t{m.compressedblks} << img.blkszbits();
  return {};
}

// Exact extent length (§12.6 step 8): forward to the next HEAD-type lcluster or EOF.
inline status z_decompressed_len(const image& img, const inode& ino, z_recorder& m,
                                 z_map& r) noexcept {
  const unsigned lbits = ino.z.lclusterbits;
  const std::uint64_t headlcn = r.la >> lbits;
  std::uint64_t lcn = m.lcn;
  while (true) {  // bounded: lcn grows by >= 1 and the walk is capped at 12 MiB
    if ((lcn << lbits) >= ino.size) {
      r.llen = ino.size - r.la;
      return {};
    }
    if ((lcn << lbits) - (headlcn << lbits) > z_max_walk + (std::uint64_t{1} << lbits))
      return unsupported(what::compressed_extent_longer_than_12_mib,
                         {.nid = ino.nid, .offset = ino.z.header_pos, .value = lcn});
    EROFSFS_TRY(z_load(img, ino, m, lcn, true));
    if (m.type == disk::z_lcluster_type_nonhead) {
      if (m.delta1 == 0) m.delta1 = 1;  // pre-1.0 mkfs wrote 0 here; Linux accepts it
    } else {
      if (lcn != headlcn) break;
      m.delta1 = 1;
    }
    lcn += m.delta1;
  }
  r.llen = (lcn << lbits) + m.clusterofs - r.la;
  return {};
}

// §12.6 for lcluster-index layouts. `findtail` is the once-per-inode lookup of the tail
// extent (z_erofs_map_blocks_fo with EROFS_GET_BLOCKS_FINDTAIL); it records into `tail`.
inline result<z_map> z_map_lcluster(const image& img, const inode& ino, std::uint64_t ofs,
                                    bool findtail, z_info* tail) noexcept {
  const z_info& z = ino.z;
  const bool fragment = (z.advise & disk::z_advise_fragment_pcluster) != 0;
  const bool ztail = z.idata_size != 0;
  const unsigned lbits = z.lclusterbits;
  z_map r;
  if (fragment && !findtail && z.tail_head_lcn == 0) {
    r.fragment = true;
    r.llen = ino.size;
    r.fragment_off = z.fragment_offset;
    return r;
  }
  z_recorder m;
  const std::uint64_t initial_lcn = ofs >> lbits;
  const std::uint64_t endoff = ofs & ((std::uint64_t{1} << lbits) - 1);
  EROFSFS_TRY(z_load(img, ino, m, initial_lcn, false));
  const std::uint64_t inline_pos = m.nextpackoff;  // ztailpacking: the inline pcluster follows
  std::uint64_t end = (m.lcn + 1) << lbits;
  if (m.type != disk::z_lcluster_type_nonhead && endoff >= m.clusterofs) {
    m.headtype = m.type;
    r.la = (m.lcn << lbits) | m.clusterofs;
    // ztailpacking files may end with an lcluster holding two extents and the inline tail.
    if (ztail && end > ino.size) end = ino.size;
  } else {
    std::uint32_t distance = m.delta0;
    if (m.type != disk::z_lcluster_type_nonhead) {
      if (m.lcn == 0)
        return corrupted(what::lcluster_0_does_not_start_an_extent,
                         {.nid = ino.nid, .offset = z.header_pos, .value = ofs});
      end = (m.lcn << lbits) | m.clusterofs;
      distance = 1;
    }
    EROFSFS_TRY_ASSIGN(r.la, z_lookback(img, ino, m, distance));
  }
  r.partial = m.partialref;
  r.llen = end - r.la;
  r.mapped = true;
  std::uint64_t tail_head_lcn = z.tail_head_lcn;
  if (findtail) {
    tail_head_lcn = m.lcn;
    tail->tail_head_lcn = m.lcn;
    if (ztail) tail->inline_pos = inline_pos;
    // Full indexes keep the fragment offset's high 32 bits in the tail head's blkaddr.
    if (fragment && ino.layout == data_layout::compressed_full)
      tail->fragment_offset |= m.pblk << 32;
  }
  const std::uint64_t bs = img.block_size();
  if (ztail && m.lcn == tail_head_lcn) {
    r.meta = true;
    r.pa = findtail ? tail->inline_pos : z.inline_pos;
    r.plen = z.idata_size;
    if ((r.pa & (bs - 1)) + r.plen > bs)
      return corrupted(what::inline_pcluster_crosses_a_block_boundary,
                       {.nid = ino.nid, .offset = r.pa, .value = r.plen});
  } else if (fragment && m.lcn == tail_head_lcn) {
    r.mapped = false;
    r.fragment = true;
    r.fragment_off = findtail ? tail->fragment_offset : z.fragment_offset;
    r.llen = ino.size - r.la;
    return r;
  } else {
    if (!checked_shl(m.pblk, img.blkszbits(), r.pa))
      return corrupted(what::pcluster_address_overflows,
                       {.nid = ino.nid, .offset = z.header_pos, .value = m.pblk});
    EROFSFS_TRY(z_compressed_len(img, ino, m, r));
  }
  if (m.headtype == disk::z_lcluster_type_plain) {
    if (r.llen > r.plen)
      return corrupted(what::plain_extent_longer_than_its_pcluster,
                       {.nid = ino.nid, .offset = r.pa, .value = r.llen});
    r.alg = (z.advise & disk::z_advise_interlaced_pcluster) ? z_alg_interlaced : z_alg_shifted;
  } else if (m.headtype == disk::z_lcluster_type_head2) {
    r.alg = z.algorithm_head2;
  } else {
    r.alg = z.algorithm_head1;
  }
  if (!findtail) EROFSFS_TRY(z_decompressed_len(img, ino, m, r));
  return r;
}

// §12.13, 4-byte records: a u64 base address, then one u32 plen per lcluster, their pclusters
// back to back. Calls on_record(j, pa_j, plen_raw_j) for j = 0 .. last in order (pa_j: the
// base plus the pclusters of the records before j), reading the records in batches (bounded
// memory); stops early when on_record returns false.
template <class OnRecord>
inline status z_walk_records4(const image& img, const inode& ino, std::uint64_t pos,
                              std::uint64_t last, OnRecord&& on_record) noexcept {
  std::byte base[8];
  EROFSFS_TRY(detail::core(img).read_meta(pos, base, ino.in_metabox, ino.nid));
  std::uint64_t pa = load_le64(base);
  std::byte batch[1024];
  std::uint64_t j = 0;
  while (j <= last) {  // bounded: last < number of lclusters, each pass consumes >= 1 record
    const std::uint64_t n = std::min<std::uint64_t>(last + 1 - j, sizeof batch / 4);
    std::uint64_t at;
    if (!checked_mul(j, 4, at) || !checked_add(pos + 8, at, at))
      return corrupted(what::extent_record_position_overflows,
                       {.nid = ino.nid, .offset = pos, .value = j});
    EROFSFS_TRY(detail::core(img).read_meta(at, std::span(batch, n * 4), ino.in_metabox, ino.nid));
    for (std::uint64_t i = 0; i < n; ++i, ++j) {
      const std::uint64_t plen_raw = load_le32(batch + 4 * i);
      if (!on_record(j, pa, plen_raw)) return {};
      if (j < last && !checked_add(pa, plen_raw & disk::z_extent_plen_mask, pa))
        return corrupted(what::extent_physical_address_overflows,
                         {.nid = ino.nid, .offset = pos, .value = j});
    }
  }
  return {};
}

// Where the records start: the first record-aligned position after the map header.
inline result<std::uint64_t> z_records_pos(const inode& ino) noexcept {
  std::uint64_t pos;
  if (!checked_round_up(ino.z.header_pos + 8, ino.z.extent_recsz, pos))
    return corrupted(what::extent_record_position_overflows,
                     {.nid = ino.nid, .offset = ino.z.header_pos});
  return pos;
}

// The file range [lstart, lend) of record `k` when records are per lcluster (4 and 8 bytes),
// and whether it is the last one.
inline status z_lcluster_record_span(const inode& ino, std::uint64_t k, std::uint64_t& lstart,
                                     std::uint64_t& lend, bool& last) noexcept {
  const std::uint64_t lsize = std::uint64_t{1} << ino.z.lclusterbits;
  lend = ino.size;
  lstart = (k + 1) * lsize;
  std::uint64_t rounded;
  if (!checked_round_up(lend, lsize, rounded))
    return corrupted(what::i_size_overflows,
                     {.nid = ino.nid, .offset = ino.pos, .value = ino.size});
  last = lstart >= rounded;
  if (lstart < lend) lend = lstart;
  lstart -= lsize;
  return {};
}

// The mapping step of the record covering `ofs`: file range [lstart, lend), raw plen and
// physical address, and whether it is the file's last record.
inline result<z_map> z_record_map(const image& img, const inode& ino, std::uint64_t ofs,
                                  std::uint64_t lstart, std::uint64_t lend, bool last,
                                  std::uint64_t plen_raw, std::uint64_t pa) noexcept {
  const z_info& z = ino.z;
  z_map m;
  m.la = ofs;
  if (lstart < lend) {
    m.la = lstart;
    if (last && (z.advise & disk::z_advise_fragment_pcluster)) {
      m.fragment = true;
      m.fragment_off = plen_raw;
      if (z.extent_recsz > 4) m.fragment_off |= pa << 32;
      m.llen = ino.size - m.la;
      return m;
    }
    if (plen_raw & disk::z_extent_plen_mask) {
      m.mapped = true;
      const unsigned fmt = static_cast<unsigned>(plen_raw >> disk::z_extent_plen_fmt_bit);
      m.pa = pa;
      m.plen = plen_raw & disk::z_extent_plen_mask;
      const std::uint64_t bmask = img.block_size() - 1;
      if (fmt)
        m.alg = fmt - 1;
      else if ((z.advise & disk::z_advise_interlaced_pcluster) && !(pa & bmask) &&
               !(m.plen & bmask))
        m.alg = z_alg_interlaced;
      else
        m.alg = z_alg_shifted;
      m.partial = (plen_raw & disk::z_extent_plen_partial) != 0;
    }
  }
  m.llen = lend - m.la;
  if (m.mapped && m.alg >= z_alg_shifted && m.llen > m.plen)
    return corrupted(what::plain_extent_longer_than_its_pcluster,
                     {.nid = ino.nid, .offset = m.pa, .value = m.llen});
  return m;
}

// §12.13: encoded extent records.
inline result<z_map> z_map_records(const image& img, const inode& ino, std::uint64_t ofs) noexcept {
  const z_info& z = ino.z;
  const unsigned recsz = z.extent_recsz;
  EROFSFS_TRY_ASSIGN(const std::uint64_t pos, z_records_pos(ino));
  std::uint64_t lend = ino.size, lstart, plen_raw = 0, pa = 0;
  bool last;
  if (recsz <= 8) {
    const std::uint64_t k = ofs >> z.lclusterbits;  // the record holding ofs
    if (recsz == 4) {
      // The extent starts after the pclusters of the k records before it.
      EROFSFS_TRY(z_walk_records4(img, ino, pos, k,
                                  [&](std::uint64_t j, std::uint64_t pa_j, std::uint64_t p) {
                                    if (j == k) {
                                      pa = pa_j;
                                      plen_raw = p;
                                    }
                                    return true;
                                  }));
    } else {
      std::uint64_t at;
      if (!checked_mul(k, 8, at) || !checked_add(pos, at, at))
        return corrupted(what::extent_record_position_overflows,
                         {.nid = ino.nid, .offset = pos, .value = k});
      std::byte rec[8];
      EROFSFS_TRY(detail::core(img).read_meta(at, rec, ino.in_metabox, ino.nid));
      plen_raw = load_le32(rec);
      pa = load_le32(rec + 4);
    }
    EROFSFS_TRY(z_lcluster_record_span(ino, k, lstart, lend, last));
  } else {
    lstart = lend;
    std::uint64_t l = 0, r = z.extent_count;
    while (l < r) {  // binary search: at most 64 probes
      const std::uint64_t mid = l + (r - l) / 2;
      std::uint64_t at;
      if (!checked_mul(mid, recsz, at) || !checked_add(pos, at, at))
        return corrupted(what::extent_record_position_overflows,
                         {.nid = ino.nid, .offset = pos, .value = mid});
      std::byte rec[sizeof(disk::z_extent)];
      EROFSFS_TRY(detail::core(img).read_meta(at, std::span(rec, recsz), ino.in_metabox, ino.nid));
      const auto e = disk::load<disk::z_extent>(rec);  // fields past recsz are unused
      std::uint64_t la = e.lstart_lo.get();
      const std::uint64_t p = e.pstart_lo.get() | (std::uint64_t{e.pstart_hi.get()} << 32);
      if (recsz > 16) la |= std::uint64_t{e.lstart_hi.get()} << 32;
      if (la > ofs) {
        r = mid;
        if (la > lend)
          return corrupted(what::extent_records_out_of_order_or_past_i_size,
                           {.nid = ino.nid, .offset = at, .value = la});
        lend = la;
      } else {
        l = mid + 1;
        if (la == ofs) r = l + 1 < r ? l + 1 : r;
        lstart = la;
        plen_raw = e.plen.get();
        pa = p;
      }
    }
    last = l >= z.extent_count;
  }
  return z_record_map(img, ino, ofs, lstart, lend, last, plen_raw, pa);
}

}  // namespace detail

// Decodes the map header of a compressed inode into ino.z (§12.2) and, for ztailpacking and
// fragment files, locates the tail extent (§12.6 step 0).
inline status zmap_init(const image& img, inode& ino) noexcept {
  z_info& z = ino.z;
  z = z_info{};
  if (!checked_round_up(ino.tail_area_pos(), 8, z.header_pos))
    return corrupted(what::map_header_position_overflows, {.nid = ino.nid, .offset = ino.pos});
  // Linux reads the header only when mapping an offset below i_size: never for empty files.
  if (ino.size == 0) {
    z.lclusterbits = img.blkszbits();
    z.ready = true;
    return {};
  }
  std::byte raw[sizeof(disk::z_map_header)];
  EROFSFS_TRY(detail::core(img).read_meta(z.header_pos, raw, ino.in_metabox, ino.nid));
  EROFSFS_TRY(detail::decode_map_header(disk::load<disk::z_map_header>(raw), ino, img.blkszbits(),
                                        img.sb().has_incompat(disk::incompat_big_pcluster), z));
  if (z.whole_fragment || z.extent_recsz) {
    z.ready = true;
    return {};
  }
  if (z.idata_size || (z.advise & disk::z_advise_fragment_pcluster)) {
    z_info found = z;
    auto tail = detail::z_map_lcluster(img, ino, ino.size - 1, true, &found);
    if (!tail) return tail.error();
    z = found;
  }
  z.ready = true;
  return {};
}

namespace detail {

// The extent a mapping step found, after the sanity checks of z_erofs_map_sanity_check() and
// with the device resolved.
inline result<extent> z_extent_of(const image& img, const inode& ino, const z_map& m) noexcept {
  const z_info& z = ino.z;
  extent e;
  e.logical = m.la;
  e.length = m.llen;
  // Whether the extent covers `offset` is checked once, in map_extent().
  // An extent claiming bytes past i_size (only a malformed last HEAD can) is cut there; its
  // pcluster then decodes with partial semantics.
  bool cut = false;
  if (e.end() > ino.size) {
    e.length = ino.size - e.logical;
    cut = true;
  }
  if (m.fragment) {
    e.kind = extent_kind::fragment;
    e.physical = m.fragment_off;
    e.physical_length = e.length;
    return e;
  }
  if (!m.mapped) return e;  // hole

  // Sanity checks of z_erofs_map_sanity_check().
  if (m.alg < disk::compression_max) {
    if (!(img.sb().available_compr_algs & (1u << m.alg)))
      return corrupted(what::compression_algorithm_not_enabled_in_the_superblock,
                       {.nid = ino.nid, .offset = z.header_pos, .value = m.alg});
  } else if (m.alg > z_alg_interlaced) {
    return unsupported(what::unknown_compression_algorithm,
                       {.nid = ino.nid, .offset = z.header_pos, .value = m.alg});
  }
  if (m.plen > disk::pcluster_max_size)
    return unsupported(what::pcluster_larger_than_1_mib,
                       {.nid = ino.nid, .offset = m.pa, .value = m.plen});
  if (m.llen > disk::pcluster_max_dsize)
    return unsupported(what::compressed_extent_longer_than_12_mib,
                       {.nid = ino.nid, .offset = m.pa, .value = m.llen});
  std::uint64_t pend;
  if (!checked_add(m.pa, m.plen, pend) || (!m.meta && (pend >> img.blkszbits()) >= (1ull << 48)))
    return corrupted(what::pcluster_beyond_48_bit_block_addresses,
                     {.nid = ino.nid, .offset = m.pa, .value = m.plen});

  if (m.alg == z_alg_shifted) {
    e.physical_length = e.length;
  } else {
    e.physical_length = m.plen;
    e.kind = extent_kind::encoded;
    if (m.alg == z_alg_interlaced) {
      e.flags |= extent_flags::interlaced;
      e.algorithm = algorithm_interlaced;
    } else {
      e.algorithm = static_cast<std::uint8_t>(m.alg);
    }
    if (m.partial || cut) e.flags |= extent_flags::partial_ref;
  }
  if (m.meta) {
    if (e.kind != extent_kind::encoded) e.kind = extent_kind::inline_data;
    else e.flags |= extent_flags::in_metadata;
    if (ino.in_metabox) e.flags |= extent_flags::in_metabox;
    e.physical = m.pa;
    return e;
  }
  if (e.kind != extent_kind::encoded) e.kind = extent_kind::mapped;
  EROFSFS_TRY_ASSIGN(const device_address at, detail::core(img).resolve(0, m.pa, ino.nid));
  if (at.contiguous < m.plen)
    return corrupted(what::pcluster_crosses_a_device_boundary,
                     {.nid = ino.nid, .offset = m.pa, .value = m.plen});
  e.device = at.device;
  e.physical = at.offset;
  return e;
}

}  // namespace detail

// The extent of compressed inode `ino` containing `offset` (< ino.size).
inline result<extent> zmap_extent(const image& img, const inode& ino, std::uint64_t offset) noexcept {
  const z_info& z = ino.z;
  if (!z.ready)
    return make_error(errc::invalid_argument, what::compressed_inode_not_prepared_by_zmap_init,
                      {.nid = ino.nid});
  if (offset >= ino.size)
    return make_error(errc::invalid_argument, what::offset_at_or_beyond_end_of_file,
                      {.nid = ino.nid, .value = offset});
  detail::z_map m;
  if (z.extent_recsz) {
    EROFSFS_TRY_ASSIGN(m, detail::z_map_records(img, ino, offset));
  } else {
    EROFSFS_TRY_ASSIGN(m, detail::z_map_lcluster(img, ino, offset, false, nullptr));
  }
  return detail::z_extent_of(img, ino, m);
}

}  // namespace erofsfs
