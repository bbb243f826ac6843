// Tree walk (L6): depth-first over every inode reachable from a directory, with an explicit
// stack (no recursion driven by the image), a depth limit, and loop protection: a directory
// reached twice (a hard-linked directory, or an entry pointing at an ancestor) is corruption.
//
// walk()/walk_from() stop at the first problem and return it. walk_tree() is the general form:
// a visitor with enter/leave hooks and a policy for problems, so that a checker or extractor
// can report a bad entry and go on with the next one (walk_errors::report).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "directory.hpp"
#include "../base/error.hpp"
#include "../core/image.hpp"
#include "../format/inode.hpp"
#include "../map/map_extent.hpp"

namespace erofsfs {

struct walk_entry {
  std::string_view path;  // the start's path ("/" by default), then "<start>/a", "<start>/a/b", ...
  std::string_view name;  // last component (for the start: the last component of its path, "" for "/")
  const inode& ino;
  std::uint64_t parent_nid;  // the start's own nid for the start
  unsigned depth;            // 0 for the start
};

// What walk_tree() does with a bad directory entry, inode or directory block.
enum class walk_errors : std::uint8_t {
  stop,    // return the first problem (walk() and walk_from() always do this)
  report,  // pass it to the visitor's problem() and go on with the next entry or directory
};

struct walk_options {
  walk_errors on_error = walk_errors::stop;
  // Also check the "." and ".." entries: both must be directory entries, and "." must name its
  // own directory. Linux never looks at them; a checker or extractor should.
  bool check_dot_entries = false;
};

// Visits `start` (found at `start_path`) and everything below it, parents before children, in
// directory order; "." and ".." are not visited. Hard-linked files are visited once per path.
// The visitor provides:
//   result<bool> enter(const walk_entry&)  whether to descend (directories only); an error is a
//                                          problem of that entry (the entry is not descended)
//   void leave(const walk_entry&)          optional: after the last child of a directory that
//                                          was descended into (name is empty)
//   void problem(std::string_view path, const error&)   needed for walk_errors::report
// With walk_errors::report every problem, including the one that cuts the walk short
// (limits::max_walk_inodes), goes to problem() and the walk returns success; with
// walk_errors::stop the first problem is returned and problem() is never called.
template <class Visitor>
status walk_tree(const image& img, const inode& start, std::string_view start_path,
                 read_context& ctx, Visitor&& v, const walk_options& opt = {}) {
  const bool report = opt.on_error == walk_errors::report;
  auto problem = [&](std::string_view where, const error& e) -> status {
    if (!report) return e;
    if constexpr (requires { v.problem(where, e); }) v.problem(where, e);
    return {};
  };
  struct frame {
    dir_reader reader;     // holds its own copy of the directory inode
    std::size_t path_len;  // length of this directory's path in `path`
    std::uint64_t parent_nid;
    unsigned depth;
  };
  // `path` holds the current entry's path without a trailing '/'; the root is kept as "" and
  // shown as "/".
  std::string path(start_path == "/" ? std::string_view() : start_path);
  auto shown = [&]() -> std::string_view { return path.empty() ? std::string_view("/") : path; };
  std::string_view start_name = start_path;
  if (const auto slash = start_name.rfind('/'); slash != std::string_view::npos)
    start_name = start_name.substr(slash + 1);
  {
    auto descend = v.enter(walk_entry{shown(), start_name, start, start.nid, 0});
    if (!descend) return problem(shown(), descend.error());
    if (!*descend || !start.is_dir()) return {};
  }
  std::unordered_set<std::uint64_t> seen_dirs{start.nid};
  std::uint64_t visited = 1;
  std::vector<frame> stack;
  stack.push_back(frame{dir_reader(img, start, ctx), path.size(), start.nid, 0});
  while (!stack.empty()) {  // bounded: each directory is entered once (seen_dirs), inodes capped
    frame& top = stack.back();
    dir_entry e;
    auto more = top.reader.next(e);
    path.resize(top.path_len);
    if (!more || !*more) {
      if (!more) EROFSFS_TRY(problem(shown(), more.error()));
      const inode dir = top.reader.dir();
      const walk_entry done{shown(), {}, dir, top.parent_nid, top.depth};
      stack.pop_back();  // `done` refers to `dir` and `path`, not to the frame
      if constexpr (requires { v.leave(done); }) v.leave(done);
      continue;
    }
    const std::uint64_t dir_nid = top.reader.dir().nid;
    if (e.name == "." || e.name == "..") {
      if (!opt.check_dot_entries) continue;
      if (e.type != file_type::directory)
        EROFSFS_TRY(
            problem(shown(), corrupted(e.name == "." ? "'.' entry is not a directory entry"
                                                     : "'..' entry is not a directory entry",
                                       {.nid = e.nid})));
      else if (e.name == "." && e.nid != dir_nid)
        EROFSFS_TRY(problem(shown(), corrupted(what::entry_does_not_point_at_its_directory,
                                               {.nid = dir_nid, .value = e.nid})));
      continue;
    }
    path += '/';
    path += e.name;
    if (++visited > img.lim().max_walk_inodes) {
      EROFSFS_TRY(problem(shown(), make_error(errc::limit_exceeded,
                                              what::more_inodes_than_limits_max_walk_inodes)));
      return {};
    }
    auto child = read_inode(img, e.nid);
    if (!child) {
      EROFSFS_TRY(problem(shown(), child.error()));
      continue;
    }
    if (e.type != file_type::unknown && e.type != child->type()) {
      EROFSFS_TRY(problem(shown(), corrupted(what::dirent_file_type_differs_from_the_inode_s,
                                             {.nid = e.nid,
                                              .offset = child->pos,
                                              .value = static_cast<std::uint64_t>(e.type)})));
      continue;
    }
    const unsigned depth = top.depth + 1;
    if (child->is_dir()) {
      if (seen_dirs.count(child->nid)) {
        EROFSFS_TRY(
            problem(shown(), corrupted(what::directory_reached_twice_loop_or_hard_linked_directory,
                                       {.nid = child->nid, .offset = child->pos})));
        continue;
      }
      if (depth >= img.lim().max_depth) {
        EROFSFS_TRY(problem(
            shown(), make_error(errc::limit_exceeded, what::directory_deeper_than_limits_max_depth,
                                {.nid = child->nid})));
        continue;
      }
    }
    const std::string_view name = std::string_view(path).substr(top.path_len + 1);
    auto descend = v.enter(walk_entry{shown(), name, *child, dir_nid, depth});
    if (!descend) {
      EROFSFS_TRY(problem(shown(), descend.error()));
      continue;
    }
    if (!*descend || !child->is_dir()) continue;
    seen_dirs.insert(child->nid);
    stack.push_back(frame{dir_reader(img, *child, ctx), path.size(), dir_nid, depth});  // invalidates top
  }
  return {};
}

namespace detail {

// walk()'s visitor: visit(entry) -> status for every entry, descending into every directory.
template <class Visit>
struct visit_all {
  Visit& visit;
  result<bool> enter(const walk_entry& e) {
    EROFSFS_TRY(visit(e));
    return e.ino.is_dir();
  }
};

}  // namespace detail

// Calls `visit(const walk_entry&) -> status` for the start directory, then for every entry
// below it, parents before children, in directory order; stops at the first problem (or the
// first error `visit` returns) and returns it.
template <class Visit>
status walk_from(const image& img, std::uint64_t start_nid, read_context& ctx, Visit&& visit) {
  EROFSFS_TRY_ASSIGN(const inode start, read_inode(img, start_nid));
  if (!start.is_dir())
    return make_error(errc::not_a_directory, what::walk_start_is_not_a_directory,
                      {.nid = start_nid});
  detail::visit_all<std::remove_reference_t<Visit>> v{visit};
  return walk_tree(img, start, "/", ctx, v);
}

template <class Visit>
status walk(const image& img, read_context& ctx, Visit&& visit) {
  return walk_from(img, img.sb().root_nid, ctx, std::forward<Visit>(visit));
}

}  // namespace erofsfs
