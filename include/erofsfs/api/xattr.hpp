// Extended attributes (L6), spec §9: the inline area (header, shared ids, entries), shared
// entries, long name prefixes and the name bloom filter.
//
// for_each_xattr() visits the raw entries in the order Linux lists them (inline, then shared);
// list_xattrs() and get_xattr() build full names from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../format/disk.hpp"
#include "../base/hash.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../format/layout.hpp"

namespace erofsfs {

// One stored entry; views are valid only during the visitor call.
struct raw_xattr {
  std::uint8_t name_index = 0;  // e_name_index (bit 7: long prefix)
  std::string_view suffix;      // stored name bytes
  bytes_view value;
  bool shared = false;
  std::uint64_t pos = 0;  // position of the entry header (metadata space)
};

// Short prefix of a name index (§9.4); empty for hidden/unknown indexes.
inline constexpr std::string_view xattr_short_prefix(std::uint8_t index) noexcept {
  switch (index) {
    case disk::xattr_index_user: return "user.";
    case disk::xattr_index_posix_acl_access: return "system.posix_acl_access";
    case disk::xattr_index_posix_acl_default: return "system.posix_acl_default";
    case disk::xattr_index_trusted: return "trusted.";
    case disk::xattr_index_security: return "security.";
  }
  return {};
}

namespace detail {

struct xattr_area {
  std::uint64_t pos = 0;  // start of the inline area
  std::uint32_t name_filter = 0;
  std::uint8_t shared_count = 0;
};

// Reads one entry (header, name, value) at `pos`, where at most `room` bytes may be used.
// Returns the entry's padded size.
template <class Visit>
result<std::uint64_t> visit_xattr_entry(const image& img, const inode& ino, std::uint64_t pos,
                                        std::uint64_t room, bool in_metabox, bool shared,
                                        std::vector<std::byte>& scratch, Visit& visit) {
  std::byte hdr[4];
  if (room < sizeof hdr)
    return corrupted(what::xattr_entry_header_past_the_area, {.nid = ino.nid, .offset = pos});
  EROFSFS_TRY(detail::core(img).read_meta(pos, hdr, in_metabox, ino.nid));
  const auto e = disk::load<disk::xattr_entry>(hdr);
  const std::uint64_t body = std::uint64_t{e.e_name_len} + e.e_value_size.get();
  const std::uint64_t padded = layout::xattr_entry_size(e.e_name_len, e.e_value_size.get());
  if (padded > room)
    return corrupted(what::xattr_entry_larger_than_its_area,
                     {.nid = ino.nid, .offset = pos, .value = padded});
  EROFSFS_TRY_ASSIGN(const bytes_view b,
                     detail::core(img).view_meta(pos + sizeof hdr, static_cast<std::size_t>(body), in_metabox,
                                   scratch, ino.nid));
  raw_xattr x;
  x.name_index = e.e_name_index;
  x.suffix = std::string_view(reinterpret_cast<const char*>(b.data()), e.e_name_len);
  x.value = b.subspan(e.e_name_len);
  x.shared = shared;
  x.pos = pos;
  EROFSFS_TRY(visit(x));
  return padded;
}

inline result<xattr_area> read_xattr_header(const image& img, const inode& ino) noexcept {
  xattr_area a;
  a.pos = ino.pos + ino.isize;
  // Linux: an area of exactly the 12-byte header "is not supported yet".
  if (ino.xattr_isize == sizeof(disk::xattr_ibody_header))
    return unsupported(what::xattr_area_with_only_a_header, {.nid = ino.nid, .offset = a.pos});
  std::byte raw[sizeof(disk::xattr_ibody_header)];
  EROFSFS_TRY(detail::core(img).read_meta(a.pos, raw, ino.in_metabox, ino.nid));
  const auto h = disk::load<disk::xattr_ibody_header>(raw);
  a.name_filter = h.h_name_filter.get();
  a.shared_count = h.h_shared_count;
  if (a.shared_count > (ino.xattr_isize - sizeof raw) / 4)
    return corrupted(what::xattr_shared_count_exceeds_the_area,
                     {.nid = ino.nid, .offset = a.pos + 4, .value = a.shared_count});
  return a;
}

}  // namespace detail

// Visits every stored xattr of `ino`: inline entries first, then shared ones in header order.
// `visit(const raw_xattr&)` returns a status; an error stops the walk and is returned.
template <class Visit>
status for_each_xattr(const image& img, const inode& ino, Visit&& visit) {
  if (ino.xattr_isize == 0) return {};
  EROFSFS_TRY_ASSIGN(const detail::xattr_area area, detail::read_xattr_header(img, ino));
  std::vector<std::byte> scratch;
  const std::uint64_t ids_pos = area.pos + sizeof(disk::xattr_ibody_header);
  std::uint64_t pos = ids_pos + 4 * std::uint64_t{area.shared_count};
  std::uint64_t left = ino.xattr_isize - sizeof(disk::xattr_ibody_header) - 4 * area.shared_count;
  while (left > 0) {  // bounded: every entry consumes >= 4 bytes of the area
    EROFSFS_TRY_ASSIGN(const std::uint64_t used,
                       detail::visit_xattr_entry(img, ino, pos, left, ino.in_metabox, false,
                                                 scratch, visit));
    pos += used;
    left -= used;
  }
  const bool shared_in_metabox = img.sb().has_compat(disk::compat_shared_ea_in_metabox);
  std::uint64_t shared_base;
  if (!checked_shl(img.sb().xattr_blkaddr, img.blkszbits(), shared_base))
    return corrupted(what::shared_xattr_area_address_overflows, {.nid = ino.nid});
  for (unsigned i = 0; i < area.shared_count; ++i) {  // bounded: shared_count <= 255
    std::byte idb[4];
    EROFSFS_TRY(detail::core(img).read_meta(ids_pos + 4 * i, idb, ino.in_metabox, ino.nid));
    const std::uint64_t entry_pos = shared_base + 4 * std::uint64_t{load_le32(idb)};
    // A shared entry is bounded by its own sizes (at most 4 + 255 + 65535 bytes).
    EROFSFS_TRY(detail::visit_xattr_entry(img, ino, entry_pos, 4 + 255 + 65535 + 3,
                                          shared_in_metabox, true, scratch, visit));
  }
  return {};
}

// The full name of a stored entry; false for entries Linux does not list (hidden index 0,
// lustre, unknown indexes, out-of-range long prefixes).
inline bool xattr_full_name(const image& img, const raw_xattr& x, std::string& name) {
  std::uint8_t base = x.name_index;
  std::string_view infix;
  if (x.name_index & disk::xattr_long_prefix_bit) {
    const std::size_t k = x.name_index & disk::xattr_long_prefix_mask;
    if (k >= img.long_prefixes().size()) return false;
    base = img.long_prefixes()[k].base_index;
    infix = img.long_prefixes()[k].infix;
  }
  const std::string_view prefix = xattr_short_prefix(base);
  if (prefix.empty()) return false;
  name.assign(prefix);
  name.append(infix);
  name.append(x.suffix);
  return true;
}

struct xattr {
  std::string name;
  std::string value;  // raw bytes
};

// Every xattr Linux would list for `ino`, in listing order.
inline result<std::vector<xattr>> list_xattrs(const image& img, const inode& ino) {
  std::vector<xattr> out;
  std::string name;
  EROFSFS_TRY(for_each_xattr(img, ino, [&](const raw_xattr& x) -> status {
    if (xattr_full_name(img, x, name))
      out.push_back({name, std::string(reinterpret_cast<const char*>(x.value.data()),
                                       x.value.size())});
    return {};
  }));
  return out;
}

// Splits a full name into (short prefix index, rest) for the bloom filter (§9.6).
inline bool xattr_split_name(std::string_view name, std::uint8_t& index, std::string_view& rest) noexcept {
  for (std::uint8_t i : {disk::xattr_index_user, disk::xattr_index_trusted,
                         disk::xattr_index_security, disk::xattr_index_posix_acl_access,
                         disk::xattr_index_posix_acl_default}) {
    const std::string_view p = xattr_short_prefix(i);
    const bool whole = i == disk::xattr_index_posix_acl_access ||
                       i == disk::xattr_index_posix_acl_default;
    if (whole ? name == p : name.substr(0, p.size()) == p) {
      index = i;
      rest = name.substr(p.size());
      return true;
    }
  }
  return false;
}

// The bit the bloom filter uses for a name (§9.6).
inline unsigned xattr_filter_bit(std::uint8_t base_index, std::string_view rest) noexcept {
  return xxh32(std::as_bytes(std::span(rest.data(), rest.size())),
               disk::xattr_filter_seed + base_index) &
         (disk::xattr_filter_bits - 1);
}

// The value of xattr `name`; errc::not_found if the inode has none. Honours the bloom filter.
inline result<std::string> get_xattr(const image& img, const inode& ino, std::string_view name) {
  std::uint8_t base;
  std::string_view rest;
  if (ino.xattr_isize == 0 || !xattr_split_name(name, base, rest))
    return make_error(errc::not_found, what::no_such_xattr, {.nid = ino.nid});
  if (img.sb().xattr_filter) {
    EROFSFS_TRY_ASSIGN(const detail::xattr_area area, detail::read_xattr_header(img, ino));
    if (area.name_filter & (1u << xattr_filter_bit(base, rest)))
      return make_error(errc::not_found, what::no_such_xattr, {.nid = ino.nid});
  }
  std::string full, value;
  bool found = false;
  EROFSFS_TRY(for_each_xattr(img, ino, [&](const raw_xattr& x) -> status {
    if (!found && xattr_full_name(img, x, full) && full == name) {
      found = true;
      value.assign(reinterpret_cast<const char*>(x.value.data()), x.value.size());
    }
    return {};
  }));
  if (!found) return make_error(errc::not_found, what::no_such_xattr, {.nid = ino.nid});
  return value;
}

}  // namespace erofsfs
