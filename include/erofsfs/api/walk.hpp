// Tree walk (L6): depth-first over every inode reachable from a directory, with an explicit
// stack (no recursion driven by the image), a depth limit, and loop protection: a directory
// reached twice (a hard-linked directory, or an entry pointing at an ancestor) is corruption.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "directory.hpp"
#include "../base/error.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../map/map_extent.hpp"

namespace erofsfs {

struct walk_entry {
  std::string_view path;  // "/" for the start directory, then "/a", "/a/b", ...
  std::string_view name;  // last component ("" for the start directory)
  const inode& ino;
  std::uint64_t parent_nid;
  unsigned depth;  // 0 for the start directory
};

// Calls `visit(const walk_entry&) -> status` for the start directory, then for every entry
// below it ("." and ".." excepted), parents before children, in directory order. Hard-linked
// files are visited once per path.
template <class Visit>
status walk(const image& img, read_context& ctx, Visit&& visit) {
  return walk_from(img, img.sb().root_nid, ctx, visit);
}

template <class Visit>
status walk_from(const image& img, std::uint64_t start_nid, read_context& ctx, Visit&& visit) {
  EROFSFS_TRY_ASSIGN(const inode start, read_inode(img, start_nid));
  if (!start.is_dir()) return make_error(errc::not_a_directory, "walk start is not a directory", start_nid);
  struct frame {
    dir_reader reader;     // holds its own copy of the directory inode
    std::size_t path_len;  // length of this directory's path in `path`
  };
  std::string path = "/";
  EROFSFS_TRY(visit(walk_entry{path, "", start, start.nid, 0}));
  std::unordered_set<std::uint64_t> seen_dirs{start.nid};
  std::uint64_t visited = 1;
  std::vector<frame> stack;
  stack.push_back(frame{dir_reader(img, start, ctx), 0});
  while (!stack.empty()) {  // bounded: each inode is visited once per path, capped below
    frame& top = stack.back();
    dir_entry e;
    EROFSFS_TRY_ASSIGN(const bool more, top.reader.next(e));
    if (!more) {
      stack.pop_back();
      continue;
    }
    if (e.name == "." || e.name == "..") continue;
    if (++visited > img.lim().max_walk_inodes)
      return make_error(errc::limit_exceeded, "more inodes than limits::max_walk_inodes");
    path.resize(top.path_len);
    path += '/';
    path += e.name;
    EROFSFS_TRY_ASSIGN(inode child, read_inode(img, e.nid));
    if (e.type != file_type::unknown && e.type != child.type())
      return corrupted("dirent file type differs from the inode's", e.nid, child.pos,
                       static_cast<std::uint64_t>(e.type));
    const std::uint64_t parent = top.reader.dir().nid;
    const unsigned depth = static_cast<unsigned>(stack.size());
    EROFSFS_TRY(visit(walk_entry{path, std::string_view(path).substr(top.path_len + 1), child,
                                 parent, depth}));
    if (!child.is_dir()) continue;
    if (!seen_dirs.insert(child.nid).second)
      return corrupted("directory reached twice (loop or hard-linked directory)", child.nid,
                       child.pos);
    if (depth >= img.lim().max_depth)
      return make_error(errc::limit_exceeded, "directory deeper than limits::max_depth", child.nid);
    const std::size_t len = path.size();
    stack.push_back(frame{dir_reader(img, child, ctx), len});
  }
  return {};
}

}  // namespace erofsfs
