// Path resolution (L6): '/'-separated lookups from the root, "." and "..", and symlinks with a
// hop limit (limits::max_symlink_hops, Linux's MAXSYMLINKS by default).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "directory.hpp"
#include "../base/error.hpp"
#include "file_data.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../map/map_extent.hpp"

namespace erofsfs {

// Resolves `path` (absolute or relative to the root; empty components ignored). Symlinks in
// the middle are always followed; a final symlink only if `follow_last` (like stat vs lstat).
inline result<inode> resolve_path(const image& img, std::string_view path, read_context& ctx,
                                  bool follow_last = false) {
  EROFSFS_TRY_ASSIGN(inode cur, read_inode(img, img.sb().root_nid));
  std::string pending(path);  // what is left to resolve; grows when a symlink is expanded
  std::size_t at = 0;
  unsigned hops = 0;
  std::uint64_t components = 0;
  // Bounded: each pass consumes one component of `pending`, and `pending` only grows by a
  // symlink target (<= max_symlink_size) at most max_symlink_hops times; lookups are also
  // capped by limits::max_depth.
  while (true) {
    while (at < pending.size() && pending[at] == '/') ++at;
    if (at >= pending.size()) return cur;
    const std::size_t end = std::min(pending.find('/', at), pending.size());
    const std::string name = pending.substr(at, end - at);
    at = end;
    if (name == ".") {
      if (!cur.is_dir())
        return make_error(errc::not_a_directory, what::not_a_directory, {.nid = cur.nid});
      continue;
    }
    if (++components > img.lim().max_depth)
      return make_error(errc::limit_exceeded, what::path_deeper_than_limits_max_depth,
                        {.nid = cur.nid});
    EROFSFS_TRY_ASSIGN(const dir_entry e, lookup(img, cur, name, ctx));
    EROFSFS_TRY_ASSIGN(inode next, read_inode(img, e.nid));
    bool last = true;
    for (std::size_t i = at; i < pending.size(); ++i)
      if (pending[i] != '/') {
        last = false;
        break;
      }
    if (next.is_symlink() && (!last || follow_last)) {
      if (++hops > img.lim().max_symlink_hops)
        return make_error(errc::symlink_loop, what::too_many_symlink_hops, {.nid = next.nid});
      EROFSFS_TRY_ASSIGN(const std::string target, read_link(img, next, ctx));
      pending = target + "/" + pending.substr(at);
      at = 0;
      if (target[0] == '/') {
        EROFSFS_TRY_ASSIGN(cur, read_inode(img, img.sb().root_nid));
      }
      continue;
    }
    if (!last && !next.is_dir())
      return make_error(errc::not_a_directory, what::path_component_is_not_a_directory,
                        {.nid = next.nid});
    cur = std::move(next);
  }
}

}  // namespace erofsfs
