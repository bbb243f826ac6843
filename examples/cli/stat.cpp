// `erofsfs stat IMG PATH`: every field of one inode as `key: value` lines (the final symlink of
// PATH is not followed, like stat(1) without -L).
#include "common.hpp"

namespace erofsfs::cli {

int run_stat(int argc, char** argv) {
  args a;
  if (int rc = parse_args(argc, argv, {}, 2, 2, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const image& img = o->img;
  read_context ctx;
  const std::string& path = a.positional[1];
  auto r = resolve_path(img, path, ctx, false);
  if (!r) {
    report(a.cmd, path, r.error());
    return exit_problem;
  }
  const inode& ino = *r;
  bool failed = false;
  std::printf("path: %s\n", escape(path).c_str());
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
  if (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev)
    std::printf("rdev: %" PRIu32 ",%" PRIu32 "\n", ino.rdev_major, ino.rdev_minor);
  std::printf("inode: %s, %u bytes at 0x%" PRIx64 "%s\n", ino.isize == 64 ? "extended" : "compact",
              unsigned{ino.isize}, ino.pos, ino.in_metabox ? " in the metabox" : "");
  std::printf("layout: %s\n", data_layout_name(ino.layout));
  if (ino.has_data()) {
    switch (ino.layout) {
      case data_layout::flat_plain:
      case data_layout::flat_inline:
        if (ino.startblk == inode::hole_startblk)
          std::printf("start block: none (whole file is a hole)\n");
        else
          std::printf("start block: %" PRIu64 "\n", ino.startblk);
        break;
      case data_layout::chunk_based:
        std::printf("chunk size: %" PRIu64 "\n", std::uint64_t{1} << ino.chunkbits);
        std::printf("chunk format: 0x%04x\n", unsigned{ino.chunk_format});
        break;
      case data_layout::compressed_full:
      case data_layout::compressed_compact:
        std::printf("compressed blocks: %" PRIu32 "\n", ino.compressed_blocks);
        break;
    }
  }
  if (ino.is_dir() && ino.dot_omitted) std::printf("dot omitted: yes\n");
  if (ino.is_symlink()) {
    auto target = read_link(img, ino, ctx);
    if (target) {
      std::printf("target: %s\n", escape(*target).c_str());
    } else {
      report(a.cmd, path, target.error());
      failed = true;
    }
  }
  auto xs = list_xattrs(img, ino);
  if (!xs) {
    report(a.cmd, path, xs.error());
    return exit_problem;
  }
  std::printf("xattrs: %zu\n", xs->size());
  for (const xattr& x : *xs)
    std::printf("  %s=\"%s\"\n", escape(x.name).c_str(), escape_value(x.value).c_str());
  return failed ? exit_problem : exit_ok;
}

}  // namespace erofsfs::cli
