// Reading encoded extents (L6): fetch the pcluster, strip the 0-padding, decode through the
// image's decompressor table, serve from the read_context's one-extent cache.
#pragma once

#include <cstdint>

#include "error.hpp"
#include "extent.hpp"
#include "image.hpp"
#include "inode.hpp"
#include "read_context.hpp"

namespace erofsfs::detail {

// Copies file bytes [pos, pos + out.size()) of encoded extent `ext` into `out`.
inline status read_encoded(const image& img, const inode& ino, const extent& ext,
                           std::uint64_t pos, mutable_bytes out, read_context& ctx) noexcept {
  (void)img;
  (void)ext;
  (void)pos;
  (void)out;
  (void)ctx;
  return unsupported("compressed files are not implemented yet", ino.nid, ino.pos);
}

}  // namespace erofsfs::detail
