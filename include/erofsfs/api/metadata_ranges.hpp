// Where an image's metadata lives (L6): every byte range a reader needs besides file contents,
// so a lazy-loading daemon can prefetch it. Linux reads these ranges through the backing
// device's page cache (no fanotify pre-content events, no fscache data requests for them once
// present); directory, packed-inode and metabox data go through inode page caches like file
// data, so they are reported with kinds of their own and a daemon decides what to prefetch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_set>
#include <vector>

#include "../base/error.hpp"
#include "../map/extent.hpp"
#include "../map/extent_iterator.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../format/compressed_index.hpp"
#include "../format/layout.hpp"
#include "../map/map_extent.hpp"
#include "walk.hpp"
#include "xattr.hpp"

namespace erofsfs {

enum class metadata_kind : std::uint8_t {
  superblock,          // the superblock's block, with the compression config records
  device_table,
  long_xattr_prefixes,
  inode,               // the on-disk inode
  inline_xattrs,       // the inode's xattr area
  shared_xattr,        // one shared xattr entry
  inline_data,         // a FLAT_INLINE tail
  chunk_indexes,       // a chunk-based inode's block map / chunk index array
  compressed_indexes,  // a compressed inode's map header and lcluster indexes / extent records
  inline_pcluster,     // a ztailpacking inline pcluster
  directory_data,      // the data blocks (or pclusters) of a directory
  symlink_data,        // the data blocks of a symlink whose target is not inline
  metabox_data,        // pclusters of the metabox inode (holds inodes of metabox images)
  packed_data,         // pclusters of the packed inode (fragments, maybe xattr prefixes)
  mixed,               // merged ranges of several kinds
};

inline constexpr const char* metadata_kind_name(metadata_kind k) noexcept {
  switch (k) {
    case metadata_kind::superblock: return "superblock";
    case metadata_kind::device_table: return "device_table";
    case metadata_kind::long_xattr_prefixes: return "long_xattr_prefixes";
    case metadata_kind::inode: return "inode";
    case metadata_kind::inline_xattrs: return "inline_xattrs";
    case metadata_kind::shared_xattr: return "shared_xattr";
    case metadata_kind::inline_data: return "inline_data";
    case metadata_kind::chunk_indexes: return "chunk_indexes";
    case metadata_kind::compressed_indexes: return "compressed_indexes";
    case metadata_kind::inline_pcluster: return "inline_pcluster";
    case metadata_kind::directory_data: return "directory_data";
    case metadata_kind::symlink_data: return "symlink_data";
    case metadata_kind::metabox_data: return "metabox_data";
    case metadata_kind::packed_data: return "packed_data";
    case metadata_kind::mixed: return "mixed";
  }
  return "unknown";
}

struct metadata_range {
  std::uint16_t device = 0;  // 0: primary device; i: extra device i
  std::uint64_t offset = 0;  // bytes on that device
  std::uint64_t length = 0;
  metadata_kind kind = metadata_kind::mixed;
  std::uint64_t nid = error::unknown;  // the inode it belongs to, if any
};

namespace detail {

template <class Fn>
status emit_extents(const image& img, const inode& ino, metadata_kind kind, Fn& fn) {
  extent_iterator it(img, ino);
  extent e;
  while (true) {  // bounded: the iterator advances through the file
    EROFSFS_TRY_ASSIGN(const bool more, it.next(e));
    if (!more) return {};
    if ((e.kind == extent_kind::mapped || e.kind == extent_kind::encoded) &&
        !(e.flags & (extent_flags::in_metadata | extent_flags::in_metabox)))
      fn(metadata_range{e.device, e.physical, e.physical_length, kind, ino.nid});
  }
}

// The metadata of one inode: the inode, its xattrs, and what its layout keeps beside it.
template <class Fn>
status emit_inode(const image& img, const inode& ino, Fn& fn) {
  const std::uint64_t nid = ino.nid;
  // Inodes in the metabox are covered by the metabox's own pclusters.
  if (!ino.in_metabox) {
    fn(metadata_range{0, ino.pos, ino.isize, metadata_kind::inode, nid});
    if (ino.xattr_isize)
      fn(metadata_range{0, ino.pos + ino.isize, ino.xattr_isize, metadata_kind::inline_xattrs, nid});
  }
  EROFSFS_TRY(for_each_xattr(img, ino, [&](const raw_xattr& x) -> status {
    if (x.shared && !img.sb().has_compat(disk::compat_shared_ea_in_metabox))
      fn(metadata_range{0, x.pos,
                        layout::xattr_entry_size(static_cast<std::uint8_t>(x.suffix.size()),
                                                 static_cast<std::uint16_t>(x.value.size())),
                        metadata_kind::shared_xattr, nid});
    return {};
  }));
  if (!ino.has_data() || ino.in_metabox) return {};
  const unsigned bits = img.blkszbits();
  switch (ino.layout) {
    case data_layout::flat_plain: break;
    case data_layout::flat_inline:
      if (ino.size)
        fn(metadata_range{0, ino.tail_area_pos(), layout::inline_tail_length(ino.size, bits),
                          metadata_kind::inline_data, nid});
      break;
    case data_layout::chunk_based: {
      std::uint64_t pos, len;
      if (!layout::chunk_array_span(ino.tail_area_pos(), ino.chunk_format, ino.size,
                                    ino.chunkbits, pos, len))
        return corrupted(what::chunk_index_array_overflows, {.nid = nid, .offset = ino.pos});
      fn(metadata_range{0, pos, len, metadata_kind::chunk_indexes, nid});
      break;
    }
    case data_layout::compressed_full:
    case data_layout::compressed_compact: {
      std::uint64_t pos, len;
      if (!compressed_index_span(ino.z, ino.layout, ino.size, img.blkszbits(), pos, len))
        return corrupted(what::compressed_index_span_overflows, {.nid = nid, .offset = ino.pos});
      fn(metadata_range{0, pos, len, metadata_kind::compressed_indexes, nid});
      if (ino.z.idata_size)
        fn(metadata_range{0, ino.z.inline_pos, ino.z.idata_size, metadata_kind::inline_pcluster,
                          nid});
      break;
    }
  }
  return {};
}

}  // namespace detail

// Calls `fn(const metadata_range&)` for every metadata range of the image, walking the whole
// tree (each inode once, however many links it has). Ranges may repeat or overlap (shared
// xattrs, inodes packed into one block); merge_metadata_ranges() normalises them.
template <class Fn>
status for_each_metadata_range(const image& img, read_context& ctx, Fn&& fn) {
  const superblock& sb = img.sb();
  const std::uint64_t bs = img.block_size();
  {
    std::uint64_t end = disk::super_offset + sb.sb_size + sb.compression_records_size;
    end = (end + bs - 1) & ~(bs - 1);
    fn(metadata_range{0, 0, end, metadata_kind::superblock});
  }
  if (sb.extra_devices)
    fn(metadata_range{0, device_table_offset(sb), device_table_size(sb),
                      metadata_kind::device_table});
  const bool plain_prefixes = sb.has_compat(disk::compat_plain_xattr_pfx) ||
                              (!sb.has_metabox() && !img.packed_inode());
  if (!img.long_prefixes().empty() && plain_prefixes) {
    std::uint64_t pos = std::uint64_t{sb.xattr_prefix_start} * 4;
    const std::uint64_t start = pos;
    for (const auto& p : img.long_prefixes())  // bounded: at most 128 prefixes
      pos = layout::long_prefix_record_start(pos) +
            layout::long_prefix_record_size(static_cast<std::uint16_t>(1 + p.infix.size()));
    fn(metadata_range{0, start, pos - start, metadata_kind::long_xattr_prefixes});
  }
  if (const inode* packed = img.packed_inode()) {
    EROFSFS_TRY(detail::emit_inode(img, *packed, fn));
    EROFSFS_TRY(detail::emit_extents(img, *packed, metadata_kind::packed_data, fn));
  }
  if (sb.has_metabox()) {
    EROFSFS_TRY_ASSIGN(const inode box, read_inode(img, sb.metabox_nid));
    EROFSFS_TRY(detail::emit_inode(img, box, fn));
    EROFSFS_TRY(detail::emit_extents(img, box, metadata_kind::metabox_data, fn));
  }
  std::unordered_set<std::uint64_t> seen;
  return walk(img, ctx, [&](const walk_entry& e) -> status {
    if (!seen.insert(e.ino.nid).second) return {};
    EROFSFS_TRY(detail::emit_inode(img, e.ino, fn));
    if (e.ino.is_dir())
      EROFSFS_TRY(detail::emit_extents(img, e.ino, metadata_kind::directory_data, fn));
    if (e.ino.is_symlink())
      EROFSFS_TRY(detail::emit_extents(img, e.ino, metadata_kind::symlink_data, fn));
    return {};
  });
}

// Sorts ranges by (device, offset) and merges overlapping or touching ones; merged ranges of
// different kinds become metadata_kind::mixed.
inline void merge_metadata_ranges(std::vector<metadata_range>& r) {
  std::sort(r.begin(), r.end(), [](const metadata_range& a, const metadata_range& b) {
    return a.device != b.device ? a.device < b.device : a.offset < b.offset;
  });
  std::size_t out = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r[i].length == 0) continue;
    if (out > 0 && r[out - 1].device == r[i].device &&
        r[i].offset <= r[out - 1].offset + r[out - 1].length) {
      metadata_range& m = r[out - 1];
      const std::uint64_t end = std::max(m.offset + m.length, r[i].offset + r[i].length);
      if (m.kind != r[i].kind || m.nid != r[i].nid) {
        m.kind = metadata_kind::mixed;
        m.nid = error::unknown;
      }
      m.length = end - m.offset;
    } else {
      r[out++] = r[i];
    }
  }
  r.resize(out);
}

// Every metadata range of the image, merged.
inline result<std::vector<metadata_range>> metadata_ranges(const image& img, read_context& ctx) {
  std::vector<metadata_range> r;
  EROFSFS_TRY(for_each_metadata_range(img, ctx, [&](const metadata_range& m) { r.push_back(m); }));
  merge_metadata_ranges(r);
  return r;
}

}  // namespace erofsfs
