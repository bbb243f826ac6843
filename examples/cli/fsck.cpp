// `erofsfs fsck IMG`: reads everything the kernel could be asked for (every inode, directory
// block, xattr, symlink target and stored byte of file data; holes are checked by their
// mapping) and reports each problem with its path. Exit 1 if there was any problem.
#include <algorithm>

#include "common.hpp"

namespace erofsfs::cli {

int run_fsck(int argc, char** argv) {
  args a;
  if (int rc = parse_args(argc, argv, {}, 1, 1, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const image& img = o->img;
  read_context ctx;
  resident_bound resident(*o);  // RSS stays bounded whatever the image size

  std::uint64_t dirs = 0, files = 0, symlinks = 0, others = 0, bytes = 0, problems = 0;
  std::unordered_set<std::uint64_t> data_checked;  // hard links: read the data once
  std::vector<std::byte> buf(1u << 20);
  auto report_problem = [&](std::string_view path, const error& e) {
    ++problems;
    report(a.cmd, path, e);
  };

  // Holes cost nothing: the extent listing says where they are, and only stored extents are
  // read (decoded, checked against the source). Cost is O(extents + stored bytes), never the
  // size a file claims.
  auto check_data = [&](std::string_view path, const inode& ino) {
    extent_iterator it(img, ino);
    extent e;
    std::uint64_t covered = 0;
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) return report_problem(path, more.error());
      if (!*more) break;
      // The extent listing is what lazy-loading daemons rely on: it must tile the file.
      if (e.logical != covered)
        return report_problem(path,
                              make_error(errc::internal, "extent listing has a gap",
                                         {.nid = ino.nid, .offset = covered, .value = e.logical}));
      covered = e.end();
      if (e.kind == extent_kind::hole) continue;
      std::uint64_t offset = e.logical;
      while (offset < e.end()) {  // bounded: offset grows by > 0 each pass or the loop ends
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), e.end() - offset));
        auto n = read(img, ino, offset, std::span(buf).first(want), ctx);
        if (!n) return report_problem(path, n.error());
        if (*n == 0)
          return report_problem(
              path, make_error(errc::internal, "read returned no data before end of file",
                               {.nid = ino.nid, .offset = offset}));
        offset += *n;
        bytes += *n;
        resident.data(*n);
      }
    }
    if (covered != ino.size)
      report_problem(path, make_error(errc::internal, "extent listing does not cover the file",
                                      {.nid = ino.nid, .offset = covered, .value = ino.size}));
  };

  auto check_entry = [&](const walk_entry& n) -> bool {
    const inode& ino = n.ino;
    resident.inode();
    auto xs = list_xattrs(img, ino);
    if (!xs) report_problem(n.path, xs.error());
    switch (ino.type()) {
      case file_type::directory:
        ++dirs;
        return true;
      case file_type::regular:
        ++files;
        if (data_checked.insert(ino.nid).second) check_data(n.path, ino);
        return false;
      case file_type::symlink:
        ++symlinks;
        if (data_checked.insert(ino.nid).second) {
          auto t = read_link(img, ino, ctx);
          if (!t)
            report_problem(n.path, t.error());
          else
            bytes += t->size();
        }
        return false;
      default:
        ++others;
        return false;
    }
  };
  auto root = read_inode(img, img.sb().root_nid);
  if (!root) {
    report_problem("/", root.error());
  } else {
    struct {
      decltype(check_entry)& check;
      decltype(report_problem)& report;
      result<bool> enter(const walk_entry& n) { return check(n); }
      void problem(std::string_view path, const error& e) { report(path, e); }
    } visitor{check_entry, report_problem};
    walk_options opts;
    opts.on_error = walk_errors::report;
    opts.check_dot_entries = true;
    (void)walk_tree(img, ctx, *root, "/", visitor, opts);  // report mode: problems counted above
  }
  std::printf("%" PRIu64 " directories, %" PRIu64 " files, %" PRIu64 " symlinks, %" PRIu64
              " other inodes, %" PRIu64 " bytes read, %" PRIu64 " problems\n",
              dirs, files, symlinks, others, bytes, problems);
  return problems ? exit_problem : exit_ok;
}

}  // namespace erofsfs::cli
