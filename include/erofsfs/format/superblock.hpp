// Superblock parsing and validation (L2), spec §2, §8.1-8.3 and §12.16.
//
// parse_superblock() is hermetic: it takes the bytes that start at image offset 1024 (at least
// superblock_read_size() of them) and returns a validated `superblock`. The device table and the
// compression configuration records live elsewhere on the device and are parsed from their own
// spans by parse_device_table() and parse_compression_configs().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "disk.hpp"
#include "../base/hash.hpp"
#include "../base/limits.hpp"

namespace erofsfs {

// Per-algorithm settings from the COMPR_CFGS records (or the legacy lz4_max_distance field).
struct compression_configs {
  std::uint16_t lz4_max_distance = 0;     // 0: the LZ4 default of 64 KiB
  std::uint16_t lz4_max_pclusterblks = 1;
  std::uint32_t lzma_dict_size = 0;
  std::uint8_t deflate_windowbits = 0;
  std::uint8_t zstd_windowlog = 0;
};

struct superblock {
  std::uint32_t checksum = 0;
  std::uint32_t feature_compat = 0;
  std::uint32_t feature_incompat = 0;
  unsigned blkszbits = 0;
  std::uint32_t block_size = 0;
  std::uint32_t sb_size = 0;  // 128 + 16 * sb_extslots
  std::uint64_t root_nid = 0;
  std::uint64_t inos = 0;
  std::int64_t epoch = 0;  // base for compact-inode mtimes
  std::uint32_t fixed_nsec = 0;
  std::uint32_t build_time = 0;  // seconds after epoch (6.15+), informational
  std::uint64_t blocks = 0;      // primary device blocks (statfs only)
  std::uint32_t meta_blkaddr = 0;
  std::uint32_t xattr_blkaddr = 0;
  std::array<std::uint8_t, 16> uuid{};
  std::array<char, 16> volume_name_bytes{};
  // Bit n set: algorithm n may appear. For images without COMPR_CFGS this is 1 (LZ4) when the
  // image is compression capable (§2.7) and 0 otherwise.
  std::uint16_t available_compr_algs = 0;
  std::uint16_t extra_devices = 0;  // 0 unless DEVICE_TABLE
  std::uint16_t devt_slotoff = 0;
  std::uint8_t xattr_prefix_count = 0;  // 0 unless XATTR_PREFIXES
  std::uint32_t xattr_prefix_start = 0;  // in units of 4 bytes
  std::uint64_t packed_nid = 0;
  std::uint64_t metabox_nid = 0;
  std::uint8_t ishare_xattr_prefix_id = 0;
  bool xattr_filter = false;  // per-inode bloom filters are usable (§9.6)
  compression_configs compression;
  std::uint64_t compression_records_size = 0;  // bytes of COMPR_CFGS records after the superblock

  bool has_compat(std::uint32_t bit) const noexcept { return (feature_compat & bit) != 0; }
  bool has_incompat(std::uint32_t bit) const noexcept { return (feature_incompat & bit) != 0; }
  bool has_packed_inode() const noexcept { return has_incompat(disk::incompat_fragments); }
  bool has_metabox() const noexcept { return has_incompat(disk::incompat_metabox); }
  bool is_48bit() const noexcept { return has_incompat(disk::incompat_48bit); }
  bool compression_capable() const noexcept { return available_compr_algs != 0; }
  std::string_view volume_name() const noexcept {
    std::size_t n = 0;  // a full 16-byte label without NUL is valid (6.15+)
    while (n < volume_name_bytes.size() && volume_name_bytes[n] != '\0') ++n;
    return {volume_name_bytes.data(), n};
  }
  // Byte position of an ordinary (non-metabox) NID on the primary device, overflow-checked.
  bool inode_position(std::uint64_t nid, std::uint64_t& pos) const noexcept {
    std::uint64_t base, off;
    return checked_shl(meta_blkaddr, blkszbits, base) && checked_shl(nid, disk::islot_bits, off) &&
           checked_add(base, off, pos);
  }
};

// Offsets of superblock fields from the superblock's start, for reading a field before the
// whole superblock is known to be there and for naming where a bad value sits.
namespace sb_field {
inline constexpr std::uint64_t blkszbits = offsetof(disk::super_block, blkszbits);
inline constexpr std::uint64_t sb_extslots = offsetof(disk::super_block, sb_extslots);
inline constexpr std::uint64_t checksum = offsetof(disk::super_block, checksum);
inline constexpr std::uint64_t feature_incompat = offsetof(disk::super_block, feature_incompat);
inline constexpr std::uint64_t u1 = offsetof(disk::super_block, u1);
inline constexpr std::uint64_t extra_devices = offsetof(disk::super_block, extra_devices);
inline constexpr std::uint64_t dirblkbits = offsetof(disk::super_block, dirblkbits);
inline constexpr std::uint64_t xattr_prefix_count = offsetof(disk::super_block, xattr_prefix_count);
inline constexpr std::uint64_t packed_nid = offsetof(disk::super_block, packed_nid);
inline constexpr std::uint64_t ishare_xattr_prefix_id =
    offsetof(disk::super_block, ishare_xattr_prefix_id);
inline constexpr std::uint64_t rootnid_8b = offsetof(disk::super_block, rootnid_8b);
inline constexpr std::uint64_t metabox_nid = offsetof(disk::super_block, metabox_nid);
static_assert(blkszbits == 12 && dirblkbits == 0x5A && rootnid_8b == 0x70 && metabox_nid == 0x80);
}  // namespace sb_field

// Bytes from offset 1024 that parse_superblock needs, computed from the first 128 of them:
// the checksummed range (§2.3) or sb_size, whichever is larger. 0 if `first` is too short.
inline std::uint64_t superblock_read_size(bytes_view first) noexcept {
  if (first.size() < disk::sb_base_size) return 0;
  unsigned bits = load_u8(first.data() + sb_field::blkszbits);
  std::uint64_t sb_size =
      disk::sb_base_size + std::uint64_t{load_u8(first.data() + sb_field::sb_extslots)} *
                               disk::sb_extslot_size;
  if (bits < 9 || bits > 30) return sb_size;  // parse_superblock rejects it; don't size from it
  std::uint64_t bs = std::uint64_t{1} << bits;
  std::uint64_t csum_len = bs > 1024 ? bs - 1024 : bs;
  return csum_len > sb_size ? csum_len : sb_size;
}

// `area` starts at image offset 1024 and holds at least superblock_read_size(area) bytes.
inline result<superblock> parse_superblock(bytes_view area, const limits& lim = {}) noexcept {
  constexpr std::uint64_t at = disk::super_offset;
  if (area.size() < disk::sb_base_size)
    return make_error(errc::truncated, what::image_shorter_than_a_superblock, {.offset = at});
  // Fields past sb_size are absent, not garbage: copy only what exists (§2.1).
  disk::super_block raw{};
  const std::uint64_t sb_size =
      disk::sb_base_size + std::uint64_t{load_u8(area.data() + sb_field::sb_extslots)} *
                               disk::sb_extslot_size;
  // sb_size is checked against area.size() only below, so bound the copy by both.
  std::uint64_t copy = sb_size < sizeof raw ? sb_size : sizeof raw;
  if (copy > area.size()) copy = area.size();
  std::memcpy(&raw, area.data(), static_cast<std::size_t>(copy));

  superblock sb;
  if (raw.magic.get() != disk::super_magic)
    return corrupted(what::bad_superblock_magic, {.offset = at, .value = raw.magic.get()});
  sb.blkszbits = raw.blkszbits;
  if (sb.blkszbits < 9)
    return corrupted(what::block_size_below_512_bytes,
                     {.offset = at + sb_field::blkszbits, .value = sb.blkszbits});
  if (sb.blkszbits > 30 || (std::uint64_t{1} << sb.blkszbits) > lim.max_block_size)
    return unsupported(what::block_size_larger_than_the_configured_maximum,
                       {.offset = at + sb_field::blkszbits, .value = sb.blkszbits});
  sb.block_size = std::uint32_t{1} << sb.blkszbits;
  if (raw.dirblkbits != 0)
    return unsupported(what::directory_block_size_differs_from_the_block_size,
                       {.offset = at + sb_field::dirblkbits, .value = raw.dirblkbits});
  sb.sb_size = static_cast<std::uint32_t>(sb_size);
  // Linux reads the superblock from one page; larger extension areas cannot be valid.
  if (sb.sb_size > 4096 - 1024)
    return corrupted(what::superblock_extension_slots_exceed_a_page,
                     {.offset = at + sb_field::sb_extslots, .value = raw.sb_extslots});
  if (area.size() < superblock_read_size(area))
    return make_error(errc::truncated, what::image_shorter_than_the_superblock_block,
                      {.offset = at});

  sb.feature_compat = raw.feature_compat.get();
  sb.checksum = raw.checksum.get();
  // The kernel verifies the checksum before looking at incompat bits, so a damaged superblock
  // is reported as damaged rather than as "unsupported".
  if (sb.has_compat(disk::compat_sb_chksum)) {
    const std::uint64_t len = sb.block_size > 1024 ? sb.block_size - 1024 : sb.block_size;
    constexpr std::byte zero[4]{};
    std::uint32_t crc = crc32c_raw(~0u, area.subspan(0, 4));
    crc = crc32c_raw(crc, zero);
    crc = crc32c_raw(crc, area.subspan(8, len - 8));
    if (crc != sb.checksum)
      return corrupted(what::superblock_checksum_mismatch,
                       {.offset = at + sb_field::checksum, .value = crc});
  }
  sb.feature_incompat = raw.feature_incompat.get();
  if (sb.feature_incompat & ~disk::incompat_all)
    return unsupported(what::unknown_incompatible_feature_bits,
                       {.offset = at + sb_field::feature_incompat,
                        .value = sb.feature_incompat & ~disk::incompat_all});

  sb.inos = raw.inos.get();
  sb.epoch = static_cast<std::int64_t>(raw.epoch.get());
  sb.fixed_nsec = raw.fixed_nsec.get();
  sb.build_time = raw.build_time.get();
  sb.blocks = raw.blocks_lo.get();
  sb.meta_blkaddr = raw.meta_blkaddr.get();
  sb.xattr_blkaddr = raw.xattr_blkaddr.get();
  std::memcpy(sb.uuid.data(), raw.uuid, 16);
  std::memcpy(sb.volume_name_bytes.data(), raw.volume_name, 16);

  if (sb.is_48bit() && raw.rootnid_8b.get() != 0) {
    sb.root_nid = raw.rootnid_8b.get();
    sb.blocks |= std::uint64_t{raw.rootnid_2b.get()} << 32;  // the union's blocks_hi
  } else {
    sb.root_nid = raw.rootnid_2b.get();
  }
  if ((sb.root_nid & disk::nid_metabox_bit) && !sb.has_metabox())
    return corrupted(what::root_nid_in_metabox_without_the_metabox_feature,
                     {.offset = at + sb_field::rootnid_8b, .value = sb.root_nid});

  if (sb.has_packed_inode()) {
    sb.packed_nid = raw.packed_nid.get();
    if (sb.packed_nid & disk::nid_metabox_bit)
      return corrupted(what::packed_inode_nid_points_into_the_metabox,
                       {.offset = at + sb_field::packed_nid, .value = sb.packed_nid});
  }
  if (sb.has_metabox()) {
    if (sb.sb_size <= 0x80)
      return corrupted(what::metabox_feature_without_a_superblock_extension_slot,
                       {.offset = at + sb_field::sb_extslots, .value = raw.sb_extslots});
    sb.metabox_nid = raw.metabox_nid.get();
    if (sb.metabox_nid & disk::nid_metabox_bit)
      return corrupted(what::metabox_inode_nid_points_into_the_metabox,
                       {.offset = at + sb_field::metabox_nid, .value = sb.metabox_nid});
  }

  if (sb.has_incompat(disk::incompat_xattr_prefixes)) {
    sb.xattr_prefix_count = raw.xattr_prefix_count;
    sb.xattr_prefix_start = raw.xattr_prefix_start.get();
    // The on-disk index has 7 bits (§9.4).
    if (sb.xattr_prefix_count > 128)
      return corrupted(
          what::more_than_128_long_xattr_prefixes,
          {.offset = at + sb_field::xattr_prefix_count, .value = sb.xattr_prefix_count});
  }
  sb.xattr_filter = sb.has_compat(disk::compat_xattr_filter) && raw.xattr_filter_reserved == 0;
  if (sb.has_compat(disk::compat_ishare_xattrs)) {
    sb.ishare_xattr_prefix_id = raw.ishare_xattr_prefix_id;
    if (sb.ishare_xattr_prefix_id >= sb.xattr_prefix_count)
      return corrupted(
          what::ishare_xattr_prefix_id_out_of_range,
          {.offset = at + sb_field::ishare_xattr_prefix_id, .value = sb.ishare_xattr_prefix_id});
  }

  if (sb.has_incompat(disk::incompat_device_table)) {
    sb.extra_devices = raw.extra_devices.get();
    sb.devt_slotoff = raw.devt_slotoff.get();
    if (sb.extra_devices > lim.max_extra_devices)
      return make_error(errc::limit_exceeded, what::too_many_extra_devices,
                        {.offset = at + sb_field::extra_devices, .value = sb.extra_devices});
  }

  // §2.7: which algorithms may appear. Without COMPR_CFGS only LZ4 exists, and only if the
  // image says it is compressed (0-padding or a custom LZ4 window).
  const std::uint16_t u1 = raw.u1.get();
  if (sb.has_incompat(disk::incompat_compr_cfgs)) {
    sb.available_compr_algs = u1;
    if (u1 & ~((1u << disk::compression_max) - 1))
      return unsupported(what::unknown_compression_algorithm_in_available_compr_algs,
                         {.offset = at + sb_field::u1, .value = u1});
  } else {
    sb.compression.lz4_max_distance = u1;
    if (u1 != 0 || sb.has_incompat(disk::incompat_lz4_0padding)) sb.available_compr_algs = 1;
  }
  return sb;
}

// §12.16: records follow the superblock at 1024 + sb_size, one per set bit of
// available_compr_algs: 4-byte aligned `u16 len` then `len` payload bytes. `records` starts at
// that position. Returns the number of bytes the records occupy (so the caller can list them as
// metadata), after storing the settings in sb.compression.
inline result<std::uint64_t> parse_compression_configs(superblock& sb, bytes_view records) noexcept {
  if (!sb.has_incompat(disk::incompat_compr_cfgs)) return std::uint64_t{0};
  const std::uint64_t base = disk::super_offset + sb.sb_size;
  std::uint64_t pos = 0;  // relative to `records`; base is 4-aligned only if sb_size is
  for (unsigned alg = 0; alg < disk::compression_max; ++alg) {  // bounded: 4 algorithms
    if (!(sb.available_compr_algs & (1u << alg))) continue;
    pos = round_down(base + pos + 3, 4) - base;
    if (!in_bounds(pos, 2, records.size()))
      return make_error(errc::truncated, what::compression_config_record_past_the_end,
                        {.offset = base + pos, .value = alg});
    const std::uint16_t len = load_le16(records.data() + pos);
    pos += 2;
    if (!in_bounds(pos, len, records.size()))
      return make_error(errc::truncated, what::compression_config_record_past_the_end,
                        {.offset = base + pos, .value = alg});
    const std::byte* p = records.data() + pos;
    static constexpr std::uint16_t need[disk::compression_max] = {14, 14, 6, 6};
    if (len < need[alg])
      return corrupted(what::compression_config_record_too_short,
                       {.offset = base + pos - 2, .value = alg});
    switch (alg) {
      case disk::compression_lz4: {
        sb.compression.lz4_max_distance = load_le16(p);
        const std::uint16_t blks = load_le16(p + 2);
        sb.compression.lz4_max_pclusterblks = blks ? blks : 1;
        if (std::uint64_t{sb.compression.lz4_max_pclusterblks} << sb.blkszbits >
            disk::pcluster_max_size)
          return corrupted(what::lz4_max_pclusterblks_above_1_mib,
                           {.offset = base + pos + 2, .value = blks});
        break;
      }
      case disk::compression_lzma:
        sb.compression.lzma_dict_size = load_le32(p);
        if (load_le16(p + 4) != 0)
          return unsupported(what::unknown_lzma_config_format,
                             {.offset = base + pos + 4, .value = load_le16(p + 4)});
        if (sb.compression.lzma_dict_size < 4096 || sb.compression.lzma_dict_size > (8u << 20))
          return corrupted(what::lzma_dictionary_size_out_of_range,
                           {.offset = base + pos, .value = sb.compression.lzma_dict_size});
        break;
      case disk::compression_deflate:
        sb.compression.deflate_windowbits = load_u8(p);
        if (sb.compression.deflate_windowbits > 15)
          return corrupted(what::deflate_windowbits_above_15,
                           {.offset = base + pos, .value = sb.compression.deflate_windowbits});
        break;
      case disk::compression_zstd:
        if (load_u8(p) != 0)
          return unsupported(what::unknown_zstd_config_format,
                             {.offset = base + pos, .value = load_u8(p)});
        sb.compression.zstd_windowlog = load_u8(p + 1);
        if (sb.compression.zstd_windowlog > 10)
          return corrupted(what::zstd_window_above_1_mib,
                           {.offset = base + pos + 1, .value = sb.compression.zstd_windowlog});
        break;
    }
    pos += len;
  }
  sb.compression_records_size = pos;
  return pos;
}

// Upper bound of the bytes parse_compression_configs may need (4 records of at most 65535 bytes
// plus alignment), so a caller can read a bounded window.
inline constexpr std::uint64_t compression_configs_max_size = 4 * (3 + 2 + 65535);

// §8.2: one extra device (device id = index + 1).
struct device_info {
  std::array<char, 64> tag_bytes{};
  std::uint64_t blocks = 0;
  std::uint64_t uniaddr = 0;  // start block in the unified address space; 0: not part of it

  std::string_view tag() const noexcept {
    std::size_t n = 0;
    while (n < tag_bytes.size() && tag_bytes[n] != '\0') ++n;
    return {tag_bytes.data(), n};
  }
};

inline std::uint64_t device_table_offset(const superblock& sb) noexcept {
  return std::uint64_t{sb.devt_slotoff} * sizeof(disk::deviceslot);
}
inline std::uint64_t device_table_size(const superblock& sb) noexcept {
  return std::uint64_t{sb.extra_devices} * sizeof(disk::deviceslot);
}

// `slots` holds device_table_size(sb) bytes read at device_table_offset(sb).
inline result<std::vector<device_info>> parse_device_table(const superblock& sb, bytes_view slots) {
  if (slots.size() < device_table_size(sb))
    return make_error(errc::truncated, what::device_table_past_the_end,
                      {.offset = device_table_offset(sb)});
  std::vector<device_info> devs(sb.extra_devices);
  for (std::size_t i = 0; i < devs.size(); ++i) {
    const auto raw = disk::load<disk::deviceslot>(slots.data() + i * sizeof(disk::deviceslot));
    std::memcpy(devs[i].tag_bytes.data(), raw.tag, 64);
    devs[i].blocks = raw.blocks_lo.get();
    devs[i].uniaddr = raw.uniaddr_lo.get();
    if (sb.is_48bit()) {
      devs[i].blocks |= std::uint64_t{raw.blocks_hi.get()} << 32;
      devs[i].uniaddr |= std::uint64_t{raw.uniaddr_hi.get()} << 32;
    }
  }
  return devs;
}

}  // namespace erofsfs
