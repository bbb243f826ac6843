// Hand-made EROFS images for tests of malformed input: little-endian pokes plus writers for the
// superblock, inodes and directory blocks, so a test states exactly which bytes are wrong.
// Test-only; real images come from mkfs.erofs (tests/data/images).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <erofsfs/format/disk.hpp>
#include <erofsfs/base/hash.hpp>

namespace erofsfs::test {

struct raw_image {
  std::vector<std::byte> bytes;

  explicit raw_image(std::size_t size = 0) : bytes(size) {}

  void grow(std::size_t end) {
    if (bytes.size() < end) bytes.resize(end);
  }
  void u8(std::size_t off, std::uint8_t v) {
    grow(off + 1);
    bytes[off] = std::byte{v};
  }
  void le16(std::size_t off, std::uint16_t v) {
    for (int i = 0; i < 2; ++i) u8(off + i, static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void le32(std::size_t off, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(off + i, static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void le64(std::size_t off, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(off + i, static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void put(std::size_t off, std::string_view s) {
    grow(off + s.size());
    std::memcpy(bytes.data() + off, s.data(), s.size());
  }
  std::uint16_t get16(std::size_t off) const {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(bytes[off]) |
                                      std::to_integer<unsigned>(bytes[off + 1]) << 8);
  }
  std::span<const std::byte> view() const { return bytes; }
};

// Superblock fields a test usually sets; everything else is zero.
struct sb_fields {
  std::uint8_t blkszbits = 12;
  std::uint16_t root_nid = 0;
  std::uint32_t meta_blkaddr = 1;
  std::uint32_t xattr_blkaddr = 0;
  std::uint32_t feature_compat = 0;
  std::uint32_t feature_incompat = 0;
  std::uint8_t sb_extslots = 0;
  std::uint32_t blocks = 0;
};

inline void write_superblock(raw_image& img, const sb_fields& f) {
  const std::size_t at = disk::super_offset;
  img.le32(at + 0x00, disk::super_magic);
  img.le32(at + 0x08, f.feature_compat);
  img.u8(at + 0x0C, f.blkszbits);
  img.u8(at + 0x0D, f.sb_extslots);
  img.le16(at + 0x0E, f.root_nid);
  img.le32(at + 0x24, f.blocks);
  img.le32(at + 0x28, f.meta_blkaddr);
  img.le32(at + 0x2C, f.xattr_blkaddr);
  img.le32(at + 0x50, f.feature_incompat);
}

// Recomputes the superblock checksum (§2.3) and sets the SB_CHKSUM compat bit.
inline void seal_superblock_checksum(raw_image& img) {
  const std::size_t at = disk::super_offset;
  img.le32(at + 0x08, load_le32(img.bytes.data() + at + 0x08) | disk::compat_sb_chksum);
  const std::size_t bs = std::size_t{1} << std::to_integer<unsigned>(img.bytes[at + 0x0C]);
  const std::size_t len = bs > 1024 ? bs - 1024 : bs;
  img.grow(at + len);
  img.le32(at + 4, 0);
  img.le32(at + 4, crc32c_raw(~0u, std::span(img.bytes).subspan(at, len)));
}

struct inode_fields {
  std::uint16_t format = 0;  // i_format: layout bits and version bit
  std::uint16_t mode = 0100644;
  std::uint16_t xattr_icount = 0;
  std::uint64_t size = 0;
  std::uint32_t i_u = 0;  // startblk / rdev / chunk format / compressed blocks
  std::uint16_t i_nb = 1;  // compact: nlink (unless NLINK_1); extended: address high bits
  std::uint32_t nlink = 1;  // extended only
  std::uint32_t uid = 0, gid = 0;
  std::uint64_t mtime = 0;
};

inline std::uint16_t i_format(unsigned layout, bool extended = false) {
  return static_cast<std::uint16_t>((layout << disk::i_datalayout_bit) | (extended ? 1 : 0));
}

inline void write_compact_inode(raw_image& img, std::size_t pos, const inode_fields& f) {
  img.le16(pos + 0x00, f.format);
  img.le16(pos + 0x02, f.xattr_icount);
  img.le16(pos + 0x04, f.mode);
  img.le16(pos + 0x06, f.i_nb);
  img.le32(pos + 0x08, static_cast<std::uint32_t>(f.size));
  img.le32(pos + 0x0C, static_cast<std::uint32_t>(f.mtime));
  img.le32(pos + 0x10, f.i_u);
  img.le16(pos + 0x18, static_cast<std::uint16_t>(f.uid));
  img.le16(pos + 0x1A, static_cast<std::uint16_t>(f.gid));
}

inline void write_extended_inode(raw_image& img, std::size_t pos, const inode_fields& f) {
  img.le16(pos + 0x00, static_cast<std::uint16_t>(f.format | disk::i_version_mask));
  img.le16(pos + 0x02, f.xattr_icount);
  img.le16(pos + 0x04, f.mode);
  img.le16(pos + 0x06, f.i_nb);
  img.le64(pos + 0x08, f.size);
  img.le32(pos + 0x10, f.i_u);
  img.le32(pos + 0x18, f.uid);
  img.le32(pos + 0x1C, f.gid);
  img.le64(pos + 0x20, f.mtime);
  img.le32(pos + 0x2C, f.nlink);
  img.grow(pos + 64);
}

struct dirent_spec {
  std::string name;
  std::uint64_t nid;
  std::uint8_t file_type;
};

// Writes one directory block at `pos` (entries in the given order, names back to back);
// returns its used size (what i_size covers for a single-block directory).
inline std::size_t write_dir_block(raw_image& img, std::size_t pos,
                                   const std::vector<dirent_spec>& entries) {
  std::size_t nameoff = entries.size() * sizeof(disk::dirent);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::size_t d = pos + i * sizeof(disk::dirent);
    img.le64(d, entries[i].nid);
    img.le16(d + 8, static_cast<std::uint16_t>(nameoff));
    img.u8(d + 10, entries[i].file_type);
    img.put(pos + nameoff, entries[i].name);
    nameoff += entries[i].name.size();
  }
  return nameoff;
}

// A small valid image: 4 KiB blocks, inodes in block 1, root directory (nid 0, FLAT_INLINE,
// entries ".", "..", "file") and "file" (nid 4, FLAT_PLAIN, 5000 bytes at block 2, "ab..." text).
// Tests corrupt one thing at a time from here.
struct tiny_image {
  static constexpr std::size_t bs = 4096;
  static constexpr std::size_t root_pos = bs;           // nid 0
  static constexpr std::size_t file_pos = bs + 128;     // nid 4, after the root's inline dirents
  static constexpr std::uint64_t file_nid = 4;
  static constexpr std::size_t file_size = 5000;
  static constexpr std::size_t file_block = 2;
  static constexpr std::size_t root_dir_pos = root_pos + 32;  // inline dirents

  raw_image img{4 * bs};
  std::size_t dir_size = 0;

  tiny_image() {
    write_superblock(img, {});
    dir_size = write_dir_block(img, root_dir_pos,
                               {{".", 0, disk::ft_dir}, {"..", 0, disk::ft_dir},
                                {"file", file_nid, disk::ft_reg_file}});
    write_compact_inode(img, root_pos,
                        {i_format(disk::inode_flat_inline), 040755, 0, dir_size, 0, 2});
    write_compact_inode(img, file_pos,
                        {i_format(disk::inode_flat_plain), 0100644, 0, file_size,
                         static_cast<std::uint32_t>(file_block), 1});
    for (std::size_t i = 0; i < file_size; ++i)
      img.u8(file_block * bs + i, static_cast<std::uint8_t>('a' + i % 26));
  }
};

}  // namespace erofsfs::test
