// FIEMAP-like iteration over all extents of a file (L6): map_extent() from offset 0 to the end,
// with neighbours merged when they continue each other (consecutive chunks of one device,
// adjacent holes), as Linux 7.2 merges chunk mappings.
#pragma once

#include <cstdint>

#include "../base/error.hpp"
#include "extent.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "map_extent.hpp"

namespace erofsfs {

class extent_iterator {
 public:
  extent_iterator(const image& img, const inode& ino) noexcept : img_(&img), ino_(ino) {}

  // Next extent into `out`; false once the whole file was covered.
  result<bool> next(extent& out) noexcept {
    extent cur;
    if (has_pending_) {  // the neighbour that ended the previous merge starts this extent
      cur = pending_;
      has_pending_ = false;
    } else {
      if (!ino_.has_data() || pos_ >= ino_.size) return false;
      EROFSFS_TRY_ASSIGN(const extent first, fetch(pos_));
      cur = first;
    }
    // Bounded: every fetch advances pos_ by at least one byte (fetch checks coverage).
    while (pos_ < ino_.size) {
      EROFSFS_TRY_ASSIGN(const extent nxt, fetch(pos_));
      if (!continues(cur, nxt)) {
        pending_ = nxt;
        has_pending_ = true;
        break;
      }
      cur.length += nxt.length;
      cur.physical_length += nxt.physical_length;
    }
    out = cur;
    return true;
  }

 private:
  result<extent> fetch(std::uint64_t at) noexcept {
    EROFSFS_TRY_ASSIGN(const extent e, map_extent(*img_, ino_, at));
    if (e.logical != at || e.length == 0 || e.end() < e.logical) {
      // Compressed indexes can claim an extent end that the next lookup contradicts.
      if (ino_.is_compressed() && e.logical < at && e.end() > at)
        return corrupted(what::compressed_extents_overlap, {.nid = ino_.nid, .value = at});
      return make_error(errc::internal, what::mapper_returned_an_extent_not_starting_at_the_offset,
                        {.nid = ino_.nid, .value = at});
    }
    pos_ = e.end();
    return e;
  }

  static bool continues(const extent& a, const extent& b) noexcept {
    if (a.kind != b.kind || a.end() != b.logical || a.flags != b.flags) return false;
    if (a.kind == extent_kind::hole) return true;
    return a.kind == extent_kind::mapped && a.device == b.device &&
           a.physical + a.length == b.physical;
  }

  const image* img_;
  inode ino_;
  std::uint64_t pos_ = 0;
  extent pending_{};
  bool has_pending_ = false;
};

}  // namespace erofsfs
