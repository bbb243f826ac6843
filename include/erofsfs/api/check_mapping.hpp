// check_mapping() (L6): does every offset of a file map, as the kernel maps it?
//
// Reading a file extent by extent (fsck, extract, cat) only ever maps extent starts. The kernel
// maps page by page, so it also decodes the index entries in the middle of an extent: a
// NONHEAD lcluster whose lookback distance is 0 reads fine from its extent start and fails in
// a mount. check_mapping() decodes every index entry of a file (every lcluster of a compressed
// file, every chunk of a chunk-based one) and applies the rules a lookup at any offset inside
// it would, in one forward pass: cost O(index entries), memory O(1).
#pragma once

#include <cstdint>
#include <optional>

#include "../base/error.hpp"
#include "../core/image.hpp"
#include "../format/compressed_index.hpp"
#include "../format/inode.hpp"
#include "../format/layout.hpp"
#include "../map/compressed_map.hpp"
#include "../map/extent.hpp"
#include "../map/map_extent.hpp"

namespace erofsfs {

// Which kind of index entry a mapping problem is about.
enum class index_entry : std::uint8_t {
  none,      // the file as a whole (flat layouts, 16/32-byte extent records, the map header)
  lcluster,  // an lcluster index entry (full or compact), or a 4/8-byte extent record
  chunk,     // a block-map entry or chunk index
};

inline constexpr const char* index_entry_name(index_entry k) noexcept {
  switch (k) {
    case index_entry::lcluster:
      return "lcluster";
    case index_entry::chunk:
      return "chunk";
    case index_entry::none:
      break;
  }
  return "extent";
}

// The first entry of a file that does not map.
struct mapping_problem {
  index_entry entry = index_entry::none;
  std::uint64_t index = 0;   // lcluster or chunk number (entry != none)
  std::uint64_t offset = 0;  // a file offset whose lookup fails
  error err;
};

namespace detail {

// Maps [from, to) extent by extent; every lookup is the one a read at that offset would make.
// Bounded: map_extent() returns an extent containing its offset, so each pass advances.
inline std::optional<mapping_problem> map_range(const image& img, const inode& ino,
                                                std::uint64_t from, std::uint64_t to, index_entry k,
                                                std::uint64_t index) noexcept {
  for (std::uint64_t pos = from; pos < to;) {
    auto e = map_extent(img, ino, pos);
    if (!e) return mapping_problem{k, index, pos, e.error()};
    pos = e->end();
  }
  return std::nullopt;
}

// §7: every block-map entry or chunk index, and every device region a chunk spans. The entries
// are read one by one; the array must lie in the image, so a file claiming more chunks than
// the image could hold stops at the first entry past its end.
inline std::optional<mapping_problem> check_chunks(const image& img, const inode& ino) noexcept {
  const std::uint64_t count = layout::chunk_count(ino.size, ino.chunkbits);
  for (std::uint64_t c = 0; c < count; ++c) {        // bounded: count, and by the image size
    const std::uint64_t start = c << ino.chunkbits;  // < size: no overflow
    const std::uint64_t left = ino.size - start;
    const std::uint64_t len = std::uint64_t{1} << ino.chunkbits;
    if (auto p =
            map_range(img, ino, start, start + (left < len ? left : len), index_entry::chunk, c))
      return p;
  }
  return std::nullopt;
}

// §12.4-§12.6: lcluster indexes. One forward pass keeps the nearest HEAD-type lcluster seen
// (`head`) and the end of the extent that starts there (`extent_end`, from a lookup at the
// head, as a read from the extent start makes it). For every entry:
//   - it decodes (full: clusterofs inside the lcluster, CBLKCNT only with big pclusters;
//     compact: the pack's bit fields);
//   - lcluster 0 is a HEAD starting at offset 0 (what the kernel requires of offset 0);
//   - a NONHEAD's lookback distance is not 0 and leads no further back than `head`: the
//     kernel follows delta0 from any offset in the lcluster, and a chain that stops elsewhere
//     is "bogus lookback distance" (or, if it passes `head`, maps a different extent than an
//     extent walk does: reported as well, since a page read and a sequential read disagree);
//   - the bytes before a HEAD's clusterofs belong to the previous extent: lookback distance 1;
//   - no lookback spans more than the longest extent the kernel decodes;
//   - extents start exactly at HEADs: the previous extent ends at each HEAD's position, and no
//     extent runs over a HEAD.
inline std::optional<mapping_problem> check_lclusters(const image& img, const inode& ino) noexcept {
  const z_info& z = ino.z;
  const unsigned lbits = z.lclusterbits;
  const std::uint64_t lsize = std::uint64_t{1} << lbits;
  const std::uint64_t lclusters = ((ino.size - 1) >> lbits) + 1;  // size > 0
  // z_lookback()'s limit: a target more than this many lclusters back is refused.
  const std::uint64_t max_back = (z_max_walk + lsize) >> lbits;
  const index_entry k = index_entry::lcluster;
  std::uint64_t head = 0, extent_end = 0;
  for (std::uint64_t lcn = 0; lcn < lclusters; ++lcn) {  // bounded: lclusters, one load each
    const std::uint64_t at = lcn << lbits;               // < size: no overflow
    z_recorder m;
    if (auto s = z_load(img, ino, m, lcn, false); !s) return mapping_problem{k, lcn, at, s.error()};
    if (m.type == disk::z_lcluster_type_nonhead) {
      const std::uint32_t d = m.delta0;
      if (d == 0 || d > lcn)
        return mapping_problem{k, lcn, at,
                               corrupted(what::bogus_lcluster_lookback_distance,
                                         {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
      if (lcn - d < head)
        return mapping_problem{k, lcn, at,
                               corrupted(what::lcluster_lookback_passes_a_head,
                                         {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
      if (lcn - head > max_back)
        return mapping_problem{k, lcn, at,
                               unsupported(what::compressed_extent_longer_than_12_mib,
                                           {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
      continue;
    }
    // A HEAD-type lcluster (PLAIN, HEAD1, HEAD2).
    const std::uint64_t start = at | m.clusterofs;
    if (lcn == 0 && start != 0)
      return mapping_problem{k, lcn, at,
                             corrupted(what::lcluster_0_does_not_start_an_extent,
                                       {.nid = ino.nid, .offset = z.header_pos, .value = 0})};
    if (m.clusterofs != 0 && lcn - head > max_back)
      return mapping_problem{k, lcn, at,
                             unsupported(what::compressed_extent_longer_than_12_mib,
                                         {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
    if (start >= ino.size) continue;  // its lcluster's bytes all belong to the previous extent
    if (lcn != 0 && extent_end != start)
      return mapping_problem{
          k, lcn, start,
          corrupted(extent_end < start ? what::compressed_extents_overlap
                                       : what::compressed_extent_runs_over_a_head_lcluster,
                    {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
    head = lcn;
    auto e = map_extent(img, ino, start);
    if (!e) return mapping_problem{k, lcn, start, e.error()};
    if (e->logical != start)
      return mapping_problem{k, lcn, start,
                             corrupted(what::compressed_extents_overlap,
                                       {.nid = ino.nid, .offset = z.header_pos, .value = lcn})};
    extent_end = e->end();
  }
  if (extent_end != ino.size)  // the last extent ends where the file does (it is cut there)
    return mapping_problem{
        k, lclusters - 1, extent_end,
        corrupted(what::compressed_extents_overlap,
                  {.nid = ino.nid, .offset = z.header_pos, .value = extent_end})};
  return std::nullopt;
}

// §12.13, 4-byte records, one per lcluster: a lookup of lcluster k sums the pclusters of the
// k records before it (as Linux does), so looking each one up would cost O(k^2). One pass
// keeps the running sum and makes, for every record, exactly the lookup map_extent() would.
inline result<extent> record4_extent(const image& img, const inode& ino, std::uint64_t at,
                                     std::uint64_t k, std::uint64_t pa,
                                     std::uint64_t plen_raw) noexcept {
  std::uint64_t lstart, lend;
  bool last;
  EROFSFS_TRY(z_lcluster_record_span(ino, k, lstart, lend, last));
  EROFSFS_TRY_ASSIGN(const z_map m, z_record_map(img, ino, at, lstart, lend, last, plen_raw, pa));
  EROFSFS_TRY_ASSIGN(const extent e, z_extent_of(img, ino, m));
  if (e.logical > at || e.end() <= at || e.end() < e.logical)
    return corrupted(what::mapped_extent_does_not_cover_the_offset,
                     {.nid = ino.nid, .offset = ino.pos, .value = at});
  return e;
}

inline std::optional<mapping_problem> check_records4(const image& img, const inode& ino) noexcept {
  const index_entry k = index_entry::lcluster;
  auto pos = z_records_pos(ino);
  if (!pos) return mapping_problem{index_entry::none, 0, 0, pos.error()};
  const unsigned lbits = ino.z.lclusterbits;
  const std::uint64_t lclusters = ((ino.size - 1) >> lbits) + 1;
  std::optional<mapping_problem> problem;
  std::uint64_t next = 0;  // the record being read when the walk itself fails
  const status st = z_walk_records4(img, ino, *pos, lclusters - 1,
                                    [&](std::uint64_t j, std::uint64_t pa, std::uint64_t plen) {
                                      next = j + 1;
                                      const std::uint64_t at = j << lbits;  // < size: no overflow
                                      auto e = record4_extent(img, ino, at, j, pa, plen);
                                      if (!e) problem = mapping_problem{k, j, at, e.error()};
                                      return e.has_value();
                                    });
  if (!st) return mapping_problem{k, next, next << lbits, st.error()};
  return problem;
}

}  // namespace detail

// Checks every index entry of `ino` (read_inode()'s result) the way a lookup at any offset of
// the file would use it. nullopt: every offset maps; otherwise the first entry that does not,
// with the error a read there gets (or a stricter one where a page-sized read and an extent
// walk would see different extents). Directories, symlinks and regular files are checked;
// other inodes have no data.
inline std::optional<mapping_problem> check_mapping(const image& img, const inode& ino) noexcept {
  if (!ino.has_data() || ino.size == 0) return std::nullopt;
  switch (ino.layout) {
    case data_layout::flat_plain:
    case data_layout::flat_inline:
      return detail::map_range(img, ino, 0, ino.size, index_entry::none, 0);
    case data_layout::chunk_based:
      return detail::check_chunks(img, ino);
    case data_layout::compressed_full:
    case data_layout::compressed_compact:
      break;
  }
  const z_info& z = ino.z;
  if (!z.ready)
    return mapping_problem{
        index_entry::none, 0, 0,
        make_error(errc::invalid_argument, what::compressed_inode_not_prepared_by_zmap_init,
                   {.nid = ino.nid})};
  // The whole file in the packed inode: the kernel never reads an index entry.
  const bool whole_fragment =
      z.whole_fragment || ((z.advise & disk::z_advise_fragment_pcluster) && z.tail_head_lcn == 0);
  if (whole_fragment) return detail::map_range(img, ino, 0, ino.size, index_entry::none, 0);
  // Encoded extent records: each record is an extent, so an extent walk reads them all.
  switch (z.extent_recsz) {
    case 0:
      return detail::check_lclusters(img, ino);
    case 4:
      return detail::check_records4(img, ino);
    case 8: {  // one record per lcluster, each found directly
      const std::uint64_t lclusters = ((ino.size - 1) >> z.lclusterbits) + 1;
      for (std::uint64_t lcn = 0; lcn < lclusters; ++lcn) {  // bounded: lclusters
        const std::uint64_t at = lcn << z.lclusterbits;
        auto e = map_extent(img, ino, at);
        if (!e) return mapping_problem{index_entry::lcluster, lcn, at, e.error()};
      }
      return std::nullopt;
    }
    default:
      return detail::map_range(img, ino, 0, ino.size, index_entry::none, 0);
  }
}

}  // namespace erofsfs
