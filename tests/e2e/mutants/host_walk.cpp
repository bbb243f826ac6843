// The library's side of the mutant differential test: for each job of the job list, the same
// mutant guest_walk mounts in the qemu guest is opened with erofsfs (blob devices from the base
// directory, every codec adapter) and walked the way the kernel's VFS walks a mount: readdir
// names, then a lookup of each name in its parent (binary search, as erofs_lookup), then the
// inode, its data and its xattrs. Writes the same BEGIN/records/END blocks as guest_walk.
//
// Usage: host_walk JOBS BASE_DIR OUT          walk every job
//        host_walk JOBS BASE_DIR --save ID F  write mutant ID's bytes to F (for a regression)
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <erofsfs/codecs/all.hpp>
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include "jobs.hpp"
#include "record.hpp"

namespace {

using namespace erofsfs;

std::string err(const error& e) {
  static constexpr const char* names[] = {
      "?", "corrupted", "unsupported", "truncated", "io_error", "not_found",
      "not_a_directory", "is_a_directory", "not_a_symlink", "symlink_loop", "limit_exceeded",
      "invalid_argument", "no_device", "decompress_failed", "protocol_error", "internal"};
  const int v = e.code.value();
  if (e.code.category() == error_category() && v > 0 && v < static_cast<int>(std::size(names)))
    return std::string("E") + names[v];
  return "E" + e.code.message();
}

// The d_type readdir reports for a dirent file type.
unsigned d_type_of(file_type t) {
  switch (t) {
    case file_type::regular: return 8;
    case file_type::directory: return 4;
    case file_type::chrdev: return 2;
    case file_type::blkdev: return 6;
    case file_type::fifo: return 1;
    case file_type::socket: return 12;
    case file_type::symlink: return 10;
    default: return 0;
  }
}

std::uint64_t ino_of(const image& img, std::uint64_t nid) {
  inode i;
  i.nid = nid;
  return i.ino(img.sb());
}

std::string meta_of(const image& img, const inode& ino) {
  mutants::meta_fields m{};
  m.type = mutants::type_char(ino.mode);
  m.mode = ino.mode;
  m.uid = ino.uid;
  m.gid = ino.gid;
  m.nlink = ino.nlink;
  m.size = ino.size;
  m.ino = ino.ino(img.sb());
  m.blocks = ino.blocks_512;
  m.mtime = ino.mtime;
  m.mtime_nsec = ino.mtime_nsec;
  m.rdev_major = ino.rdev_major;
  m.rdev_minor = ino.rdev_minor;
  return mutants::format_meta(m);
}

std::string xattrs_of(const image& img, const inode& ino) {
  auto xs = list_xattrs(img, ino);
  if (!xs) return err(xs.error());
  std::vector<std::pair<std::string, std::string>> pairs;
  for (auto& x : *xs) pairs.emplace_back(std::move(x.name), std::move(x.value));
  return mutants::xattr_hash(std::move(pairs));
}

void walk(const image& img, std::FILE* out) {
  read_context ctx;
  struct item {
    std::string path;
    unsigned depth;
    std::uint64_t parent_nid;  // the directory to look the name up in (root: unused)
    std::string name;
  };
  std::vector<item> stack{{"/", 0, 0, ""}};
  unsigned records = 0;
  while (!stack.empty() && records < mutants::max_paths) {  // bounded by max_paths
    const item it = stack.back();
    stack.pop_back();
    ++records;
    result<inode> ino = make_error(errc::internal, "unset");
    if (it.path == "/") {
      ino = read_inode(img, img.sb().root_nid);
    } else {
      auto parent = read_inode(img, it.parent_nid);
      auto entry = parent ? lookup(img, *parent, it.name, ctx) : result<dir_entry>(parent.error());
      ino = entry ? read_inode(img, entry->nid) : result<inode>(entry.error());
    }
    if (!ino) {
      const std::string e = err(ino.error());
      std::fputs(mutants::line(it.path, e, e, e).c_str(), out);
      continue;
    }
    std::string data = "-";
    std::vector<std::string> children;
    if (ino->is_regular()) {
      std::vector<std::byte> buf(static_cast<std::size_t>(std::min(ino->size, mutants::read_cap)));
      auto got = read(img, *ino, 0, buf, ctx);
      if (!got) {
        data = err(got.error());
      } else {
        erofsfs::test::sha256 h;
        h.update(std::span(buf.data(), *got));
        data = mutants::short_hash(h);
      }
    } else if (ino->is_symlink()) {
      auto target = read_link(img, *ino, ctx);
      data = target ? mutants::escape(*target) : err(target.error());
    } else if (ino->is_dir()) {
      dir_reader r(img, *ino, ctx);
      std::string acc;
      dir_entry e;
      while (true) {  // bounded: the reader stops at the directory's size
        auto more = r.next(e);
        if (!more) {
          data = err(more.error());
          children.clear();  // a failed listing is not walked (on either side)
          break;
        }
        if (!*more) {
          data = mutants::short_hash(acc);
          break;
        }
        if (e.name == "." || e.name == "..") continue;
        mutants::add_dir_entry(acc, e.name, d_type_of(e.type), ino_of(img, e.nid));
        children.emplace_back(e.name);
      }
    }
    std::fputs(mutants::line(it.path, meta_of(img, *ino), data, xattrs_of(img, *ino)).c_str(), out);
    if (it.depth >= mutants::max_depth) continue;
    for (auto c = children.rbegin(); c != children.rend(); ++c)
      stack.push_back({(it.path == "/" ? "" : it.path) + "/" + *c, it.depth + 1, ino->nid, *c});
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool save = argc == 6 && std::string(argv[3]) == "--save";
  if (argc != 4 && !save) {
    std::fprintf(stderr, "usage: host_walk JOBS BASE_DIR OUT | JOBS BASE_DIR --save ID FILE\n");
    return 2;
  }
  std::vector<mutants::job> jobs;
  if (!mutants::read_jobs(argv[1], jobs)) {
    std::fprintf(stderr, "host_walk: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string base = argv[2];
  std::FILE* out = save ? nullptr : std::fopen(argv[3], "w");
  if (!save && !out) {
    std::perror(argv[3]);
    return 1;
  }
  std::map<std::string, std::string> pristine;
  std::map<std::string, std::unique_ptr<mmap_source>> device_files;
  for (const mutants::job& j : jobs) {  // bounded: the job list
    if (save && j.id != argv[4]) continue;
    auto& bytes = pristine[j.image];
    if (bytes.empty() && !mutants::slurp(base + "/" + j.image, bytes)) {
      std::fprintf(stderr, "host_walk: cannot read %s\n", j.image.c_str());
      return 1;
    }
    std::string img_bytes = bytes;
    mutants::apply(img_bytes, j.patches);
    if (save) {
      std::FILE* f = std::fopen(argv[5], "wb");
      const bool ok = f && std::fwrite(img_bytes.data(), 1, img_bytes.size(), f) == img_bytes.size();
      if (!f || std::fclose(f) != 0 || !ok) return 1;
      return 0;
    }
    std::vector<source_ref> devs;
    for (const std::string& d : j.devices) {
      auto& src = device_files[d];
      if (!src) {
        auto opened = mmap_source::open((base + "/" + d).c_str());
        if (!opened) {
          std::fprintf(stderr, "host_walk: %s: %s\n", d.c_str(), opened.error().message().c_str());
          return 1;
        }
        src = std::make_unique<mmap_source>(std::move(*opened));
      }
      devs.emplace_back(*src);
    }
    memory_source src(img_bytes.data(), img_bytes.size());
    open_options opt;
    opt.devices = devs;
    opt.decompressors = &all_decompressors();
    std::fprintf(out, "BEGIN %s\n", j.id.c_str());
    auto img = open_image(src, opt);
    if (!img) {
      const std::string e = err(img.error());
      std::fputs(mutants::line("/", e, e, e).c_str(), out);
    } else {
      walk(*img, out);
    }
    std::fprintf(out, "END %s ok\n", j.id.c_str());
  }
  if (save) {
    std::fprintf(stderr, "host_walk: no job %s\n", argv[4]);
    return 1;
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
