// Deterministic mutant generator for the differential test against the kernel. Finds the
// structures of each pristine fixture with the library itself (metadata ranges by kind: the
// superblock, inodes, xattr areas, directory blocks, lcluster indexes, chunk indexes) and
// writes a job list (jobs.hpp): first every pristine image (the baseline), then N mutants,
// round-robin over the images. Mutant i depends only on (seed, i, image bytes), so any one is
// reproducible alone. Each mutant gets 1-3 mutations of these kinds:
//
//   flip        a random bit or byte anywhere in the image
//   meta-flip   a random bit or byte inside a metadata range
//   sb          a superblock field set to a boundary or nearby value
//   inode       an inode field (format, xattr count, mode, size, nlink/ptr, u, uid, ...)
//   dirent      a dirent's nid, nameoff or file type, or a name byte
//   zmap        a compressed inode's map header field or an lcluster index word
//   chunk       a chunk index / block map entry field
//   xattr       the shared count or name filter of an xattr area, an entry's lengths
//
// When the mutated superblock has the checksum feature, the checksum is recomputed (9 times in
// 10: the tenth checks that both reject a stale one), so field mutations reach the code past it.
//
// Usage: mutate IMAGES N SEED > jobs   (IMAGES lines: <name>\t<image>\t<devices|->, paths
//        relative to the directory in $MUTANTS_BASE, default ".")
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <erofsfs/codecs/all.hpp>
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include "jobs.hpp"

namespace {

using namespace erofsfs;

struct rng {
  std::uint64_t s;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
};

struct field {
  std::uint64_t offset;  // in the image
  unsigned width;        // 1, 2, 4 or 8 bytes, little endian
};

// What the mutator knows of one pristine image.
struct target {
  std::string name, image;
  std::vector<std::string> devices;
  std::string bytes;
  unsigned blkszbits = 12;
  std::vector<metadata_range> ranges;  // unmerged, primary device only
  std::vector<inode> inodes;           // every inode of the tree outside the metabox
};

std::uint64_t get(const std::string& b, field f) {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < f.width; ++i)
    if (f.offset + i < b.size()) v |= std::uint64_t{static_cast<unsigned char>(b[f.offset + i])} << (8 * i);
  return v;
}

void put(std::string& b, field f, std::uint64_t v) {
  for (unsigned i = 0; i < f.width; ++i)
    if (f.offset + i < b.size()) b[f.offset + i] = static_cast<char>(v >> (8 * i));
}

// A new value for a field: boundaries, neighbours, single-bit flips and random values, the
// shapes that slip past a check that is off by one or missing.
std::uint64_t new_value(rng& r, std::uint64_t old, unsigned width) {
  const std::uint64_t all = width == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * width)) - 1;
  switch (r.below(9)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return all;
    case 3: return (old + 1) & all;
    case 4: return (old - 1) & all;
    case 5: return old ^ (std::uint64_t{1} << r.below(8 * width));
    case 6: return (old << 1) & all;
    case 7: return all >> 1;  // the largest positive value
    default: return r.next() & all;
  }
}

void mutate_field(rng& r, std::string& b, field f) { put(b, f, new_value(r, get(b, f), f.width)); }

void flip_at(rng& r, std::string& b, std::uint64_t off) {
  if (off >= b.size()) return;
  if (r.below(2))
    b[off] = static_cast<char>(b[off] ^ (1 << r.below(8)));
  else
    b[off] = static_cast<char>(r.below(256));
}

const metadata_range* pick_range(rng& r, const target& t, std::initializer_list<metadata_kind> kinds) {
  std::vector<const metadata_range*> c;
  for (const metadata_range& m : t.ranges)
    for (metadata_kind k : kinds)
      if (m.kind == k && m.length > 0) c.push_back(&m);
  return c.empty() ? nullptr : c[r.below(c.size())];
}

#define FIELD(T, f) field{base + offsetof(disk::T, f), sizeof(disk::T::f)}

bool mutate_sb(rng& r, const target& t, std::string& b) {
  const std::uint64_t base = disk::super_offset;
  std::vector<field> fs = {
      FIELD(super_block, checksum),      FIELD(super_block, feature_compat),
      FIELD(super_block, blkszbits),     FIELD(super_block, sb_extslots),
      FIELD(super_block, rootnid_2b),    FIELD(super_block, inos),
      FIELD(super_block, epoch),         FIELD(super_block, fixed_nsec),
      FIELD(super_block, blocks_lo),     FIELD(super_block, meta_blkaddr),
      FIELD(super_block, xattr_blkaddr), FIELD(super_block, feature_incompat),
      FIELD(super_block, u1),            FIELD(super_block, extra_devices),
      FIELD(super_block, devt_slotoff),  FIELD(super_block, dirblkbits),
      FIELD(super_block, xattr_prefix_count), FIELD(super_block, xattr_prefix_start),
      FIELD(super_block, packed_nid),    FIELD(super_block, build_time),
      FIELD(super_block, rootnid_8b),    FIELD(super_block, metabox_nid)};
  (void)t;
  mutate_field(r, b, fs[r.below(fs.size())]);
  return true;
}

bool mutate_inode(rng& r, const target& t, std::string& b) {
  if (t.inodes.empty()) return false;
  const inode& ino = t.inodes[r.below(t.inodes.size())];
  const std::uint64_t base = ino.pos;
  std::vector<field> fs;
  if (ino.isize == sizeof(disk::inode_compact))
    fs = {FIELD(inode_compact, i_format), FIELD(inode_compact, i_xattr_icount),
          FIELD(inode_compact, i_mode),   FIELD(inode_compact, i_nb),
          FIELD(inode_compact, i_size),   FIELD(inode_compact, i_mtime),
          FIELD(inode_compact, i_u),      FIELD(inode_compact, i_ino),
          FIELD(inode_compact, i_uid),    FIELD(inode_compact, i_gid)};
  else
    fs = {FIELD(inode_extended, i_format), FIELD(inode_extended, i_xattr_icount),
          FIELD(inode_extended, i_mode),   FIELD(inode_extended, i_nb),
          FIELD(inode_extended, i_size),   FIELD(inode_extended, i_u),
          FIELD(inode_extended, i_ino),    FIELD(inode_extended, i_uid),
          FIELD(inode_extended, i_gid),    FIELD(inode_extended, i_mtime),
          FIELD(inode_extended, i_mtime_nsec), FIELD(inode_extended, i_nlink)};
  const field f = fs[r.below(fs.size())];
  if (f.offset == base + offsetof(disk::inode_compact, i_mode) && r.below(2)) {
    // Another file type, same permissions: data read through the wrong layout's eyes.
    static constexpr std::uint16_t types[] = {0100000, 0040000, 0120000, 0020000, 0060000,
                                              0010000, 0140000, 0};
    put(b, f, (get(b, f) & 07777) | types[r.below(std::size(types))]);
  } else if (f.offset == base && r.below(2)) {
    put(b, f, r.below(0x40));  // i_format: every layout and flag combination, and a few more
  } else {
    mutate_field(r, b, f);
  }
  return true;
}

bool mutate_dirent(rng& r, const target& t, std::string& b) {
  const metadata_range* m =
      pick_range(r, t, {metadata_kind::directory_data, metadata_kind::inline_data});
  if (!m) return false;
  // Only uncompressed directories have dirents at these bytes; the others get a byte flip.
  bool plain = false;
  for (const inode& i : t.inodes)
    if (i.nid == m->nid) plain = i.is_dir() && !i.is_compressed();
  if (!plain) {
    flip_at(r, b, m->offset + r.below(m->length));
    return true;
  }
  const std::uint64_t bs = std::uint64_t{1} << t.blkszbits;
  const std::uint64_t blk =
      m->kind == metadata_kind::inline_data ? m->offset : m->offset + (r.below(m->length / bs + 1) * bs);
  if (blk + 12 > b.size() || blk >= m->offset + m->length) return false;
  const std::uint64_t nameoff0 = get(b, {blk + 8, 2});
  const std::uint64_t count = std::max<std::uint64_t>(1, std::min<std::uint64_t>(nameoff0 / 12, bs / 12));
  const std::uint64_t base = blk + 12 * r.below(count);
  switch (r.below(4)) {
    case 0: mutate_field(r, b, FIELD(dirent, nid)); break;
    case 1: mutate_field(r, b, FIELD(dirent, nameoff)); break;
    case 2: put(b, FIELD(dirent, file_type), r.below(10)); break;
    default: flip_at(r, b, blk + nameoff0 + r.below(std::max<std::uint64_t>(1, m->length > nameoff0 ? std::min(m->length, bs) - nameoff0 : 1)));
  }
  return true;
}

bool mutate_zmap(rng& r, const target& t, std::string& b) {
  const metadata_range* m = pick_range(r, t, {metadata_kind::compressed_indexes});
  if (!m || (m->nid & disk::nid_metabox_bit)) return false;
  if (m->length <= 8 || r.below(3) == 0) {
    // The map header: h_fragmentoff / h_idata_size, h_advise, h_algorithmtype, h_clusterbits.
    static constexpr field hdr[] = {{0, 4}, {0, 2}, {4, 2}, {6, 1}, {7, 1}};
    const field f = hdr[r.below(std::size(hdr))];
    mutate_field(r, b, {m->offset + f.offset, f.width});
  } else {
    // An index word: 2-byte aligned, 2 or 4 bytes wide (full indexes, compact packs, extents).
    const std::uint64_t at = m->offset + 8 + (r.below((m->length - 8) / 2) * 2);
    mutate_field(r, b, {at, r.below(2) ? 2u : 4u});
  }
  return true;
}

bool mutate_chunk(rng& r, const target& t, std::string& b) {
  const metadata_range* m = pick_range(r, t, {metadata_kind::chunk_indexes});
  if (!m) return false;
  bool indexes = false;
  for (const inode& i : t.inodes)
    if (i.nid == m->nid) indexes = i.chunk_format & disk::chunk_format_indexes;
  const unsigned unit = indexes ? 8 : 4;
  const std::uint64_t base = m->offset + unit * r.below(std::max<std::uint64_t>(1, m->length / unit));
  if (!indexes) {
    mutate_field(r, b, {base, 4});
  } else {
    static constexpr field fs[] = {{0, 2}, {2, 2}, {4, 4}};  // startblk_hi, device_id, startblk_lo
    const field f = fs[r.below(3)];
    mutate_field(r, b, {base + f.offset, f.width});
  }
  return true;
}

bool mutate_xattr(rng& r, const target& t, std::string& b) {
  const metadata_range* m =
      pick_range(r, t, {metadata_kind::inline_xattrs, metadata_kind::shared_xattr});
  if (!m) return false;
  std::uint64_t base = m->offset;
  if (m->kind == metadata_kind::shared_xattr) {
    static constexpr field fs[] = {{0, 1}, {1, 1}, {2, 2}};  // e_name_len, e_name_index, e_value_size
    const field f = fs[r.below(3)];
    mutate_field(r, b, {base + f.offset, f.width});
  } else if (r.below(3) == 0) {
    mutate_field(r, b, r.below(2) ? FIELD(xattr_ibody_header, h_shared_count)
                                  : FIELD(xattr_ibody_header, h_name_filter));
  } else if (m->length > 12) {
    // A shared id or an entry's bytes past the header.
    mutate_field(r, b, {base + 12 + (r.below((m->length - 12) / 2) * 2), r.below(2) ? 1u : 2u});
  } else {
    flip_at(r, b, base + r.below(m->length));
  }
  return true;
}

const char* mutate_one(rng& r, const target& t, std::string& b) {
  for (int attempt = 0; attempt < 16; ++attempt) {  // bounded: a kind may not apply
    switch (r.below(20)) {
      case 0: case 1: case 2:
        flip_at(r, b, r.below(b.size()));
        return "flip";
      case 3: case 4: case 5: {
        const metadata_range* m = t.ranges.empty() ? nullptr : &t.ranges[r.below(t.ranges.size())];
        if (!m) continue;
        flip_at(r, b, m->offset + r.below(m->length));
        return "meta-flip";
      }
      case 6: case 7: if (mutate_sb(r, t, b)) return "sb"; break;
      case 8: case 9: case 10: if (mutate_inode(r, t, b)) return "inode"; break;
      case 11: case 12: case 13: if (mutate_dirent(r, t, b)) return "dirent"; break;
      case 14: case 15: case 16: if (mutate_zmap(r, t, b)) return "zmap"; break;
      case 17: if (mutate_chunk(r, t, b)) return "chunk"; break;
      default: if (mutate_xattr(r, t, b)) return "xattr"; break;
    }
  }
  flip_at(r, b, r.below(b.size()));
  return "flip";
}

// The superblock checksum over the mutated bytes (superblock.hpp checks the same range).
void fix_checksum(std::string& b) {
  if (b.size() < disk::super_offset + disk::sb_base_size) return;
  const auto* sb = reinterpret_cast<const disk::super_block*>(b.data() + disk::super_offset);
  if (!(sb->feature_compat.get() & disk::compat_sb_chksum)) return;
  if (sb->blkszbits < 9 || sb->blkszbits > 30) return;
  const std::uint64_t bs = std::uint64_t{1} << sb->blkszbits;
  const std::uint64_t len = bs > 1024 ? bs - 1024 : bs;
  if (disk::super_offset + len > b.size()) return;
  const auto area = std::as_bytes(std::span(b.data() + disk::super_offset, len));
  constexpr std::byte zero[4]{};
  std::uint32_t crc = crc32c_raw(~0u, area.subspan(0, 4));
  crc = crc32c_raw(crc, zero);
  crc = crc32c_raw(crc, area.subspan(8, len - 8));
  put(b, {disk::super_offset + 4, 4}, crc);
}

std::vector<mutants::patch> diff(const std::string& a, const std::string& b) {
  std::vector<mutants::patch> out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (!out.empty() && out.back().offset + out.back().bytes.size() == i)
      out.back().bytes += b[i];
    else
      out.push_back({i, std::string(1, b[i])});
  }
  return out;
}

bool load(const std::string& base, target& t) {
  if (!mutants::slurp(base + "/" + t.image, t.bytes)) return false;
  std::vector<std::unique_ptr<mmap_source>> files;
  std::vector<source_ref> devs;
  for (const std::string& d : t.devices) {
    auto opened = mmap_source::open((base + "/" + d).c_str());
    if (!opened) return false;
    files.push_back(std::make_unique<mmap_source>(std::move(*opened)));
    devs.emplace_back(*files.back());
  }
  memory_source src(t.bytes.data(), t.bytes.size());
  open_options opt;
  opt.devices = devs;
  opt.decompressors = &all_decompressors();
  auto img = open_image(src, opt);
  if (!img) {
    std::fprintf(stderr, "mutate: %s: %s\n", t.name.c_str(), img.error().message().c_str());
    return false;
  }
  t.blkszbits = img->blkszbits();
  read_context ctx;
  auto st = for_each_metadata_range(*img, ctx, [&](const metadata_range& m) {
    if (m.device == 0 && m.offset < t.bytes.size()) t.ranges.push_back(m);
  });
  if (!st) return false;
  st = walk(*img, ctx, [&](const walk_entry& w) -> status {
    if (!w.ino.in_metabox) t.inodes.push_back(w.ino);
    return {};
  });
  return static_cast<bool>(st);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mutate IMAGES N SEED\n");
    return 2;
  }
  const char* base_env = std::getenv("MUTANTS_BASE");
  const std::string base = base_env ? base_env : ".";
  std::vector<target> targets;
  std::ifstream list(argv[1]);
  for (std::string l; std::getline(list, l);) {
    const auto f = mutants::split(l, '\t');
    if (f.size() != 3) continue;
    target t;
    t.name = f[0];
    t.image = f[1];
    if (f[2] != "-") t.devices = mutants::split(f[2], ',');
    if (!load(base, t)) {
      std::fprintf(stderr, "mutate: cannot load %s\n", t.name.c_str());
      return 1;
    }
    targets.push_back(std::move(t));
  }
  if (targets.empty()) return 1;
  const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const std::uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  for (const target& t : targets)
    std::fputs(mutants::format_job({"base-" + t.name, t.image, "pristine", t.devices, {}}).c_str(), stdout);
  for (std::uint64_t i = 0; i < n; ++i) {
    const target& t = targets[i % targets.size()];
    rng r{seed * 0x100000001B3ull ^ (i + 1) * 0x9E3779B97F4A7C15ull};
    std::string b = t.bytes;
    std::string what;
    for (int tries = 0; tries < 8 && b == t.bytes; ++tries) {  // bounded: a no-op mutation is redrawn
      what.clear();
      const unsigned count = r.below(5) == 0 ? 2 + static_cast<unsigned>(r.below(2)) : 1;
      for (unsigned k = 0; k < count; ++k) what += (what.empty() ? "" : "+") + std::string(mutate_one(r, t, b));
      if (r.below(10) != 0) {
        fix_checksum(b);
      } else {
        what += "+stale-csum";
      }
    }
    if (b == t.bytes) continue;
    char id[64];
    std::snprintf(id, sizeof id, "m%05llu-%s", static_cast<unsigned long long>(i), t.name.c_str());
    std::fputs(mutants::format_job({id, t.image, what, t.devices, diff(t.bytes, b)}).c_str(), stdout);
  }
  return 0;
}
