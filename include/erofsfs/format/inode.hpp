// Inode parsing and validation (L2), spec §4, §5, §7 (chunk format) and §11.
//
// parse_inode() is hermetic: it gets the raw inode bytes (32, or 64 for an extended inode), the
// NID and where the bytes were found, and returns a validated `inode` value. Compressed inodes
// get their map header decoded later, by the compressed mapper (zmap.hpp), into `inode::z`.
#pragma once

#include <cstdint>
#include <span>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "disk.hpp"
#include "layout.hpp"
#include "superblock.hpp"

namespace erofsfs {

enum class file_type : std::uint8_t { unknown, regular, directory, chrdev, blkdev, fifo, socket, symlink };

inline constexpr const char* file_type_name(file_type t) noexcept {
  switch (t) {
    case file_type::regular: return "file";
    case file_type::directory: return "dir";
    case file_type::chrdev: return "chrdev";
    case file_type::blkdev: return "blkdev";
    case file_type::fifo: return "fifo";
    case file_type::socket: return "socket";
    case file_type::symlink: return "symlink";
    case file_type::unknown: break;
  }
  return "unknown";
}

// The dirent file_type field (§10.4) maps 1:1 onto file_type.
inline constexpr file_type file_type_from_dirent(std::uint8_t ft) noexcept {
  return ft < disk::ft_max ? static_cast<file_type>(ft) : file_type::unknown;
}

inline constexpr std::uint16_t mode_type_mask = 0170000;
inline constexpr file_type file_type_from_mode(std::uint32_t mode) noexcept {
  switch (mode & mode_type_mask) {
    case 0100000: return file_type::regular;
    case 0040000: return file_type::directory;
    case 0020000: return file_type::chrdev;
    case 0060000: return file_type::blkdev;
    case 0010000: return file_type::fifo;
    case 0140000: return file_type::socket;
    case 0120000: return file_type::symlink;
  }
  return file_type::unknown;
}

enum class data_layout : std::uint8_t {
  flat_plain = disk::inode_flat_plain,
  compressed_full = disk::inode_compressed_full,
  flat_inline = disk::inode_flat_inline,
  compressed_compact = disk::inode_compressed_compact,
  chunk_based = disk::inode_chunk_based,
};

inline constexpr const char* data_layout_name(data_layout l) noexcept {
  switch (l) {
    case data_layout::flat_plain: return "flat_plain";
    case data_layout::compressed_full: return "compressed_full";
    case data_layout::flat_inline: return "flat_inline";
    case data_layout::compressed_compact: return "compressed_compact";
    case data_layout::chunk_based: return "chunk_based";
  }
  return "unknown";
}

// Compressed-inode mapping state, filled once per inode by the compressed mapper (zmap.hpp)
// from the map header (§12.2) and, for tail-packed/fragment files, from mapping i_size - 1.
struct z_info {
  bool ready = false;               // filled by zmap_init
  std::uint64_t header_pos = 0;     // byte position of the map header (inode addressing space)
  std::uint16_t advise = 0;         // h_advise
  std::uint8_t algorithm_head1 = 0;
  std::uint8_t algorithm_head2 = 0;
  unsigned lclusterbits = 0;
  std::uint16_t idata_size = 0;       // ztailpacking: inline pcluster size
  std::uint64_t fragment_offset = 0;  // fragments: offset in the packed inode
  bool whole_fragment = false;        // the whole file lives in the packed inode
  std::uint64_t tail_head_lcn = ~std::uint64_t{0};  // head lcluster of the tail extent
  std::uint64_t inline_pos = 0;       // ztailpacking: position of the inline pcluster
  std::uint64_t extent_count = 0;     // encoded extents (records of 16/32 bytes)
  unsigned extent_recsz = 0;          // encoded extents: 4, 8, 16 or 32; 0 = lcluster indexes
};

struct inode {
  std::uint64_t nid = 0;
  std::uint64_t pos = 0;    // byte position (primary device, or metabox stream if in_metabox)
  bool in_metabox = false;  // nid bit 63: the inode and its tail area live in the metabox stream
  std::uint8_t isize = 0;   // 32 (compact) or 64 (extended)
  std::uint16_t format = 0;  // raw i_format
  data_layout layout = data_layout::flat_plain;
  std::uint32_t mode = 0;  // type and permission bits
  std::uint64_t size = 0;
  std::uint32_t nlink = 0;
  std::uint32_t uid = 0;  // as Linux shows it: the stored 0xFFFFFFFF is linux_overflow_id
  std::uint32_t gid = 0;
  std::int64_t mtime = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint32_t ino32 = 0;        // i_ino, a legacy 32-bit hint
  std::uint16_t xattr_icount = 0;
  std::uint32_t xattr_isize = 0;  // bytes of the inline xattr area (§9.1)
  // Flat layouts: first data block, or ~0 for the FLAT_PLAIN "whole file is a hole" marker.
  std::uint64_t startblk = 0;
  std::uint32_t compressed_blocks = 0;  // compressed layouts, any file type (st_blocks only)
  std::uint16_t chunk_format = 0;       // chunk-based layout
  unsigned chunkbits = 0;               // chunk-based layout: log2 of the chunk size
  std::uint32_t rdev_major = 0;
  std::uint32_t rdev_minor = 0;
  bool dot_omitted = false;  // directory without a stored "." entry
  std::uint64_t blocks_512 = 0;  // st_blocks as Linux reports it
  z_info z;

  static constexpr std::uint64_t hole_startblk = ~std::uint64_t{0};

  file_type type() const noexcept { return file_type_from_mode(mode); }
  bool is_dir() const noexcept { return type() == file_type::directory; }
  bool is_regular() const noexcept { return type() == file_type::regular; }
  bool is_symlink() const noexcept { return type() == file_type::symlink; }
  bool is_compressed() const noexcept {
    return layout == data_layout::compressed_full || layout == data_layout::compressed_compact;
  }
  // Devices, fifos and sockets have no data, whatever i_size says.
  bool has_data() const noexcept { return is_regular() || is_dir() || is_symlink(); }
  // First byte after the inline xattr area: FLAT_INLINE tails, chunk arrays and map headers
  // are placed relative to it (§5.7).
  std::uint64_t tail_area_pos() const noexcept { return pos + isize + xattr_isize; }
  // st_ino as Linux reports it (§4): the NID, folded to keep metabox NIDs small.
  std::uint64_t ino(const superblock& sb) const noexcept {
    if (!sb.has_metabox()) return nid;
    return ((nid << 1) & 0xFFFFFFFF00000000ull) | (nid & 0x7FFFFFFFull) | ((nid >> 63) << 31);
  }
};


// The owner Linux shows for a stored uid/gid of 0xFFFFFFFF: (uid_t)-1 is no valid id, so
// i_uid_write() makes it INVALID_UID and stat() reports the overflow id (fs.overflowuid and
// fs.overflowgid, 65534 unless changed). 16-bit ids of compact inodes are always valid.
inline constexpr std::uint32_t linux_overflow_id = 65534;
inline constexpr std::uint32_t linux_visible_id(std::uint32_t stored) noexcept {
  return stored == 0xFFFFFFFFu ? linux_overflow_id : stored;
}

// Size of the on-disk inode whose first two bytes (i_format) are in `first2`.
inline std::uint8_t inode_disk_size(bytes_view first2) noexcept {
  return (load_le16(first2.data()) & disk::i_version_mask) ? 64 : 32;
}

// `raw` holds inode_disk_size() bytes found at `pos` (in the metabox stream if `in_metabox`).
inline result<inode> parse_inode(bytes_view raw, std::uint64_t nid, std::uint64_t pos,
                                 bool in_metabox, const superblock& sb) noexcept {
  if (raw.size() < 2 || raw.size() < inode_disk_size(raw))
    return make_error(errc::truncated, what::inode_past_the_end_of_its_area,
                      {.nid = nid, .offset = pos});
  inode ino;
  ino.nid = nid;
  ino.pos = pos;
  ino.in_metabox = in_metabox;
  ino.format = load_le16(raw.data());
  if (ino.format & ~disk::i_all)
    return unsupported(what::unknown_i_format_bits,
                       {.nid = nid, .offset = pos, .value = ino.format});
  const unsigned layout = (ino.format >> disk::i_datalayout_bit) & disk::i_datalayout_mask;
  if (layout > disk::inode_chunk_based)
    return unsupported(what::unknown_inode_data_layout,
                       {.nid = nid, .offset = pos, .value = layout});
  ino.layout = static_cast<data_layout>(layout);

  std::uint32_t i_u;
  std::uint64_t hi = 0;       // address bits 32..47
  bool wide_address = true;   // 48-bit addresses (§5.4)
  if (ino.format & disk::i_version_mask) {
    const auto d = disk::load<disk::inode_extended>(raw.data());
    ino.isize = 64;
    ino.xattr_icount = d.i_xattr_icount.get();
    ino.mode = d.i_mode.get();
    hi = d.i_nb.get();
    ino.size = d.i_size.get();
    i_u = d.i_u.get();
    ino.ino32 = d.i_ino.get();
    ino.uid = linux_visible_id(d.i_uid.get());
    ino.gid = linux_visible_id(d.i_gid.get());
    ino.mtime = static_cast<std::int64_t>(d.i_mtime.get());
    ino.mtime_nsec = d.i_mtime_nsec.get();
    ino.nlink = d.i_nlink.get();
  } else {
    const auto d = disk::load<disk::inode_compact>(raw.data());
    ino.isize = 32;
    ino.xattr_icount = d.i_xattr_icount.get();
    ino.mode = d.i_mode.get();
    ino.size = d.i_size.get();
    i_u = d.i_u.get();
    ino.ino32 = d.i_ino.get();
    ino.uid = d.i_uid.get();
    ino.gid = d.i_gid.get();
    // Compact inodes store mtime as an unsigned offset from the superblock epoch (§5.6).
    ino.mtime = static_cast<std::int64_t>(static_cast<std::uint64_t>(sb.epoch) + d.i_mtime.get());
    ino.mtime_nsec = sb.fixed_nsec;
    if (file_type_from_mode(ino.mode) != file_type::directory && (ino.format & disk::i_nlink_1)) {
      ino.nlink = 1;
      hi = d.i_nb.get();
    } else {
      ino.nlink = d.i_nb.get();
      wide_address = false;
    }
  }
  ino.xattr_isize = layout::xattr_ibody_size(ino.xattr_icount);
  if (ino.size > static_cast<std::uint64_t>(INT64_MAX))
    return corrupted(what::negative_i_size, {.nid = nid, .offset = pos + 8, .value = ino.size});

  switch (ino.type()) {
    case file_type::directory:
      ino.dot_omitted = (ino.format & disk::i_dot_omitted) != 0;
      [[fallthrough]];
    case file_type::regular:
    case file_type::symlink:
      if (!ino.is_compressed() && ino.layout != data_layout::chunk_based) {
        ino.startblk = i_u | (hi << 32);
        const std::uint64_t mask = wide_address ? disk::null_addr_48 : disk::null_addr;
        // 6.15+: all address bits set in a FLAT_PLAIN inode marks a file that is all hole.
        if (ino.layout == data_layout::flat_plain && (ino.startblk & mask) == mask)
          ino.startblk = inode::hole_startblk;
      }
      break;
    case file_type::chrdev:
    case file_type::blkdev:
      ino.rdev_major = (i_u >> 8) & 0xFFF;
      ino.rdev_minor = (i_u & 0xFF) | ((i_u >> 12) & 0xFFF00);
      break;
    case file_type::fifo:
    case file_type::socket:
      break;
    case file_type::unknown:
      return corrupted(what::bogus_i_mode_file_type,
                       {.nid = nid, .offset = pos + 4, .value = ino.mode});
  }

  if (ino.has_data() && ino.is_compressed() && !sb.compression_capable())
    return corrupted(what::compressed_inode_in_an_uncompressed_image,
                     {.nid = nid, .offset = pos, .value = layout});
  // Linux reads the layout's fields whatever the file type: a device node or fifo that claims
  // CHUNK_BASED with unknown chunk format bits (its rdev) is refused as well.
  if (ino.layout == data_layout::chunk_based) {
    ino.chunk_format = static_cast<std::uint16_t>(i_u & 0xFFFF);
    if (ino.chunk_format & ~disk::chunk_format_all)
      return unsupported(what::unknown_chunk_format_bits,
                         {.nid = nid, .offset = pos + 16, .value = ino.chunk_format});
    ino.chunkbits = sb.blkszbits + (ino.chunk_format & disk::chunk_format_blkbits_mask);
  }

  // st_blocks, computed as Linux's erofs_read_inode() does for every file type: a compressed
  // layout reports i_u (blocks_lo, no high bits) shifted in 32-bit arithmetic, so it wraps;
  // anything else i_size rounded up to blocks, in 512-byte units, even for a device node or a
  // fifo whose i_size is not 0. round_up() there works on the signed i_size: within 4095 bytes
  // of INT64_MAX it wraps to INT64_MIN, which the arithmetic shift keeps negative.
  if (ino.is_compressed()) {
    ino.compressed_blocks = i_u;
    ino.blocks_512 = static_cast<std::uint32_t>(i_u << (sb.blkszbits - 9));
  } else {
    const std::uint64_t rounded = ((ino.size - 1) | (sb.block_size - 1)) + 1;  // 0 for size 0
    ino.blocks_512 = static_cast<std::uint64_t>(static_cast<std::int64_t>(rounded) >> 9);
  }
  return ino;
}

}  // namespace erofsfs
