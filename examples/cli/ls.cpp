// `erofsfs ls [-l] [-R] [-a] IMG [PATH]`: directory listings in on-disk (byte) order, like
// `ls -n` in the C locale with UTC times. A listing shows the directory's entries as stored,
// "." and ".." included (-a), as the kernel's readdir does; -R walks the subdirectories with the
// library's walk_tree (depth-first, each directory listed when the walk enters it, loops and
// depth limits reported, not followed). --json writes one object per entry instead.
#include <algorithm>

#include "common.hpp"
#include "json.hpp"

namespace erofsfs::cli {

namespace {

struct ls_state {
  const image* img = nullptr;
  read_context ctx;
  bool long_format = false;
  bool all = false;
  bool recursive = false;
  bool as_json = false;
  bool failed = false;
  const char* cmd = "ls";

  void fail(std::string_view path, const error& e) {
    report(cmd, path, e);
    failed = true;
  }
};

// One `ls -l` line's fields; columns are aligned per listing, as ls does.
struct row {
  std::string mode, nlink, uid, gid, size, time, name;
};

std::string symlink_target(ls_state& st, std::string_view path, const inode& ino, bool& ok) {
  auto target = read_link(*st.img, ino, st.ctx);
  ok = bool(target);
  if (!target) {
    st.fail(path, target.error());
    return {};
  }
  return std::move(*target);
}

row make_row(ls_state& st, std::string_view path, std::string_view name, const inode& ino) {
  row r;
  r.name = escape(name);
  if (!st.long_format) return r;
  r.mode = mode_string(ino.mode);
  r.nlink = std::to_string(ino.nlink);
  r.uid = std::to_string(ino.uid);
  r.gid = std::to_string(ino.gid);
  if (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev)
    r.size = std::to_string(ino.rdev_major) + ", " + std::to_string(ino.rdev_minor);
  else
    r.size = std::to_string(ino.size);
  r.time = utc_time(ino.mtime);
  if (ino.is_symlink()) {
    bool ok;
    const std::string target = symlink_target(st, path, ino, ok);
    if (ok) r.name += " -> " + escape(target);
  }
  return r;
}

// One --json line: the entry and its inode's fields.
void print_json_entry(ls_state& st, std::string_view path, std::string_view name,
                      const inode& ino) {
  json::object j;
  j.string("path", path)
      .string("name", name)
      .number("nid", ino.nid)
      .number("ino", ino.ino(st.img->sb()))
      .string("type", file_type_name(ino.type()))
      .number("mode", ino.mode)
      .number("nlink", ino.nlink)
      .number("uid", ino.uid)
      .number("gid", ino.gid)
      .number("size", ino.size)
      .number("mtime", ino.mtime)
      .number("mtime_nsec", ino.mtime_nsec);
  if (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev)
    j.number("rdev_major", ino.rdev_major).number("rdev_minor", ino.rdev_minor);
  if (ino.is_symlink()) {
    bool ok;
    const std::string target = symlink_target(st, path, ino, ok);
    if (ok) j.string("target", target);
  }
  json::print_line(j);
}

void print_rows(const ls_state& st, const std::vector<row>& rows) {
  if (!st.long_format) {
    for (const row& r : rows) std::printf("%s\n", r.name.c_str());
    return;
  }
  std::size_t w[4] = {0, 0, 0, 0};
  for (const row& r : rows) {
    w[0] = std::max(w[0], r.nlink.size());
    w[1] = std::max(w[1], r.uid.size());
    w[2] = std::max(w[2], r.gid.size());
    w[3] = std::max(w[3], r.size.size());
  }
  for (const row& r : rows)
    std::printf("%s %*s %-*s %-*s %*s %s %s\n", r.mode.c_str(), static_cast<int>(w[0]),
                r.nlink.c_str(), static_cast<int>(w[1]), r.uid.c_str(), static_cast<int>(w[2]),
                r.gid.c_str(), static_cast<int>(w[3]), r.size.c_str(), r.time.c_str(),
                r.name.c_str());
}

std::string join(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (p.empty() || p.back() != '/') p += '/';
  p += name;
  return p;
}

// Lists directory `dir` (shown as `path`). Under -R the walk reads the same directory blocks
// and child inodes and reports their problems, so the listing does not report them again.
void list_dir(ls_state& st, std::string_view path, const inode& dir) {
  const bool report_problems = !st.recursive;
  std::vector<row> rows;
  dir_reader reader(*st.img, dir, st.ctx);
  dir_entry e;
  while (true) {  // bounded: dir_reader walks the directory's blocks once
    auto more = reader.next(e);
    if (!more) {
      if (report_problems) st.fail(path, more.error());
      st.failed = true;
      break;
    }
    if (!*more) break;
    if (!st.all && !e.name.empty() && e.name[0] == '.') continue;
    const std::string child_path = join(path, e.name);
    const std::string name(e.name);  // e.name is only valid until the next reader call
    if (!st.long_format && !st.as_json) {
      rows.push_back(row{{}, {}, {}, {}, {}, {}, escape(name)});
      continue;
    }
    auto ino = read_inode(*st.img, e.nid);
    if (!ino) {
      if (report_problems) st.fail(child_path, ino.error());
      st.failed = true;
      continue;
    }
    if (st.as_json)
      print_json_entry(st, child_path, name, *ino);
    else
      rows.push_back(make_row(st, child_path, name, *ino));
  }
  if (!st.as_json) print_rows(st, rows);
}

// ls -R: every directory's listing as the walk enters it, so a directory comes before its
// subdirectories and they come in directory order, as ls -R prints them.
void list_recursively(ls_state& st, const inode& start, const std::string& start_path) {
  bool first = true;
  struct {
    ls_state& st;
    bool& first;
    result<bool> enter(const walk_entry& n) {
      if (!n.ino.is_dir()) return false;
      if (n.depth > 0 && !st.all && !n.name.empty() && n.name[0] == '.') return false;
      if (!st.as_json) std::printf("%s%s:\n", first ? "" : "\n", escape(n.path).c_str());
      first = false;
      list_dir(st, n.path, n.ino);
      return true;
    }
    void problem(std::string_view path, const error& e) { st.fail(path, e); }
  } visitor{st, first};
  walk_options opts;
  opts.on_error = walk_errors::report;
  (void)walk_tree(*st.img, start, start_path, st.ctx, visitor, opts);  // problems reported above
}

int run_ls(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  ls_state st;
  st.img = &o->img;
  st.long_format = a.has("long");
  st.recursive = a.has("recursive");
  st.all = a.has("all");
  st.as_json = a.has("json");
  const std::string* path_arg = a.positional.size() > 1 ? &a.positional[1] : nullptr;
  const std::string root = "/";
  if (!path_arg && !a.has("nid")) path_arg = &root;
  const std::string path = subject_name(a, path_arg);
  auto start = find_subject(*o, path_arg, a.number("nid"), st.ctx, false);
  if (!start) {
    report(st.cmd, path, start.error());
    return exit_problem;
  }
  if (!start->is_dir()) {
    if (st.as_json)
      print_json_entry(st, path, std::string_view(path).substr(path.rfind('/') + 1), *start);
    else
      print_rows(st, {make_row(st, path, path, *start)});
  } else if (st.recursive) {
    list_recursively(st, *start, path);
  } else {
    list_dir(st, path, *start);
  }
  return st.failed ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    {"long", 'l', value_kind::none, nullptr, "long format: mode, links, owner, size, mtime (UTC)"},
    {"recursive", 'R', value_kind::none, nullptr, "list subdirectories too, depth-first"},
    {"all", 'a', value_kind::none, nullptr, "include entries starting with '.', and . and .."},
    common::json,
    common::nid,
};
constexpr positional_def positionals[] = {{"IMG", arity::one},
                                          {"PATH", arity::optional, "nid"}};

}  // namespace

const command_spec ls_command{"ls", "list a directory (-l long format, -R recursive, -a all)",
                              options, common::image_options, positionals, run_ls};

}  // namespace erofsfs::cli
