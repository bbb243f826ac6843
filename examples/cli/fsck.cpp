// `erofsfs fsck IMG`: reads everything the kernel could be asked for (every inode, directory
// block, xattr, symlink target, index entry and stored byte of file data; holes are checked by
// their mapping) and reports each problem with its path. Exit 1 if there was any problem. With
// --json, each problem and then the summary is one JSON object on standard output.
#include <algorithm>

#include "common.hpp"
#include "json.hpp"

namespace erofsfs::cli {

namespace {

int run_fsck(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const image& img = o->img;
  read_context ctx;
  resident_bound resident(*o);  // RSS stays bounded whatever the image size

  std::uint64_t dirs = 0, files = 0, symlinks = 0, others = 0, bytes = 0, problems = 0;
  std::unordered_set<std::uint64_t> data_checked;  // hard links: read the data once
  std::vector<std::byte> buf(1u << 20);
  const bool as_json = a.has("json");
  auto report_problem = [&](std::string_view path, const error& e) {
    ++problems;
    if (!as_json) return report(a.cmd, path, e);
    json::object j;
    j.string("kind", "problem").string("path", path);
    json::print_line(json::error_fields(j, e));
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

  // Every index entry, as a page-by-page reader (the kernel) uses it: false if one fails.
  auto check_index = [&](std::string_view path, const inode& ino) {
    const auto p = check_mapping(img, ino);
    if (!p) return true;
    std::string where(path);
    if (p->entry != index_entry::none)
      where += std::string(": ") + index_entry_name(p->entry) + " " + std::to_string(p->index);
    report_problem(where, p->err);
    return false;
  };

  auto check_entry = [&](const walk_entry& n) -> bool {
    const inode& ino = n.ino;
    resident.inode();
    auto xs = list_xattrs(img, ino);
    if (!xs) report_problem(n.path, xs.error());
    // Hard links: indexes and data are checked once per inode; data only if every entry maps.
    const bool check = data_checked.insert(ino.nid).second && check_index(n.path, ino);
    switch (ino.type()) {
      case file_type::directory:
        ++dirs;
        return true;
      case file_type::regular:
        ++files;
        if (check) check_data(n.path, ino);
        return false;
      case file_type::symlink:
        ++symlinks;
        if (check) {
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
    (void)walk_tree(img, *root, "/", ctx, visitor, opts);  // report mode: problems counted above
  }
  if (as_json) {
    json::object j;
    j.string("kind", "summary")
        .number("directories", dirs)
        .number("files", files)
        .number("symlinks", symlinks)
        .number("other_inodes", others)
        .number("bytes_read", bytes)
        .number("problems", problems);
    json::print_line(j);
  } else {
    std::printf("%" PRIu64 " directories, %" PRIu64 " files, %" PRIu64 " symlinks, %" PRIu64
                " other inodes, %" PRIu64 " bytes read, %" PRIu64 " problems\n",
                dirs, files, symlinks, others, bytes, problems);
  }
  return problems ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    common::json,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}};

}  // namespace

const command_spec fsck_command{
    "fsck", "read every inode, directory, xattr and byte of data; report each problem", options,
    common::image_options, positionals, run_fsck};

}  // namespace erofsfs::cli
