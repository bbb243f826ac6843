// Directory offsets for FUSE readdir (L8): an entry's offset is its stable position in the
// directory, (block number << 16) | index in the block, so a listing can resume from any
// offset the kernel got earlier without per-open state, and concurrent readers of one directory
// never disturb each other (the image is immutable: positions never move).
//
// Offset 0 is the first entry, as FUSE expects. A directory stored without "." (DOT_OMITTED)
// gets a "." after the stored entries, at position (block count << 16), as dir_reader does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../api/directory.hpp"
#include "../../base/bytes.hpp"
#include "../../base/error.hpp"
#include "../../core/image.hpp"
#include "../../decode/read_context.hpp"
#include "../../format/inode.hpp"

namespace erofsfs::fuse {

inline constexpr unsigned dir_index_bits = 16;
// Directories with more blocks than this would overflow the offset; no real one comes close
// (2^47 blocks of at least 512 bytes).
inline constexpr std::uint64_t dir_max_blocks = std::uint64_t{1} << (64 - dir_index_bits - 1);

inline constexpr std::uint64_t dir_offset(std::uint64_t block, std::uint64_t index) noexcept {
  return (block << dir_index_bits) | index;
}

// Lists `dir` from offset `off`: emit(const dir_entry&, std::uint64_t next_offset) -> bool for
// every entry in on-disk order ("." and ".." included), until emit returns false (the caller's
// buffer is full; that entry is not consumed) or the directory ends. An offset past the end
// lists nothing; an offset inside a block that has fewer entries goes on with the next block.
template <class Emit>
status list_dir_from(const image& img, const inode& dir, std::uint64_t off,
                     std::vector<std::byte>& scratch, read_context& ctx, Emit&& emit) {
  if (!dir.is_dir())
    return make_error(errc::not_a_directory, what::not_a_directory, {.nid = dir.nid});
  const std::uint64_t nblocks = div_round_up(dir.size, img.block_size());
  if (nblocks > dir_max_blocks)
    return make_error(errc::limit_exceeded, what::directory_too_large_for_readdir_offsets,
                      {.nid = dir.nid, .value = dir.size});
  std::uint64_t block = off >> dir_index_bits;
  std::uint64_t index = off & ((std::uint64_t{1} << dir_index_bits) - 1);
  std::string prev_last;  // last name of the previous block read in this call
  for (; block < nblocks; ++block, index = 0) {  // bounded: block grows to nblocks
    EROFSFS_TRY_ASSIGN(const dir_block b, detail::load_dir_block(img, dir, block, scratch, ctx));
    // parse() bounds the count by the block size; a 64 KiB block holds < 2^13 entries.
    if (b.size() >= (std::size_t{1} << dir_index_bits))
      return corrupted(what::directory_block_with_too_many_entries,
                       {.nid = dir.nid, .offset = block << img.blkszbits()});
    if (!prev_last.empty() && dirent_name_compare(prev_last, b.entry(0).name) >= 0)
      return corrupted(what::dirent_names_not_increasing_across_blocks,
                       {.nid = dir.nid, .offset = block << img.blkszbits()});
    for (; index < b.size(); ++index) {  // bounded by the block's entry count
      const dirent_info e = b.entry(static_cast<std::size_t>(index));
      if (!emit(dir_entry{e.name, e.nid, e.type}, dir_offset(block, index + 1))) return {};
    }
    prev_last.assign(b.entry(b.size() - 1).name);
  }
  if (dir.dot_omitted && block == nblocks && index == 0)
    emit(dir_entry{".", dir.nid, file_type::directory}, dir_offset(nblocks, 1));
  return {};
}

}  // namespace erofsfs::fuse
