// `erofsfs fsck IMG`: reads everything the kernel could be asked for (every inode, directory
// block, xattr, symlink target and byte of file data) and reports each problem with its path.
// Exit 1 if there was any problem.
#include "common.hpp"

namespace erofsfs::cli {

int run_fsck(int argc, char** argv) {
  args a;
  if (int rc = parse_args(argc, argv, {}, 1, 1, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const image& img = o->img;
  read_context ctx;

  std::uint64_t dirs = 0, files = 0, symlinks = 0, others = 0, bytes = 0, problems = 0;
  std::unordered_set<std::uint64_t> data_checked;  // hard links: read the data once
  std::vector<std::byte> buf(1u << 20);
  auto problem = [&](std::string_view path, const error& e) {
    ++problems;
    report(a.cmd, path, e);
  };

  auto check_data = [&](std::string_view path, const inode& ino) {
    std::uint64_t offset = 0;
    while (offset < ino.size) {  // bounded: offset grows by > 0 each pass or the loop ends
      auto n = read(img, ino, offset, buf, ctx);
      if (!n) return problem(path, n.error());
      if (*n == 0)
        return problem(path, make_error(errc::internal, "read returned no data before end of file",
                                        ino.nid, offset));
      offset += *n;
      bytes += *n;
    }
    // The extent listing is what lazy-loading daemons rely on: it must cover the file too.
    extent_iterator it(img, ino);
    extent e;
    std::uint64_t covered = 0;
    while (true) {  // bounded: the iterator advances through the file and stops at its end
      auto more = it.next(e);
      if (!more) return problem(path, more.error());
      if (!*more) break;
      if (e.logical != covered)
        return problem(path, make_error(errc::internal, "extent listing has a gap", ino.nid,
                                        covered, e.logical));
      covered = e.end();
    }
    if (covered != ino.size)
      problem(path, make_error(errc::internal, "extent listing does not cover the file", ino.nid,
                               covered, ino.size));
  };

  auto enter = [&](const tree_node& n) -> bool {
    const inode& ino = n.ino;
    auto xs = list_xattrs(img, ino);
    if (!xs) problem(n.path, xs.error());
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
            problem(n.path, t.error());
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
    problem("/", root.error());
  } else {
    walk_tree(img, ctx, *root, "/", enter, [](const tree_node&) {}, problem);
  }
  std::printf("%" PRIu64 " directories, %" PRIu64 " files, %" PRIu64 " symlinks, %" PRIu64
              " other inodes, %" PRIu64 " bytes read, %" PRIu64 " problems\n",
              dirs, files, symlinks, others, bytes, problems);
  return problems ? exit_problem : exit_ok;
}

}  // namespace erofsfs::cli
