// Reading file data (L6): map, resolve, fetch, decode. read() is the general entry point;
// read_extent() skips the mapping for callers that hold the extent; read_view()
// avoids the copy when the bytes already sit contiguously in memory; read_all() and read_link()
// are the bounded whole-file conveniences.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../map/extent.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../map/map_extent.hpp"
#include "../decode/read_context.hpp"
#include "../decode/decode_extent.hpp"

namespace erofsfs {

namespace detail {

// File bytes [pos, pos + out.size()) that lie inside extent `ext`.
inline status read_from_extent(const image& img, const inode& ino, const extent& ext,
                               std::uint64_t pos, mutable_bytes out, read_context& ctx) noexcept {
  const std::uint64_t rel = pos - ext.logical;
  switch (ext.kind) {
    case extent_kind::hole:
      std::memset(out.data(), 0, out.size());
      return {};
    case extent_kind::mapped:
      return detail::core(img).read_device({ext.device, ext.physical + rel}, out, ino.nid);
    case extent_kind::inline_data:
      return detail::core(img).read_meta(ext.physical + rel, out, (ext.flags & extent_flags::in_metabox) != 0,
                           ino.nid);
    case extent_kind::encoded:
      return read_encoded(img, ino, ext, pos, out, ctx);
    case extent_kind::fragment: {
      // The packed inode never has fragments itself (checked at open), so this recursion is
      // one level deep.
      const inode* packed = img.packed_inode();
      if (!packed)
        return corrupted(what::fragment_extent_without_a_packed_inode,
                         {.nid = ino.nid, .offset = ino.pos});
      std::uint64_t at;
      if (!checked_add(ext.physical, rel, at) || !in_bounds(at, out.size(), packed->size))
        return corrupted(what::fragment_beyond_the_packed_inode,
                         {.nid = ino.nid, .offset = ino.pos, .value = ext.physical});
      std::uint64_t done = 0;
      while (done < out.size()) {  // bounded: each step consumes >= 1 byte of a packed extent
        EROFSFS_TRY_ASSIGN(const extent pe, map_extent(img, *packed, at + done));
        if (pe.kind == extent_kind::fragment)
          return corrupted(what::packed_inode_refers_to_a_fragment,
                           {.nid = packed->nid, .offset = packed->pos});
        const std::uint64_t n = std::min<std::uint64_t>(out.size() - done, pe.end() - (at + done));
        EROFSFS_TRY(read_from_extent(img, *packed, pe, at + done, out.subspan(done, n), ctx));
        done += n;
      }
      return {};
    }
  }
  return make_error(errc::internal, what::unhandled_extent_kind, {.nid = ino.nid});
}

}  // namespace detail

// Reads up to out.size() bytes at file offset `offset`. Returns the bytes read: fewer only at
// end of file (0 at or past it).
inline result<std::size_t> read(const image& img, const inode& ino, std::uint64_t offset,
                                mutable_bytes out, read_context& ctx) noexcept {
  if (!ino.has_data())
    return make_error(errc::invalid_argument, what::inode_type_has_no_data, {.nid = ino.nid});
  if (offset >= ino.size) return std::size_t{0};
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), ino.size - offset));
  std::size_t done = 0;
  while (done < n) {  // bounded: every pass consumes >= 1 byte (map_extent covers pos)
    const std::uint64_t pos = offset + done;
    EROFSFS_TRY_ASSIGN(const extent ext, map_extent(img, ino, pos));
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - done, ext.end() - pos));
    EROFSFS_TRY(detail::read_from_extent(img, ino, ext, pos, out.subspan(done, take), ctx));
    done += take;
  }
  return n;
}

// File bytes [pos, pos + out.size()) of `ext`, an extent of `ino` that the caller mapped
// (map_extent, extent_iterator): read() without mapping the offset again, for walks that
// already hold the file's extents. The span must lie inside the extent.
inline status read_extent(const image& img, const inode& ino, const extent& ext,
                          std::uint64_t pos, mutable_bytes out, read_context& ctx) noexcept {
  if (!ext.holds(pos, out.size()))
    return make_error(errc::invalid_argument, what::read_outside_the_extent,
                      {.nid = ino.nid, .offset = pos});
  if (out.empty()) return {};
  return detail::read_from_extent(img, ino, ext, pos, out, ctx);
}

// File bytes [offset, offset + len) (clipped at end of file) as a view: in place when they are
// stored uncompressed in one piece of a contiguous source, otherwise read into `scratch`. The
// view is valid until `scratch` changes (or the image goes away).
inline result<bytes_view> read_view(const image& img, const inode& ino, std::uint64_t offset,
                                    std::size_t len, std::vector<std::byte>& scratch,
                                    read_context& ctx) {
  if (!ino.has_data())
    return make_error(errc::invalid_argument, what::inode_type_has_no_data, {.nid = ino.nid});
  if (offset >= ino.size) return bytes_view{};
  len = static_cast<std::size_t>(std::min<std::uint64_t>(len, ino.size - offset));
  EROFSFS_TRY_ASSIGN(const extent ext, map_extent(img, ino, offset));
  if (ext.end() - offset >= len) {
    const std::uint64_t rel = offset - ext.logical;
    if (ext.kind == extent_kind::mapped) {
      const bytes_view v = detail::core(img).view_device({ext.device, ext.physical + rel}, len);
      if (v.size() == len) return v;
    } else if (ext.kind == extent_kind::inline_data) {
      std::vector<std::byte> unused;  // stays empty: only reached for in-place metadata
      if ((ext.flags & extent_flags::in_metabox) || img.primary().contiguous())
        return detail::core(img).view_meta(ext.physical + rel, len, (ext.flags & extent_flags::in_metabox) != 0,
                             unused, ino.nid);
    }
  }
  scratch.resize(len);
  EROFSFS_TRY(read(img, ino, offset, scratch, ctx));
  return bytes_view(scratch.data(), len);
}

// The whole file into `out` (replacing its contents), refusing files above limits::max_read_all.
inline status read_all(const image& img, const inode& ino, std::vector<std::byte>& out,
                       read_context& ctx) {
  if (ino.size > img.lim().max_read_all)
    return make_error(errc::limit_exceeded, what::file_larger_than_limits_max_read_all,
                      {.nid = ino.nid, .value = ino.size});
  out.resize(static_cast<std::size_t>(ino.size));
  EROFSFS_TRY(read(img, ino, 0, out, ctx));
  return {};
}

// The target of symlink `ino`. Linux refuses empty targets and targets with NUL bytes (7.0), and
// cannot return targets of PATH_MAX or more.
inline result<std::string> read_link(const image& img, const inode& ino, read_context& ctx) {
  if (!ino.is_symlink())
    return make_error(errc::not_a_symlink, what::not_a_symlink, {.nid = ino.nid});
  if (ino.size == 0)
    return corrupted(what::empty_symlink_target, {.nid = ino.nid, .offset = ino.pos});
  if (ino.size > img.lim().max_symlink_size)
    return corrupted(what::symlink_target_longer_than_path_max_1,
                     {.nid = ino.nid, .offset = ino.pos, .value = ino.size});
  std::string target(static_cast<std::size_t>(ino.size), '\0');
  EROFSFS_TRY(read(img, ino, 0, std::as_writable_bytes(std::span(target)), ctx));
  if (target.find('\0') != std::string::npos)
    return corrupted(what::symlink_target_contains_a_nul_byte, {.nid = ino.nid, .offset = ino.pos});
  return target;
}

}  // namespace erofsfs
