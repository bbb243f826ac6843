// Hermetic-parser fuzz target: the input bytes are handed straight to the L2 parsers, with no
// image around them. They are read as a superblock area (what follows image offset 1024, then
// the compression config records and a device table), as raw inodes at every 32-byte slot, and
// as one directory block whose entries are then listed and searched.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include <erofsfs/format/dir_block.hpp>
#include <erofsfs/format/inode.hpp>
#include <erofsfs/format/superblock.hpp>

namespace {

using namespace erofsfs;

void parse_inodes(bytes_view in, const superblock& sb) {
  // Bounded: at most 64 slots.
  for (std::size_t off = 0; off + 2 <= in.size() && off < 64 * 32; off += 32) {
    const bytes_view raw = in.subspan(off, std::min<std::size_t>(64, in.size() - off));
    auto ino = parse_inode(raw, off / 32, off, false, sb);
    if (ino && (ino->isize != 32 && ino->isize != 64)) std::abort();
  }
}

void parse_dir(bytes_view in) {
  const std::size_t len = std::min<std::size_t>(in.size(), 64u << 10);
  auto blk = dir_block::parse(in.first(len), 0, 0);
  if (!blk) return;
  if (blk->size() == 0 || blk->size() * 12 > len) std::abort();
  std::string prev;
  for (std::size_t i = 0; i < blk->size(); ++i) {  // bounded by the validated count
    const dirent_info e = blk->entry(i);
    if (e.name.empty() || e.name.size() > 255) std::abort();
    auto found = blk->find(e.name);
    // parse() guarantees sorted unique names, so binary search finds every entry.
    if (!found || found->nid != e.nid) std::abort();
  }
  (void)blk->find("");
  (void)blk->find("~~~~");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bytes_view in(reinterpret_cast<const std::byte*>(data), size);

  superblock sb;
  bool have_sb = false;
  // Called even when the input is shorter than superblock_read_size(): the parser must refuse
  // a short area by itself.
  {
    auto parsed = parse_superblock(in);
    if (parsed) {
      sb = *parsed;
      have_sb = true;
      superblock copy = sb;
      if (sb.sb_size <= in.size()) (void)parse_compression_configs(copy, in.subspan(sb.sb_size));
      const std::uint64_t dt = device_table_offset(sb);
      if (dt <= in.size()) (void)parse_device_table(sb, in.subspan(static_cast<std::size_t>(dt)));
    }
  }
  if (!have_sb) {
    // A plausible superblock so the inode parser runs on every input: 4 KiB blocks, every
    // feature that changes inode parsing switched on.
    sb.blkszbits = 12;
    sb.block_size = 4096;
    sb.feature_incompat = disk::incompat_48bit | disk::incompat_chunked_file;
    sb.available_compr_algs = 1;
  }
  parse_inodes(in, sb);
  parse_dir(in);
  return 0;
}
