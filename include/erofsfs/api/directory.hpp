// Directories (L6), spec §10: iterating a directory's entries block by block, and looking a name
// up by binary search over blocks and then within the block, as Linux does.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "../format/dir_block.hpp"
#include "../base/error.hpp"
#include "file_data.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../decode/read_context.hpp"

namespace erofsfs {

struct dir_entry {
  std::string_view name;  // valid until the next call on the dir_reader that produced it
  std::uint64_t nid = 0;
  file_type type = file_type::unknown;
};

namespace detail {
// Reads directory block `b` of `dir` into a view backed by `scratch` (or in place for
// uncompressed data on contiguous sources) and validates it with `parse`: dir_block::parse for
// the whole block, dir_block::parse_first for only what a lookup's block search reads.
template <class Parse>
auto load_dir_block_as(const image& img, const inode& dir, std::uint64_t b,
                       std::vector<std::byte>& scratch, read_context& ctx, Parse parse)
    -> decltype(parse(bytes_view{}, std::uint64_t{}, std::uint64_t{})) {
  const std::uint64_t off = b << img.blkszbits();
  EROFSFS_TRY_ASSIGN(const bytes_view bytes,
                     read_view(img, dir, off, img.block_size(), scratch, ctx));
  return parse(bytes, dir.nid, off);
}

inline result<dir_block> load_dir_block(const image& img, const inode& dir, std::uint64_t b,
                                        std::vector<std::byte>& scratch, read_context& ctx) {
  return load_dir_block_as(img, dir, b, scratch, ctx, &dir_block::parse);
}
}  // namespace detail

// Pull-style iteration over every stored entry, "." and ".." included, in on-disk (sorted)
// order. For a directory stored without "." (DOT_OMITTED) a "." entry is produced after the
// stored ones, as Linux does. Also checks that names keep increasing across blocks.
class dir_reader {
 public:
  dir_reader(const image& img, const inode& dir, read_context& ctx) noexcept
      : img_(&img), dir_(dir), ctx_(&ctx) {}

  const inode& dir() const noexcept { return dir_; }

  // Next entry into `out`; false at the end.
  result<bool> next(dir_entry& out) {
    if (!dir_.is_dir())
      return make_error(errc::not_a_directory, what::not_a_directory, {.nid = dir_.nid});
    const std::uint64_t nblocks = div_round_up(dir_.size, img_->block_size());
    while (index_ >= block_.size()) {  // bounded: block_no_ grows up to nblocks
      if (block_no_ >= nblocks) {
        if (dir_.dot_omitted && !dot_done_) {
          dot_done_ = true;
          out = {".", dir_.nid, file_type::directory};
          return true;
        }
        return false;
      }
      if (!last_name_.empty()) saved_last_.assign(last_name_);
      EROFSFS_TRY_ASSIGN(block_, detail::load_dir_block(*img_, dir_, block_no_, scratch_, *ctx_));
      ++block_no_;
      index_ = 0;
      if (!saved_last_.empty() &&
          dirent_name_compare(saved_last_, block_.entry(0).name) >= 0)
        return corrupted(what::dirent_names_not_increasing_across_blocks,
                         {.nid = dir_.nid, .offset = (block_no_ - 1) << img_->blkszbits()});
    }
    const dirent_info e = block_.entry(index_++);
    last_name_ = e.name;
    out = {e.name, e.nid, e.type};
    return true;
  }

 private:
  const image* img_;
  inode dir_;
  read_context* ctx_;
  std::vector<std::byte> scratch_;
  dir_block block_{};
  std::uint64_t block_no_ = 0;
  std::size_t index_ = 0;
  std::string_view last_name_;
  std::string saved_last_;
  bool dot_done_ = false;
};

// Looks `name` up in directory `dir`: the last block whose first name is <= name is found by
// binary search, then the name within it. errc::not_found if absent.
inline result<dir_entry> lookup(const image& img, const inode& dir, std::string_view name,
                                read_context& ctx) {
  std::vector<std::byte>& scratch = ctx.scratch;
  if (!dir.is_dir())
    return make_error(errc::not_a_directory, what::not_a_directory, {.nid = dir.nid});
  if (name.empty() || name.size() > disk::name_len_max)
    return make_error(errc::not_found, what::no_such_entry, {.nid = dir.nid});
  if (dir.dot_omitted && name == ".") return dir_entry{".", dir.nid, file_type::directory};
  const std::uint64_t nblocks = div_round_up(dir.size, img.block_size());
  std::uint64_t lo = 0, hi = nblocks;  // search [lo, hi) for the last block with first <= name
  std::uint64_t candidate = nblocks;
  while (lo < hi) {  // bounded: the interval halves
    const std::uint64_t mid = lo + (hi - lo) / 2;
    EROFSFS_TRY_ASSIGN(const dirent_info first, detail::load_dir_block_as(img, dir, mid, scratch,
                                                                         ctx, &dir_block::parse_first));
    const int c = dirent_name_compare(name, first.name);
    if (c == 0) return dir_entry{name, first.nid, first.type};
    if (c < 0) {
      hi = mid;
    } else {
      candidate = mid;
      lo = mid + 1;
    }
  }
  if (candidate < nblocks) {
    EROFSFS_TRY_ASSIGN(const dir_block blk,
                       detail::load_dir_block(img, dir, candidate, scratch, ctx));
    if (auto e = blk.find(name)) return dir_entry{name, e->nid, e->type};
  }
  return make_error(errc::not_found, what::no_such_entry, {.nid = dir.nid});
}

}  // namespace erofsfs
