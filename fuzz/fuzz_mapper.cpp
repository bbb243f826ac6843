// Mapper fuzz target: opens the input as an image, collects inodes (those the tree walk reaches
// plus the first inode slots after the root, reachable or not) and maps many offsets of each:
// both ends, block and chunk boundaries, and offsets taken from the input's last bytes. Every
// extent returned must satisfy the mapper's contract; a violation aborts. check_mapping() runs
// over every index entry of each inode as well.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <erofsfs/erofsfs.hpp>

namespace {

using namespace erofsfs;

constexpr std::size_t max_inodes = 256;

void check_extent(const image& img, const inode& ino, std::uint64_t offset, const extent& e) {
  if (e.length == 0 || e.logical > offset || e.end() <= offset || e.end() < e.logical)
    std::abort();  // must contain the offset, without wrapping
  if (!ino.is_compressed() && e.end() > ino.size) std::abort();
  switch (e.kind) {
    case extent_kind::mapped:
      if (e.physical_length != e.length || e.physical + e.length < e.physical) std::abort();
      if (e.device > img.sb().extra_devices) std::abort();
      break;
    case extent_kind::inline_data:
      if (e.physical_length != e.length) std::abort();
      break;
    case extent_kind::encoded:
      if (e.physical_length == 0 && !(e.flags & extent_flags::in_metadata)) break;
      if (e.physical + e.physical_length < e.physical) std::abort();
      break;
    case extent_kind::hole:
    case extent_kind::fragment:
      break;
  }
}

void map_offsets(const image& img, const inode& ino, const std::vector<std::uint64_t>& extra) {
  if (!ino.has_data() || ino.size == 0) {
    auto r = map_extent(img, ino, 0);
    if (r) std::abort();  // nothing to map: must be an error
    return;
  }
  std::vector<std::uint64_t> offs = {0, ino.size - 1, ino.size / 2};
  const std::uint64_t bs = img.block_size();
  for (std::uint64_t b : {bs, 2 * bs, ino.size & ~(bs - 1)}) {
    offs.push_back(b);
    if (b) offs.push_back(b - 1);
  }
  if (ino.layout == data_layout::chunk_based && ino.chunkbits < 64) {
    const std::uint64_t c = std::uint64_t{1} << ino.chunkbits;
    offs.push_back(c);
    offs.push_back(c - 1);
    offs.push_back((ino.size - 1) & ~(c - 1));
  }
  for (std::uint64_t x : extra) offs.push_back(x % ino.size);
  for (std::uint64_t off : offs) {
    if (off >= ino.size) continue;
    auto e = map_extent(img, ino, off);
    if (!e) {
      if (e.error().code == errc::internal) std::abort();
      continue;
    }
    check_extent(img, ino, off, *e);
    // Mapping the first byte of an extent must give an extent containing that byte too.
    auto again = map_extent(img, ino, e->logical);
    if (again) check_extent(img, ino, e->logical, *again);
  }
  auto past = map_extent(img, ino, ino.size);
  if (past) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memory_source src(data, size);
  open_options opt;
  opt.require_devices = size > 0 && (data[size - 1] & 1);
  auto img = open_image(src, opt);
  if (!img) {
    if (img.error().code == errc::internal) std::abort();
    return 0;
  }
  // Offsets chosen by the fuzzer: the input's last 32 bytes as four little-endian u64.
  std::vector<std::uint64_t> extra;
  for (std::size_t i = 0; i < 4 && size >= 32; ++i) {
    std::uint64_t v;
    std::memcpy(&v, data + size - 32 + 8 * i, 8);
    extra.push_back(v);
  }
  std::vector<inode> inodes;
  read_context ctx;
  (void)walk(*img, ctx, [&](const walk_entry& w) -> status {
    if (inodes.size() >= max_inodes) return make_error(errc::limit_exceeded, "enough inodes");
    inodes.push_back(w.ino);
    return {};
  });
  const std::uint64_t root = img->sb().root_nid;
  for (std::uint64_t k = 1; k <= 64; ++k) {  // unreachable inodes too: slots after the root
    auto ino = read_inode(*img, root + k);
    if (ino) inodes.push_back(*ino);
  }
  if (const inode* packed = img->packed_inode()) inodes.push_back(*packed);
  for (const inode& ino : inodes) {
    map_offsets(*img, ino, extra);
    // Every index entry: must finish (bounded by the entries) and never be our own fault.
    if (const auto p = check_mapping(*img, ino); p && p->err.code == errc::internal) std::abort();
  }
  return 0;
}
