// `erofsfs ls [-l] [-R] [-a] IMG [PATH]`: directory listings in on-disk (byte) order, like
// `ls -n` in the C locale with UTC times; -R lists subdirectories depth-first without recursion.
#include <algorithm>

#include "common.hpp"

namespace erofsfs::cli {

namespace {

struct ls_state {
  const image* img;
  read_context ctx;
  bool long_format = false;
  bool all = false;
  bool recursive = false;
  bool failed = false;
  const char* cmd = "ls";
};

// One `ls -l` line's fields; columns are aligned per listing, as ls does.
struct row {
  std::string mode, nlink, uid, gid, size, time, name;
};

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
    auto target = read_link(*st.img, ino, st.ctx);
    if (target) {
      r.name += " -> " + escape(*target);
    } else {
      report(st.cmd, path, target.error());
      st.failed = true;
    }
  }
  return r;
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

// Lists directory `dir` (shown as `path`); appends its subdirectories to `subdirs` in order.
void list_dir(ls_state& st, const std::string& path, const inode& dir,
              std::vector<std::pair<std::string, std::uint64_t>>& subdirs) {
  std::vector<row> rows;
  dir_reader reader(*st.img, dir, st.ctx);
  dir_entry e;
  while (true) {  // bounded: dir_reader walks the directory's blocks once
    auto more = reader.next(e);
    if (!more) {
      report(st.cmd, path, more.error());
      st.failed = true;
      break;
    }
    if (!*more) break;
    const bool dot = e.name == "." || e.name == "..";
    if (!st.all && !e.name.empty() && e.name[0] == '.') continue;
    const std::string child_path = join(path, e.name);
    const std::string name(e.name);  // e.name is only valid until the next reader call
    const bool need_inode = st.long_format || (st.recursive && !dot);
    if (!need_inode) {
      rows.push_back(row{{}, {}, {}, {}, {}, {}, escape(name)});
      continue;
    }
    auto ino = read_inode(*st.img, e.nid);
    if (!ino) {
      report(st.cmd, child_path, ino.error());
      st.failed = true;
      continue;
    }
    rows.push_back(make_row(st, child_path, name, *ino));
    if (st.recursive && !dot && ino->is_dir()) subdirs.emplace_back(child_path, ino->nid);
  }
  print_rows(st, rows);
}

}  // namespace

int run_ls(int argc, char** argv) {
  static constexpr option_spec specs[] = {
      {"long", 'l', false}, {"recursive", 'R', false}, {"all", 'a', false}};
  args a;
  if (int rc = parse_args(argc, argv, specs, 1, 2, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  ls_state st;
  st.img = &o->img;
  st.long_format = a.has("long");
  st.recursive = a.has("recursive");
  st.all = a.has("all");
  const std::string path = a.positional.size() > 1 ? a.positional[1] : "/";
  auto start = resolve_path(o->img, path, st.ctx, false);
  if (!start) {
    report(st.cmd, path, start.error());
    return exit_problem;
  }
  if (!start->is_dir()) {
    print_rows(st, {make_row(st, path, path, *start)});
    return st.failed ? exit_problem : exit_ok;
  }
  if (!st.recursive) {
    std::vector<std::pair<std::string, std::uint64_t>> unused;
    list_dir(st, path, *start, unused);
    return st.failed ? exit_problem : exit_ok;
  }
  // Depth-first like ls -R: a directory's listing, then each subdirectory's, in order. The
  // explicit stack holds directories still to list (reversed, so the first pops first).
  std::vector<std::pair<std::string, std::uint64_t>> todo{{path, start->nid}};
  std::unordered_set<std::uint64_t> seen{start->nid};
  bool first = true;
  while (!todo.empty()) {  // bounded: every directory nid is listed at most once (seen)
    auto [dir_path, nid] = std::move(todo.back());
    todo.pop_back();
    auto dir = read_inode(o->img, nid);
    if (!dir) {
      report(st.cmd, dir_path, dir.error());
      st.failed = true;
      continue;
    }
    std::printf("%s%s:\n", first ? "" : "\n", escape(dir_path).c_str());
    first = false;
    std::vector<std::pair<std::string, std::uint64_t>> subdirs;
    list_dir(st, dir_path, *dir, subdirs);
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) {
      if (!seen.insert(it->second).second) {
        report(st.cmd, it->first,
               corrupted("directory reached twice (loop or hard-linked directory)",
                         {.nid = it->second}));
        st.failed = true;
        continue;
      }
      todo.push_back(std::move(*it));
    }
  }
  return st.failed ? exit_problem : exit_ok;
}

}  // namespace erofsfs::cli
