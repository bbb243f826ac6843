// A bound reader (L6): one handle that reads one image, holding the per-thread state every
// read needs (the read_context with its decode cache and scratch buffers), so a caller deals
// with an image, a reader and inodes only:
//
//   auto img = erofsfs::open_image(src);            // shared, immutable, thread-safe
//   erofsfs::reader fs(*img);                         // one per thread
//   auto data = fs.read_file("/etc/os-release");      // result<std::vector<std::byte>>
//
// A reader borrows its image (which must outlive it) and is not thread-safe itself: give each
// thread its own. Everything it does is also available as free functions (file_data.hpp,
// directory.hpp, path.hpp, xattr.hpp, walk.hpp, map/) taking the image, the subject, the
// arguments and a read_context, in that order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../base/error.hpp"
#include "../core/image.hpp"
#include "../decode/read_context.hpp"
#include "../format/inode.hpp"
#include "../map/extent.hpp"
#include "../map/extent_iterator.hpp"
#include "../map/map_extent.hpp"
#include "directory.hpp"
#include "file_data.hpp"
#include "path.hpp"
#include "walk.hpp"
#include "xattr.hpp"

namespace erofsfs {

class reader {
 public:
  explicit reader(const image& img) noexcept : img_(&img) {}

  const image& img() const noexcept { return *img_; }
  // The state reads go through, for calls into the free functions.
  read_context& context() noexcept { return ctx_; }

  // --- inodes ---------------------------------------------------------------------------------
  result<inode> root() { return read_inode(*img_, img_->sb().root_nid); }
  // Inode `nid`, ready for reading and mapping (for tools and debugging).
  result<inode> inode_at(std::uint64_t nid) { return read_inode(*img_, nid); }
  // The inode at `path`, not following a final symlink (lstat).
  result<inode> stat(std::string_view path) { return resolve_path(*img_, path, ctx_, false); }
  // The inode at `path`, following symlinks all the way (open(2), stat(2)).
  result<inode> open(std::string_view path) { return resolve_path(*img_, path, ctx_, true); }

  // --- data -----------------------------------------------------------------------------------
  // Up to out.size() bytes at `offset`; fewer only at end of file.
  result<std::size_t> read(const inode& ino, std::uint64_t offset, mutable_bytes out) {
    return erofsfs::read(*img_, ino, offset, out, ctx_);
  }
  // The whole file at `path` (symlinks followed), bounded by limits::max_read_all.
  result<std::vector<std::byte>> read_file(std::string_view path) {
    EROFSFS_TRY_ASSIGN(const inode ino, open(path));
    return read_file(ino);
  }
  result<std::vector<std::byte>> read_file(const inode& ino) {
    std::vector<std::byte> out;
    EROFSFS_TRY(read_all(*img_, ino, out, ctx_));
    return out;
  }
  result<std::string> read_link(const inode& ino) { return erofsfs::read_link(*img_, ino, ctx_); }

  // --- directories ----------------------------------------------------------------------------
  result<dir_entry> lookup(const inode& dir, std::string_view name) {
    return erofsfs::lookup(*img_, dir, name, ctx_);
  }
  // Pull-style iteration over `dir` ("." and ".." included); the reader must outlive it.
  dir_reader open_dir(const inode& dir) noexcept { return dir_reader(*img_, dir, ctx_); }
  // Calls fn(const dir_entry&) -> status for every entry of `dir`, "." and ".." excluded.
  template <class Fn>
  status for_each_entry(const inode& dir, Fn&& fn) {
    dir_reader r(*img_, dir, ctx_);
    dir_entry e;
    while (true) {  // bounded: the dir_reader advances through the directory's blocks
      EROFSFS_TRY_ASSIGN(const bool more, r.next(e));
      if (!more) return {};
      if (e.name == "." || e.name == "..") continue;
      EROFSFS_TRY(fn(static_cast<const dir_entry&>(e)));
    }
  }
  // Depth-first walk from the root: visit(const walk_entry&) -> status, parents first.
  template <class Visit>
  status walk(Visit&& visit) {
    return erofsfs::walk(*img_, ctx_, std::forward<Visit>(visit));
  }

  // --- xattrs ---------------------------------------------------------------------------------
  result<std::vector<erofsfs::xattr>> xattrs(const inode& ino) { return list_xattrs(*img_, ino); }
  result<std::string> xattr_value(const inode& ino, std::string_view name) {
    return get_xattr(*img_, ino, name);
  }

  // --- the mapper -----------------------------------------------------------------------------
  // The extent containing `offset` (< ino.size).
  result<extent> map(const inode& ino, std::uint64_t offset) const noexcept {
    return map_extent(*img_, ino, offset);
  }
  // FIEMAP-like iteration over all of a file's extents.
  extent_iterator extents(const inode& ino) const noexcept { return extent_iterator(*img_, ino); }

 private:
  const image* img_;
  read_context ctx_;
};

}  // namespace erofsfs
