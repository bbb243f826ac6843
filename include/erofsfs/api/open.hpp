// Opening an image (L6): superblock, compression configs, device table, packed inode, metabox
// stream and long xattr prefixes, each validated before the image is handed out. Everything
// that needs file reading (the metabox and packed data) is loaded here, once, so the image is
// immutable afterwards.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../decode/decompressor.hpp"
#include "../base/error.hpp"
#include "file_data.hpp"
#include "../core/image.hpp"
#include "../codecs/builtin.hpp"
#include "../map/map_extent.hpp"
#include "../format/layout.hpp"
#include "../format/superblock.hpp"

namespace erofsfs {

namespace detail {

// Fills an image step by step; each step validates what it adds.
struct image_builder {
  image img;
  image_core& c = core(img);

  status read_superblock() {
    std::vector<std::byte> area(disk::sb_base_size);
    if (std::error_code ec = c.primary.read_at(disk::super_offset, area))
      return make_error(
          ec, ec == errc::truncated ? "image shorter than a superblock" : "reading the superblock",
          {.offset = disk::super_offset});
    const std::uint64_t need = superblock_read_size(area);
    if (need > area.size()) {
      // `need` comes from the unchecked block size (up to 1 GiB): let the parser refuse a bad
      // magic or block size on the first bytes before a buffer is sized from it.
      auto early = parse_superblock(area, c.lim);
      if (!early && early.error().code != errc::truncated) return early.error();
      area.resize(static_cast<std::size_t>(need));
      if (std::error_code ec = c.primary.read_at(disk::super_offset, area))
        return make_error(ec,
                          ec == errc::truncated ? "image shorter than the superblock block"
                                                : "reading the superblock",
                          {.offset = disk::super_offset});
    }
    EROFSFS_TRY_ASSIGN(c.sb, parse_superblock(area, c.lim));
    return {};
  }

  status read_compression_configs() {
    if (!c.sb.has_incompat(disk::incompat_compr_cfgs)) return {};
    const std::uint64_t at = disk::super_offset + c.sb.sb_size;
    // Records are tiny in practice; start small and grow only if they claim to be longer.
    for (std::uint64_t window = 256;; window = compression_configs_max_size) {
      std::uint64_t len = window;
      if (auto size = c.primary.size()) len = std::min(len, *size > at ? *size - at : 0);
      std::vector<std::byte> buf(static_cast<std::size_t>(len));
      EROFSFS_TRY(c.read_meta(at, buf, false));
      superblock sb = c.sb;
      auto used = parse_compression_configs(sb, buf);
      if (used) {
        c.sb = sb;
        return {};
      }
      if (used.error().code != errc::truncated || window == compression_configs_max_size ||
          len < window)
        return used.error();
    }
  }

  status read_device_table(const open_options& opt) {
    const superblock& sb = c.sb;
    if (!opt.devices.empty() && opt.devices.size() != sb.extra_devices)
      return make_error(errc::invalid_argument,
                        what::number_of_devices_given_differs_from_the_image_s_device,
                        {.value = sb.extra_devices});
    if (sb.extra_devices == 0) return {};
    std::vector<std::byte> slots(static_cast<std::size_t>(device_table_size(sb)));
    EROFSFS_TRY(c.read_meta(device_table_offset(sb), slots, false));
    EROFSFS_TRY_ASSIGN(c.device_table, parse_device_table(sb, slots));
    c.devices.assign(opt.devices.begin(), opt.devices.end());
    // Linux (file- and block-backed mounts) switches to flat addressing when no device= is
    // given: extra devices' data is read from the primary at their unified addresses.
    c.flat_devices = opt.devices.empty() && !opt.require_devices;
    std::uint32_t mask = 1;
    while (mask < std::uint32_t{sb.extra_devices} + 1) mask <<= 1;  // bounded: <= 17 steps
    c.device_id_mask = static_cast<std::uint16_t>(mask - 1);
    for (std::size_t i = 0; i < c.device_table.size(); ++i) {
      const device_info& d = c.device_table[i];
      if (d.uniaddr == 0) continue;  // not part of the unified address space
      image_core::unified_range r{};
      if (!checked_shl(d.uniaddr, sb.blkszbits, r.start) ||
          !checked_shl(d.blocks, sb.blkszbits, r.length) || r.start + r.length < r.start)
        return corrupted(
            what::device_unified_range_overflows,
            {.offset = device_table_offset(sb) + i * sizeof(disk::deviceslot), .value = i + 1});
      r.device = static_cast<std::uint16_t>(i + 1);
      c.unified_ranges.push_back(r);
    }
    std::sort(c.unified_ranges.begin(), c.unified_ranges.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    for (std::size_t i = 1; i < c.unified_ranges.size(); ++i)
      if (c.unified_ranges[i - 1].start + c.unified_ranges[i - 1].length >
          c.unified_ranges[i].start)
        return corrupted(what::device_unified_address_ranges_overlap,
                         {.offset = device_table_offset(sb), .value = c.unified_ranges[i].device});
    return {};
  }

  status read_packed_inode() {
    // The fragments bit is shared with dedupe: `mkfs.erofs -Ededupe` sets it with no packed
    // inode, and Linux opens one only when packed_nid is not 0.
    if (!c.sb.has_packed_inode() || c.sb.packed_nid == 0) return {};
    EROFSFS_TRY_ASSIGN(c.packed, read_inode(img, c.sb.packed_nid));
    if (!c.packed.is_regular())
      return corrupted(what::packed_inode_is_not_a_regular_file,
                       {.nid = c.packed.nid, .offset = c.packed.pos});
    if (c.packed.is_compressed() &&
        (c.packed.z.whole_fragment || (c.packed.z.advise & disk::z_advise_fragment_pcluster)))
      return corrupted(what::packed_inode_uses_fragments_itself,
                       {.nid = c.packed.nid, .offset = c.packed.pos});
    c.has_packed = true;
    return {};
  }

  status read_metabox(read_context& ctx) {
    if (!c.sb.has_metabox()) return {};
    EROFSFS_TRY_ASSIGN(const inode box, read_inode(img, c.sb.metabox_nid));
    if (!box.is_regular())
      return corrupted(what::metabox_inode_is_not_a_regular_file,
                       {.nid = box.nid, .offset = box.pos});
    if (box.size > c.lim.max_metabox_size)
      return make_error(errc::limit_exceeded, what::metabox_larger_than_limits_max_metabox_size,
                        {.nid = box.nid, .offset = box.pos, .value = box.size});
    std::vector<std::byte> stream(static_cast<std::size_t>(box.size));
    EROFSFS_TRY(read(img, box, 0, stream, ctx));
    c.metabox = std::move(stream);
    return {};
  }

  // §9.5: records of `u16 len` + {u8 base_index, infix}, each 4-byte aligned, in the primary
  // device, the metabox stream or the packed inode's data.
  status read_long_prefixes(read_context& ctx) {
    const superblock& sb = c.sb;
    if (sb.xattr_prefix_count == 0) return {};
    const bool plain = sb.has_compat(disk::compat_plain_xattr_pfx);
    const bool in_metabox = !plain && sb.has_metabox();
    const bool in_packed = !plain && !in_metabox && c.has_packed;
    std::uint64_t pos = std::uint64_t{sb.xattr_prefix_start} * 4;
    auto fetch = [&](std::uint64_t at, mutable_bytes out) -> status {
      if (!in_packed) return c.read_meta(at, out, in_metabox);
      if (!in_bounds(at, out.size(), c.packed.size))
        return corrupted(what::long_xattr_prefix_past_the_packed_inode,
                         {.nid = c.packed.nid, .offset = at});
      EROFSFS_TRY(read(img, c.packed, at, out, ctx));
      return {};
    };
    c.prefixes.resize(sb.xattr_prefix_count);
    for (auto& p : c.prefixes) {  // bounded: at most 128 prefixes
      pos = layout::long_prefix_record_start(pos);
      std::byte lenb[2];
      EROFSFS_TRY(fetch(pos, lenb));
      const std::uint16_t len = load_le16(lenb);
      if (len < 1 || len > 1 + disk::name_len_max)
        return corrupted(what::long_xattr_prefix_length_out_of_range,
                         {.offset = pos, .value = len});
      std::byte rec[1 + disk::name_len_max];
      EROFSFS_TRY(fetch(pos + 2, std::span(rec, len)));
      p.base_index = load_u8(rec);
      p.infix.assign(reinterpret_cast<const char*>(rec + 1), len - 1u);
      pos += layout::long_prefix_record_size(len);
    }
    return {};
  }

  status check_root() {
    EROFSFS_TRY_ASSIGN(const inode root, read_inode(img, c.sb.root_nid));
    if (!root.is_dir())
      return corrupted(what::root_inode_is_not_a_directory, {.nid = root.nid, .offset = root.pos});
    return {};
  }
};

}  // namespace detail

// Opens an image: validates the superblock, compression configs, device table, packed inode,
// metabox stream, long xattr prefixes and the root directory before handing the image out.
inline result<image> open_image(source_ref primary, const open_options& options = {}) {
  if (!primary) return make_error(errc::invalid_argument, what::no_primary_source);
  detail::image_builder b;
  b.c.primary = primary;
  b.c.lim = options.lim;
  b.c.decompressors = options.decompressors ? options.decompressors : &builtin_decompressors();
  read_context ctx;
  EROFSFS_TRY(b.read_superblock());
  EROFSFS_TRY(b.read_compression_configs());
  EROFSFS_TRY(b.read_device_table(options));
  EROFSFS_TRY(b.read_packed_inode());
  EROFSFS_TRY(b.read_metabox(ctx));
  EROFSFS_TRY(b.read_long_prefixes(ctx));
  EROFSFS_TRY(b.check_root());
  return std::move(b.img);
}

}  // namespace erofsfs
