// The EROFS on-disk format (L1): raw mirrors of every on-disk structure, with the kernel's
// field names so they can be grepped against fs/erofs/erofs_fs.h, plus the format constants.
// Spec: shared/spec/erofs-format.md (section numbers are cited next to each item).
//
// Mirrors are made of little-endian wrapper types (byte arrays, alignment 1), so a struct can be
// memcpy'd from any byte offset and has no padding. Load one with disk::load<T>(bytes) after the
// caller has checked that sizeof(T) bytes are there. Values in these structs are unvalidated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../base/bytes.hpp"

namespace erofsfs::disk {

struct le16 {
  std::byte b[2];
  std::uint16_t get() const noexcept { return load_le16(b); }
};
struct le32 {
  std::byte b[4];
  std::uint32_t get() const noexcept { return load_le32(b); }
};
struct le64 {
  std::byte b[8];
  std::uint64_t get() const noexcept { return load_le64(b); }
};

// Copies a raw mirror out of `p`; the caller guarantees sizeof(T) readable bytes.
template <class T>
inline T load(const std::byte* p) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// --- §1, §2: superblock ----------------------------------------------------------------------
inline constexpr std::uint32_t super_magic = 0xE0F5E1E2;
inline constexpr std::uint64_t super_offset = 1024;
inline constexpr std::uint32_t sb_base_size = 128;
inline constexpr std::uint32_t sb_extslot_size = 16;

inline constexpr std::uint32_t compat_sb_chksum = 0x01;
inline constexpr std::uint32_t compat_mtime = 0x02;
inline constexpr std::uint32_t compat_xattr_filter = 0x04;
inline constexpr std::uint32_t compat_shared_ea_in_metabox = 0x08;
inline constexpr std::uint32_t compat_plain_xattr_pfx = 0x10;
inline constexpr std::uint32_t compat_ishare_xattrs = 0x20;

inline constexpr std::uint32_t incompat_lz4_0padding = 0x001;
inline constexpr std::uint32_t incompat_compr_cfgs = 0x002;  // same bit: big_pcluster
inline constexpr std::uint32_t incompat_big_pcluster = 0x002;
inline constexpr std::uint32_t incompat_chunked_file = 0x004;
inline constexpr std::uint32_t incompat_device_table = 0x008;  // same bit: compr_head2
inline constexpr std::uint32_t incompat_compr_head2 = 0x008;
inline constexpr std::uint32_t incompat_ztailpacking = 0x010;
inline constexpr std::uint32_t incompat_fragments = 0x020;  // same bit: dedupe
inline constexpr std::uint32_t incompat_dedupe = 0x020;
inline constexpr std::uint32_t incompat_xattr_prefixes = 0x040;
inline constexpr std::uint32_t incompat_48bit = 0x080;
inline constexpr std::uint32_t incompat_metabox = 0x100;
inline constexpr std::uint32_t incompat_all = 0x1FF;

struct super_block {
  le32 magic;
  le32 checksum;
  le32 feature_compat;
  std::uint8_t blkszbits;
  std::uint8_t sb_extslots;
  le16 rootnid_2b;  // union with blocks_hi (48BIT with rootnid_8b != 0)
  le64 inos;
  le64 epoch;
  le32 fixed_nsec;
  le32 blocks_lo;
  le32 meta_blkaddr;
  le32 xattr_blkaddr;
  std::uint8_t uuid[16];
  std::uint8_t volume_name[16];
  le32 feature_incompat;
  le16 u1;  // available_compr_algs (COMPR_CFGS) or lz4_max_distance
  le16 extra_devices;
  le16 devt_slotoff;
  std::uint8_t dirblkbits;
  std::uint8_t xattr_prefix_count;
  le32 xattr_prefix_start;
  le64 packed_nid;
  std::uint8_t xattr_filter_reserved;
  std::uint8_t ishare_xattr_prefix_id;
  std::uint8_t reserved[2];
  le32 build_time;
  le64 rootnid_8b;
  le64 reserved2;
  le64 metabox_nid;  // extension slot 1: only present when sb_extslots >= 1
  le64 reserved3;
};

// --- §8: device table -------------------------------------------------------------------------
struct deviceslot {
  std::uint8_t tag[64];
  le32 blocks_lo;
  le32 uniaddr_lo;  // old name: mapped_blkaddr
  le16 blocks_hi;   // 48BIT only
  le16 uniaddr_hi;  // 48BIT only
  std::uint8_t reserved[52];
};

// --- §5: inodes -------------------------------------------------------------------------------
inline constexpr unsigned inode_layout_compact = 0;
inline constexpr unsigned inode_layout_extended = 1;

inline constexpr unsigned inode_flat_plain = 0;
inline constexpr unsigned inode_compressed_full = 1;
inline constexpr unsigned inode_flat_inline = 2;
inline constexpr unsigned inode_compressed_compact = 3;
inline constexpr unsigned inode_chunk_based = 4;

inline constexpr std::uint16_t i_version_mask = 0x01;
inline constexpr unsigned i_datalayout_bit = 1;
inline constexpr std::uint16_t i_datalayout_mask = 0x07;
inline constexpr std::uint16_t i_nlink_1 = 0x10;       // non-directory compact inodes
inline constexpr std::uint16_t i_dot_omitted = 0x10;   // directories
inline constexpr std::uint16_t i_all = 0x1F;

struct inode_compact {
  le16 i_format;
  le16 i_xattr_icount;
  le16 i_mode;
  le16 i_nb;  // nlink, or startblk_hi/blocks_hi with NLINK_1
  le32 i_size;
  le32 i_mtime;  // relative to sb epoch (6.15+)
  le32 i_u;
  le32 i_ino;
  le16 i_uid;
  le16 i_gid;
  le32 i_reserved;
};

struct inode_extended {
  le16 i_format;
  le16 i_xattr_icount;
  le16 i_mode;
  le16 i_nb;  // startblk_hi / blocks_hi
  le64 i_size;
  le32 i_u;
  le32 i_ino;
  le32 i_uid;
  le32 i_gid;
  le64 i_mtime;
  le32 i_mtime_nsec;
  le32 i_nlink;
  std::uint8_t i_reserved2[16];
};

inline constexpr std::uint32_t null_addr = 0xFFFFFFFF;
inline constexpr std::uint64_t null_addr_48 = 0xFFFFFFFFFFFFull;
inline constexpr std::uint64_t nid_metabox_bit = std::uint64_t{1} << 63;
inline constexpr unsigned islot_bits = 5;  // inodes sit on 32-byte slots

// --- §7: chunk-based files --------------------------------------------------------------------
inline constexpr std::uint16_t chunk_format_blkbits_mask = 0x001F;
inline constexpr std::uint16_t chunk_format_indexes = 0x0020;
inline constexpr std::uint16_t chunk_format_48bit = 0x0040;
inline constexpr std::uint16_t chunk_format_all = 0x007F;

struct inode_chunk_index {
  le16 startblk_hi;
  le16 device_id;
  le32 startblk_lo;
};

// --- §9: xattrs -------------------------------------------------------------------------------
struct xattr_ibody_header {
  le32 h_name_filter;
  std::uint8_t h_shared_count;
  std::uint8_t h_reserved2[7];
};

struct xattr_entry {
  std::uint8_t e_name_len;
  std::uint8_t e_name_index;
  le16 e_value_size;
};

inline constexpr std::uint8_t xattr_index_user = 1;
inline constexpr std::uint8_t xattr_index_posix_acl_access = 2;
inline constexpr std::uint8_t xattr_index_posix_acl_default = 3;
inline constexpr std::uint8_t xattr_index_trusted = 4;
inline constexpr std::uint8_t xattr_index_lustre = 5;
inline constexpr std::uint8_t xattr_index_security = 6;
inline constexpr std::uint8_t xattr_long_prefix_bit = 0x80;
inline constexpr std::uint8_t xattr_long_prefix_mask = 0x7F;
inline constexpr std::uint32_t xattr_filter_seed = 0x25BBE08F;
inline constexpr unsigned xattr_filter_bits = 32;

// --- §10: directories -------------------------------------------------------------------------
struct dirent {
  le64 nid;
  le16 nameoff;
  std::uint8_t file_type;
  std::uint8_t reserved;
};
inline constexpr unsigned name_len_max = 255;

inline constexpr std::uint8_t ft_unknown = 0;
inline constexpr std::uint8_t ft_reg_file = 1;
inline constexpr std::uint8_t ft_dir = 2;
inline constexpr std::uint8_t ft_chrdev = 3;
inline constexpr std::uint8_t ft_blkdev = 4;
inline constexpr std::uint8_t ft_fifo = 5;
inline constexpr std::uint8_t ft_sock = 6;
inline constexpr std::uint8_t ft_symlink = 7;
inline constexpr std::uint8_t ft_max = 8;

// --- §12: compressed files --------------------------------------------------------------------
// Which reading of h_u and of the last two bytes applies depends on h_advise and h_clusterbits
// (the kernel declares them as unions); the accessors name each reading.
struct z_map_header {
  le32 h_u;  // h_fragmentoff | {h_reserved1, h_idata_size} | h_extents_lo
  le16 h_advise;
  std::uint8_t h_algorithmtype;  // bits 0-3: HEAD1 algorithm, 4-7: HEAD2 (or h_extents_hi lo)
  std::uint8_t h_clusterbits;    // bits 0-3: lclusterbits - blkszbits; bit 7: whole-file fragment

  std::uint32_t fragmentoff() const noexcept { return h_u.get(); }
  std::uint16_t idata_size() const noexcept { return load_le16(h_u.b + 2); }
  // Encoded-extent layouts: a 48-bit extent count over h_u and the last two bytes.
  std::uint64_t extent_count() const noexcept {
    return h_u.get() | (std::uint64_t{h_algorithmtype} << 32) |
           (std::uint64_t{h_clusterbits} << 40);
  }
  // Whole-file fragments: the 63-bit offset in the packed inode spans all eight bytes.
  std::uint64_t whole_fragmentoff() const noexcept {
    std::byte all[8];
    std::memcpy(all, this, sizeof all);
    return load_le64(all) & ~(std::uint64_t{1} << 63);
  }
};

inline constexpr std::uint16_t z_advise_compacted_2b = 0x0001;
inline constexpr std::uint16_t z_advise_extents = 0x0001;
inline constexpr std::uint16_t z_advise_big_pcluster_1 = 0x0002;
inline constexpr std::uint16_t z_advise_big_pcluster_2 = 0x0004;
inline constexpr std::uint16_t z_advise_inline_pcluster = 0x0008;
inline constexpr std::uint16_t z_advise_interlaced_pcluster = 0x0010;
inline constexpr std::uint16_t z_advise_fragment_pcluster = 0x0020;
inline constexpr unsigned z_advise_extrecsz_bit = 1;
inline constexpr std::uint16_t z_advise_extrecsz_mask = 0x3;
inline constexpr std::uint8_t z_fragment_inode_bit = 0x80;  // in h_clusterbits

struct z_lcluster_index {
  le16 di_advise;
  le16 di_clusterofs;
  le32 di_u;  // blkaddr, or delta[0] (u16 @4) and delta[1] (u16 @6)
};

inline constexpr unsigned z_lcluster_type_plain = 0;
inline constexpr unsigned z_lcluster_type_head1 = 1;
inline constexpr unsigned z_lcluster_type_nonhead = 2;
inline constexpr unsigned z_lcluster_type_head2 = 3;
inline constexpr std::uint16_t z_li_lcluster_type_mask = 0x3;
inline constexpr std::uint16_t z_li_partial_ref = 1u << 15;
inline constexpr std::uint16_t z_li_hole = 1u << 14;
inline constexpr std::uint16_t z_li_d0_cblkcnt = 1u << 11;

struct z_extent {
  le32 plen;
  le32 pstart_lo;
  le32 pstart_hi;
  le32 lstart_lo;
  le32 lstart_hi;
  std::uint8_t reserved[12];
};
inline constexpr std::uint32_t z_extent_plen_mask = 0x1FFFFF;
inline constexpr std::uint32_t z_extent_plen_partial = 1u << 27;
inline constexpr unsigned z_extent_plen_fmt_bit = 28;

inline constexpr std::uint8_t compression_lz4 = 0;
inline constexpr std::uint8_t compression_lzma = 1;
inline constexpr std::uint8_t compression_deflate = 2;
inline constexpr std::uint8_t compression_zstd = 3;
inline constexpr std::uint8_t compression_max = 4;

inline constexpr std::uint64_t pcluster_max_size = 1u << 20;         // encoded bytes
inline constexpr std::uint64_t pcluster_max_dsize = 12u << 20;       // decoded bytes

// Sizes pinned against the kernel's BUILD_BUG_ON list.
static_assert(sizeof(super_block) == 144);
static_assert(sizeof(deviceslot) == 128);
static_assert(sizeof(inode_compact) == 32);
static_assert(sizeof(inode_extended) == 64);
static_assert(sizeof(inode_chunk_index) == 8);
static_assert(sizeof(xattr_ibody_header) == 12);
static_assert(sizeof(xattr_entry) == 4);
static_assert(sizeof(dirent) == 12);
static_assert(sizeof(z_map_header) == 8);
static_assert(std::is_trivially_copyable_v<z_map_header> && alignof(z_map_header) == 1);
static_assert(sizeof(z_lcluster_index) == 8);
static_assert(sizeof(z_extent) == 32);
static_assert(std::is_trivially_copyable_v<super_block> && alignof(super_block) == 1);
static_assert(std::is_trivially_copyable_v<inode_extended> && alignof(inode_extended) == 1);
static_assert(std::is_trivially_copyable_v<dirent> && alignof(dirent) == 1);

// Names for feature bits, for error messages and `info`.
struct feature_name_entry {
  std::uint32_t bit;
  const char* name;
};
inline constexpr std::array<feature_name_entry, 6> compat_feature_names{{
    {compat_sb_chksum, "sb_csum"},
    {compat_mtime, "mtime"},
    {compat_xattr_filter, "xattr_filter"},
    {compat_shared_ea_in_metabox, "shared_ea_in_metabox"},
    {compat_plain_xattr_pfx, "plain_xattr_pfx"},
    {compat_ishare_xattrs, "ishare_xattrs"},
}};
inline constexpr std::array<feature_name_entry, 9> incompat_feature_names{{
    {incompat_lz4_0padding, "lz4_0padding"},
    {incompat_compr_cfgs, "compr_cfgs,big_pcluster"},
    {incompat_chunked_file, "chunked_file"},
    {incompat_device_table, "device_table,compr_head2"},
    {incompat_ztailpacking, "ztailpacking"},
    {incompat_fragments, "fragments,dedupe"},
    {incompat_xattr_prefixes, "xattr_prefixes"},
    {incompat_48bit, "48bit"},
    {incompat_metabox, "metabox"},
}};

inline constexpr const char* compression_name(unsigned alg) noexcept {
  switch (alg) {
    case compression_lz4: return "lz4";
    case compression_lzma: return "lzma";
    case compression_deflate: return "deflate";
    case compression_zstd: return "zstd";
  }
  return "unknown";
}

}  // namespace erofsfs::disk
