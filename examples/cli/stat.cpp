// `erofsfs stat IMG PATH` (or `--nid N IMG`): every field of one inode as `key: value` lines, or
// one JSON object with --json (the final symlink of PATH is not followed, like stat(1) without
// -L).
#include <optional>

#include "common.hpp"
#include "json.hpp"

namespace erofsfs::cli {

namespace {

// The layout-specific facts, in both output forms.
struct layout_facts {
  bool whole_hole = false;                    // flat layouts: no start block
  std::optional<std::uint64_t> start_block;   // flat layouts
  std::optional<std::uint64_t> chunk_size;    // chunk-based
  std::optional<unsigned> chunk_format;       // chunk-based
  std::optional<std::uint64_t> compressed_blocks;
};

layout_facts facts_of(const inode& ino) {
  layout_facts f;
  if (!ino.has_data()) return f;
  switch (ino.layout) {
    case data_layout::flat_plain:
    case data_layout::flat_inline:
      if (ino.startblk == inode::hole_startblk)
        f.whole_hole = true;
      else
        f.start_block = ino.startblk;
      break;
    case data_layout::chunk_based:
      f.chunk_size = std::uint64_t{1} << ino.chunkbits;
      f.chunk_format = unsigned{ino.chunk_format};
      break;
    case data_layout::compressed_full:
    case data_layout::compressed_compact:
      f.compressed_blocks = ino.compressed_blocks;
      break;
  }
  return f;
}

bool is_device(const inode& ino) {
  return ino.type() == file_type::chrdev || ino.type() == file_type::blkdev;
}

void print_text(const image& img, const std::string& name, const inode& ino,
                const std::optional<std::string>& target, const std::vector<xattr>* xs) {
  std::printf("path: %s\n", escape(name).c_str());
  std::printf("nid: %" PRIu64 "\n", ino.nid);
  std::printf("ino: %" PRIu64 "\n", ino.ino(img.sb()));
  std::printf("type: %s\n", file_type_name(ino.type()));
  std::printf("mode: 0%06" PRIo32 " (%s)\n", ino.mode, mode_string(ino.mode).c_str());
  std::printf("nlink: %" PRIu32 "\n", ino.nlink);
  std::printf("uid: %" PRIu32 "\n", ino.uid);
  std::printf("gid: %" PRIu32 "\n", ino.gid);
  std::printf("size: %" PRIu64 "\n", ino.size);
  std::printf("blocks: %" PRIu64 "\n", ino.blocks_512);
  std::printf("mtime: %" PRId64 ".%09" PRIu32 " (%s UTC)\n", ino.mtime, ino.mtime_nsec,
              utc_time(ino.mtime).c_str());
  if (is_device(ino)) std::printf("rdev: %" PRIu32 ",%" PRIu32 "\n", ino.rdev_major, ino.rdev_minor);
  std::printf("inode: %s, %u bytes at 0x%" PRIx64 "%s\n", ino.isize == 64 ? "extended" : "compact",
              unsigned{ino.isize}, ino.pos, ino.in_metabox ? " in the metabox" : "");
  std::printf("layout: %s\n", data_layout_name(ino.layout));
  const layout_facts f = facts_of(ino);
  if (f.whole_hole) std::printf("start block: none (whole file is a hole)\n");
  if (f.start_block) std::printf("start block: %" PRIu64 "\n", *f.start_block);
  if (f.chunk_size) std::printf("chunk size: %" PRIu64 "\n", *f.chunk_size);
  if (f.chunk_format) std::printf("chunk format: 0x%04x\n", *f.chunk_format);
  if (f.compressed_blocks) std::printf("compressed blocks: %" PRIu64 "\n", *f.compressed_blocks);
  if (ino.is_dir() && ino.dot_omitted) std::printf("dot omitted: yes\n");
  if (target) std::printf("target: %s\n", escape(*target).c_str());
  if (!xs) return;  // unreadable: reported after the fields
  std::printf("xattrs: %zu\n", xs->size());
  for (const xattr& x : *xs)
    std::printf("  %s=\"%s\"\n", escape(x.name).c_str(), escape_value(x.value).c_str());
}

void print_json(const image& img, const std::string& name, const inode& ino,
                const std::optional<std::string>& target, const std::vector<xattr>* xs) {
  json::object j;
  j.string("path", name)
      .number("nid", ino.nid)
      .number("ino", ino.ino(img.sb()))
      .string("type", file_type_name(ino.type()))
      .number("mode", ino.mode)
      .number("nlink", ino.nlink)
      .number("uid", ino.uid)
      .number("gid", ino.gid)
      .number("size", ino.size)
      .number("blocks", ino.blocks_512)
      .number("mtime", ino.mtime)
      .number("mtime_nsec", ino.mtime_nsec);
  if (is_device(ino)) j.number("rdev_major", ino.rdev_major).number("rdev_minor", ino.rdev_minor);
  j.string("inode_format", ino.isize == 64 ? "extended" : "compact")
      .number("inode_size", unsigned{ino.isize})
      .number("inode_pos", ino.pos)
      .boolean("in_metabox", ino.in_metabox)
      .string("layout", data_layout_name(ino.layout));
  const layout_facts f = facts_of(ino);
  if (f.whole_hole) j.null("start_block");
  if (f.start_block) j.number("start_block", *f.start_block);
  if (f.chunk_size) j.number("chunk_size", *f.chunk_size);
  if (f.chunk_format) j.number("chunk_format", *f.chunk_format);
  if (f.compressed_blocks) j.number("compressed_blocks", *f.compressed_blocks);
  if (ino.is_dir()) j.boolean("dot_omitted", ino.dot_omitted);
  if (target) j.string("target", *target);
  if (xs) {
    json::array xattrs;
    for (const xattr& x : *xs)
      xattrs.add(json::object().string("name", x.name).string("value", x.value).str());
    j.raw("xattrs", xattrs.str());
  } else {
    j.null("xattrs");  // unreadable: reported on stderr
  }
  json::print_line(j);
}

int run_stat(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const image& img = o->img;
  read_context ctx;
  const std::string* path = a.positional.size() > 1 ? &a.positional[1] : nullptr;
  const std::string name = subject_name(a, path);
  auto r = find_subject(*o, path, a.number("nid"), ctx, false);
  if (!r) {
    report(a.cmd, name, r.error());
    return exit_problem;
  }
  const inode& ino = *r;
  bool failed = false;
  std::optional<std::string> target;
  if (ino.is_symlink()) {
    auto t = read_link(img, ino, ctx);
    if (t) {
      target = std::move(*t);
    } else {
      report(a.cmd, name, t.error());
      failed = true;
    }
  }
  auto xs = list_xattrs(img, ino);
  const std::vector<xattr>* xattrs = xs ? &*xs : nullptr;
  if (a.has("json"))
    print_json(img, name, ino, target, xattrs);
  else
    print_text(img, name, ino, target, xattrs);
  if (!xs) {
    std::fflush(stdout);
    report(a.cmd, name, xs.error());
    failed = true;
  }
  return failed ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    common::json,
    common::nid,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}, {"PATH", arity::one, "nid"}};

}  // namespace

const command_spec stat_command{"stat", "every inode field, including xattrs", options,
                                common::image_options, positionals, run_stat};

}  // namespace erofsfs::cli
