// The compressed-file mapper (L4), spec §12: lcluster indexes (full and compact), big
// pclusters, ztailpacking, fragments, dedupe and encoded extents.
#pragma once

#include <cstdint>

#include "error.hpp"
#include "extent.hpp"
#include "image.hpp"
#include "inode.hpp"

namespace erofsfs {

// Decodes the map header of a compressed inode into ino.z.
inline status zmap_init(const image& img, inode& ino) noexcept {
  (void)img;
  return unsupported("compressed files are not implemented yet", ino.nid, ino.pos);
}

// The extent of compressed inode `ino` containing `offset`.
inline result<extent> zmap_extent(const image& img, const inode& ino, std::uint64_t offset) noexcept {
  (void)img;
  (void)offset;
  return unsupported("compressed files are not implemented yet", ino.nid, ino.pos);
}

}  // namespace erofsfs
