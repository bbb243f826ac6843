// Reading encoded extents (L6): fetch the pcluster, strip the 0-padding, decode through the
// image's decompressor table, serve from the read_context's one-extent cache or from the
// decoded_cache the context shares with other readers.
//
// An extent is always decoded whole (at most 12 MiB) into the cache, so a sequential reader
// decodes each pcluster once, and a read in the middle of a file decodes only the pclusters of
// the extents it touches.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "decompressor.hpp"
#include "../base/error.hpp"
#include "../map/extent.hpp"
#include "../format/disk.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "decoded_cache.hpp"
#include "read_context.hpp"

namespace erofsfs::detail {

// The pcluster bytes of `ext`: in place when the source allows, otherwise in ctx.encoded.
inline result<bytes_view> fetch_pcluster(const image& img, const inode& ino, const extent& ext,
                                         read_context& ctx) noexcept {
  const std::size_t len = static_cast<std::size_t>(ext.physical_length);
  if (ext.flags & extent_flags::in_metadata)
    return detail::core(img).view_meta(ext.physical, len, (ext.flags & extent_flags::in_metabox) != 0,
                         ctx.encoded, ino.nid);
  const bytes_view v = detail::core(img).view_device({ext.device, ext.physical}, len);
  if (v.size() == len && len != 0) return v;
  ctx.encoded.resize(len);
  EROFSFS_TRY(detail::core(img).read_device({ext.device, ext.physical}, ctx.encoded, ino.nid));
  return bytes_view(ctx.encoded.data(), len);
}

// Interlaced plain data (§12.9), the way Linux's z_erofs_transform_plain() copies it: the
// extent's bytes up to the end of its first block come from the last bytes of the pcluster,
// the rest from the pcluster's start. When the pcluster is shorter than that first part (an
// inline tail of a few bytes, which mkfs 1.8/1.9 can write, see README "Known issues"), Linux
// takes the first part from elsewhere in the same 4 KiB page; we reproduce that so that readers
// see what a mounted image shows.
inline status untangle_interlaced(const image& img, const inode& ino, const extent& ext,
                                  bytes_view in, mutable_bytes out) noexcept {
  const std::uint64_t bs = img.block_size();
  const std::uint64_t llen = out.size();
  const std::uint64_t plen = in.size();
  if (llen > plen)
    return unsupported(what::plain_extent_longer_than_its_pcluster,
                       {.nid = ino.nid, .offset = ext.physical, .value = llen});
  const std::uint64_t s = bs - (ext.logical & (bs - 1));
  const std::uint64_t head = s < llen ? s : llen;
  if (plen >= s) {
    if (head) std::memcpy(out.data(), in.data() + (plen - s), static_cast<std::size_t>(head));
  } else if (head) {
    constexpr std::uint64_t page = 4096;
    const std::uint64_t base = ext.physical;
    const std::uint64_t wraps = (s / page + 1) * page;  // keeps the sum below non-negative
    const std::uint64_t at = round_down(base, page) + ((base % page) + plen + wraps - s) % page;
    const mutable_bytes first = out.subspan(0, static_cast<std::size_t>(head));
    if (ext.flags & extent_flags::in_metadata)
      EROFSFS_TRY(detail::core(img).read_meta(at, first, (ext.flags & extent_flags::in_metabox) != 0, ino.nid));
    else
      EROFSFS_TRY(detail::core(img).read_device({ext.device, at}, first, ino.nid));
  }
  if (llen > head)
    std::memcpy(out.data() + head, in.data(), static_cast<std::size_t>(llen - head));
  return {};
}

// Decodes the whole of encoded extent `ext` (ext.length bytes, checked by the caller to be at
// most 12 MiB) into `out`; ctx.encoded may hold the pcluster.
inline status decode_into(const image& img, const inode& ino, const extent& ext,
                          read_context& ctx, mutable_bytes out) noexcept {
  EROFSFS_TRY_ASSIGN(const bytes_view pcl, fetch_pcluster(img, ino, ext, ctx));
  if (ext.flags & extent_flags::interlaced) {
    EROFSFS_TRY(untangle_interlaced(img, ino, ext, pcl, out));
  } else {
    const std::uint8_t alg = ext.algorithm;
    if (alg >= disk::compression_max)
      return unsupported(what::unknown_compression_algorithm,
                         {.nid = ino.nid, .offset = ext.physical, .value = alg});
    bytes_view in = pcl;
    bool partial = (ext.flags & extent_flags::partial_ref) != 0;
    if (alg == disk::compression_lz4 && !img.sb().has_incompat(disk::incompat_lz4_0padding)) {
      // Pre-1.0 LZ4 images: the block starts at the pcluster start and may be followed by
      // garbage, so only partial decoding can tell where it ends (compression.md §2.1).
      partial = true;
    } else {
      // The stream is right-aligned; Linux looks for its first byte in the first block only.
      const std::uint64_t bs = img.block_size();
      const std::uint64_t first_block = bs - (ext.physical & (bs - 1));
      const std::size_t scan =
          static_cast<std::size_t>(first_block < in.size() ? first_block : in.size());
      std::size_t k = 0;
      while (k < scan && in[k] == std::byte{0}) ++k;
      if (k == scan)
        return corrupted(what::compressed_pcluster_begins_with_a_block_of_zeros,
                         {.nid = ino.nid, .offset = ext.physical, .value = ext.physical_length});
      in = in.subspan(k);
    }
    const decompressor_ref d =
        img.decompressors() ? img.decompressors()->get(alg) : decompressor_ref{};
    if (!d)
      return unsupported(alg == disk::compression_lz4       ? "no lz4 decompressor configured"
                         : alg == disk::compression_lzma    ? "no lzma decompressor configured"
                         : alg == disk::compression_deflate ? "no deflate decompressor configured"
                                                            : "no zstd decompressor configured",
                         {.nid = ino.nid, .offset = ext.physical, .value = alg});
    decode_request req;
    req.in = in;
    req.out = out;
    req.partial = partial;
    req.algorithm = alg;
    req.config = &img.sb().compression;
    if (std::error_code ec = d.decode(req))
      return make_error(ec, what::decoding_a_pcluster,
                        {.nid = ino.nid, .offset = ext.physical, .value = alg});
  }
  return {};
}

inline status check_extent_length(const inode& ino, const extent& ext) noexcept {
  if (ext.length > disk::pcluster_max_dsize)
    return unsupported(what::compressed_extent_longer_than_12_mib,
                       {.nid = ino.nid, .offset = ext.physical, .value = ext.length});
  return {};
}

// Decodes the whole of encoded extent `ext` into ctx.decoded.
inline status decode_extent(const image& img, const inode& ino, const extent& ext,
                            read_context& ctx) noexcept {
  EROFSFS_TRY(check_extent_length(ino, ext));
  ctx.decoded_for = {};
  ctx.decoded.resize(static_cast<std::size_t>(ext.length));
  EROFSFS_TRY(decode_into(img, ino, ext, ctx,
                          mutable_bytes(ctx.decoded.data(), static_cast<std::size_t>(ext.length))));
  ctx.decoded_for.image = detail::core(img).identity;
  ctx.decoded_for.nid = ino.nid;
  ctx.decoded_for.logical = ext.logical;
  ctx.decoded_for.length = ext.length;
  ctx.decoded_for.physical = ext.physical;
  return {};
}

// The shared cache's key for encoded extent `ext`: everything decode_into() reads besides the
// image (the inode only names errors).
inline decoded_cache_key shared_key(const image& img, const extent& ext) noexcept {
  decoded_cache_key k;
  k.image = detail::core(img).identity.get();
  k.physical = ext.physical;
  k.physical_length = ext.physical_length;
  k.length = ext.length;
  if (ext.flags & extent_flags::interlaced)
    k.block_offset = static_cast<std::uint32_t>(ext.logical & (img.block_size() - 1));
  k.device = ext.device;
  k.algorithm = ext.algorithm;
  k.flags = ext.flags;
  return k;
}

// The decoded bytes of `ext` through ctx.shared_cache: the entry this context holds, else the
// cache's, else decoded into a new buffer and published. ctx.shared_held keeps the bytes valid.
inline result<bytes_view> shared_decoded(const image& img, const inode& ino, const extent& ext,
                                         read_context& ctx) noexcept {
  const decoded_cache_key k = shared_key(img, ext);
  if (!ctx.shared_held || !(ctx.shared_held_key == k)) {
    ctx.shared_held = nullptr;
    decoded_cache::acquired got = ctx.shared_cache->acquire(k);
    decoded_ref found = std::move(got.data);
    if (!found) {
      // This reader decodes (claimed or, after a long wait, unclaimed); a failure gives the
      // claim up so that a waiting reader tries itself.
      status st = check_extent_length(ino, ext);
      std::shared_ptr<decoded_buffer> fresh;
      if (st) {
        fresh = decoded_buffer::make(static_cast<std::size_t>(ext.length));
        st = decode_into(img, ino, ext, ctx, fresh->fill());
      }
      if (!st) {
        if (got.claimed) ctx.shared_cache->abandon(k);
        return st.error();
      }
      found = std::move(fresh);
      ctx.shared_cache->insert(k, detail::core(img).identity, found);
    }
    ctx.shared_held = std::move(found);
    ctx.shared_held_key = k;
    if (ctx.shared_held_image.get() != k.image) ctx.shared_held_image = detail::core(img).identity;
  }
  return ctx.shared_held->bytes();
}

// Copies file bytes [pos, pos + out.size()) of encoded extent `ext` into `out`.
inline status read_encoded(const image& img, const inode& ino, const extent& ext,
                           std::uint64_t pos, mutable_bytes out, read_context& ctx) noexcept {
  if (!ext.holds(pos, out.size()))
    return make_error(errc::internal, what::read_outside_the_encoded_extent,
                      {.nid = ino.nid, .value = pos});
  if (ctx.shared_cache && ctx.keep_decoded) {
    EROFSFS_TRY_ASSIGN(const bytes_view bytes, shared_decoded(img, ino, ext, ctx));
    if (!out.empty()) std::memcpy(out.data(), bytes.data() + (pos - ext.logical), out.size());
    return {};
  }
  const auto& key = ctx.decoded_for;
  const bool held = ctx.keep_decoded && key.image == detail::core(img).identity &&
                    key.nid == ino.nid && key.logical == ext.logical &&
                    key.physical == ext.physical && key.length >= ext.length &&
                    ctx.decoded.size() >= ext.length;
  if (!held) {
    // A read of the whole extent decodes straight into `out`: no second copy, and the held
    // extent stays as it was (a later partial read of this one decodes it again).
    if (pos == ext.logical && out.size() == ext.length) {
      EROFSFS_TRY(check_extent_length(ino, ext));
      return decode_into(img, ino, ext, ctx, out);
    }
    EROFSFS_TRY(decode_extent(img, ino, ext, ctx));
  }
  if (!out.empty())
    std::memcpy(out.data(), ctx.decoded.data() + (pos - ext.logical), out.size());
  return {};
}

}  // namespace erofsfs::detail
