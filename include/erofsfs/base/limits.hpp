// Resource caps (L0). Every allocation sized from the image and every image-driven loop that is
// not bounded by the format itself is checked against one of these. Exceeding one is
// errc::limit_exceeded: the image may be valid, it is just bigger than the caller allowed.
// Fuzz builds (EROFSFS_FUZZING) get smaller defaults so legal-but-huge values don't look like
// out-of-memory bugs.
#pragma once

#include <cstdint>

#include "config.hpp"

namespace erofsfs {

struct limits {
  // Largest accepted block size. The format allows 512 B .. 64 KiB for general readers (§3).
  // Also caps the superblock block read at open (checked before that buffer is sized).
  std::uint32_t max_block_size = 64u << 10;
  // Symlink hops while resolving one path (Linux MAXSYMLINKS).
  std::uint32_t max_symlink_hops = 40;
  // Longest symlink target (PATH_MAX - 1, what Linux can return).
  std::uint32_t max_symlink_size = 4095;
  // Path components in one lookup (resolve_path, symlink expansions included), and directory
  // depth in a tree walk (which bounds its stack and path buffer).
  std::uint32_t max_depth = EROFSFS_FUZZING_ENABLED ? 64 : 4096;
  // Decoded metabox stream kept in memory for the image's lifetime.
  std::uint64_t max_metabox_size = EROFSFS_FUZZING_ENABLED ? (16u << 20) : (1ull << 30);
  // Whole-file reads into a growable buffer (read_all, readlink, long xattr values).
  std::uint64_t max_read_all = EROFSFS_FUZZING_ENABLED ? (16u << 20) : (1ull << 32);
  // Extra devices in the device table (the on-disk field allows 65535).
  std::uint32_t max_extra_devices = EROFSFS_FUZZING_ENABLED ? 64 : 65535;
  // Inodes a tree walk will visit (hard links and loops counted once).
  std::uint64_t max_walk_inodes = EROFSFS_FUZZING_ENABLED ? 100000 : (1ull << 32);
};

}  // namespace erofsfs
