// FUSE node ids for EROFS inodes (L8): a stateless, bijective mapping, so the daemon keeps no
// per-inode table (nothing to grow, nothing to forget) and a hard-linked inode always gets the
// same node id, hence one kernel inode.
//
// FUSE reserves node id 0 (no node) and 1 (FUSE_ROOT_ID, the mount root). Any inode the image
// can address has nid < 2^59: a plain nid is a 32-byte slot in an image shorter than 2^64
// bytes, a metabox nid is bit 63 plus a slot index in the metabox stream. So
//   root nid           -> 1
//   plain nid n        -> n + 2
//   metabox nid 2^63|n -> 2^59 + n + 2
// and every other nid is not representable (it could not be read anyway). Decoding checks the
// same ranges, so no node id the kernel sends can name an nid outside them.
#pragma once

#include <cstdint>
#include <optional>

namespace erofsfs::fuse {

inline constexpr std::uint64_t root_node_id = 1;  // FUSE_ROOT_ID

namespace detail {
inline constexpr std::uint64_t metabox_bit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t slot_limit = std::uint64_t{1} << 59;  // nid slots per space
inline constexpr std::uint64_t first_free_id = 2;                   // after 0 and FUSE_ROOT_ID
}  // namespace detail

// The node id of inode `nid` in an image whose root is `root_nid`; nullopt if `nid` cannot be
// an inode of any image.
inline constexpr std::optional<std::uint64_t> node_id_of(std::uint64_t nid,
                                                         std::uint64_t root_nid) noexcept {
  if (nid == root_nid) return root_node_id;
  const bool metabox = (nid & detail::metabox_bit) != 0;
  const std::uint64_t slot = nid & ~detail::metabox_bit;
  if (slot >= detail::slot_limit) return std::nullopt;
  return (metabox ? detail::slot_limit : 0) + slot + detail::first_free_id;
}

// The nid a node id names; nullopt for ids this mapping never hands out.
inline constexpr std::optional<std::uint64_t> nid_of(std::uint64_t node_id,
                                                     std::uint64_t root_nid) noexcept {
  if (node_id == root_node_id) return root_nid;
  if (node_id < detail::first_free_id) return std::nullopt;
  const std::uint64_t v = node_id - detail::first_free_id;
  if (v >= 2 * detail::slot_limit) return std::nullopt;
  const std::uint64_t nid = v >= detail::slot_limit ? detail::metabox_bit | (v - detail::slot_limit) : v;
  // The root has id 1 only; its "plain" id would be a second name for one inode.
  if (nid == root_nid) return std::nullopt;
  return nid;
}

}  // namespace erofsfs::fuse
