// Malformed images made from REAL fixture images: load the bytes, patch exactly one field at an
// offset computed from the parsed structures, re-seal the superblock checksum when the image
// has one, and check that reading fails with a specific error (and finishes).
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/image_builder.hpp"

using namespace erofsfs;

namespace {

std::vector<std::byte> load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

// One directory entry of a pristine image and the byte position of its 12-byte dirent.
struct dirent_at {
  std::string name;
  std::uint64_t nid = 0;
  file_type type = file_type::unknown;
  std::uint64_t pos = 0;    // of the dirent record
  std::uint64_t block = 0;  // directory block index
  std::size_t index = 0;    // entry index in its block
  std::size_t count = 0;    // entries in its block
};

// A fixture image opened twice: `pristine` (read-only, to compute offsets) and the patched copy
// in `img`, opened by open().
class fixture {
 public:
  explicit fixture(const std::string& name)
      : orig_(load_file(std::string(EROFSFS_TEST_DATA) + "/images/" + name + "/" + name +
                        ".erofs")),
        orig_src_(orig_) {
    auto r = open_image(orig_src_);
    REQUIRE_MESSAGE(r, r.error().message());
    pristine = std::move(*r);
    img.bytes = orig_;
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  image pristine;
  test::raw_image img;
  read_context ctx;

  inode at(std::string_view path) {
    auto r = resolve_path(pristine, path, ctx);
    REQUIRE_MESSAGE(r, r.error().message());
    return *r;
  }
  // Byte position on the primary device of file byte `off` (uncompressed, primary only).
  std::uint64_t data_pos(const inode& ino, std::uint64_t off) {
    auto e = map_extent(pristine, ino, off);
    REQUIRE_MESSAGE(e, e.error().message());
    REQUIRE(e->device == 0);
    REQUIRE((e->kind == extent_kind::mapped || e->kind == extent_kind::inline_data));
    return e->physical + (off - e->logical);
  }
  std::vector<dirent_at> dirents(const inode& dir, std::uint64_t block) {
    std::vector<std::byte> scratch;
    const std::uint64_t off = block << pristine.blkszbits();
    auto v = read_view(pristine, dir, off, pristine.block_size(), scratch, ctx);
    REQUIRE(v);
    auto blk = dir_block::parse(*v, dir.nid, off);
    REQUIRE(blk);
    const std::uint64_t base = data_pos(dir, off);
    std::vector<dirent_at> out;
    for (std::size_t i = 0; i < blk->size(); ++i) {
      const dirent_info e = blk->entry(i);
      out.push_back({std::string(e.name), e.nid, e.type, base + 12 * i, block, i, blk->size()});
    }
    return out;
  }
  // The first entry (not "." or "..") of `dir` satisfying `pred`.
  template <class Pred>
  dirent_at find_entry(const inode& dir, Pred pred) {
    const std::uint64_t nblocks = div_round_up(dir.size, pristine.block_size());
    for (std::uint64_t b = 0; b < nblocks; ++b)
      for (const auto& e : dirents(dir, b))
        if (e.name != "." && e.name != ".." && pred(e)) return e;
    FAIL("no matching directory entry");
    return {};
  }
  // The first inode (walk order) satisfying `pred`.
  template <class Pred>
  inode find_inode(Pred pred) {
    std::optional<inode> found;
    auto st = walk(pristine, ctx, [&](const walk_entry& w) -> status {
      if (!found && pred(w.ino)) found = w.ino;
      return {};
    });
    REQUIRE(st);
    REQUIRE_MESSAGE(found, "no matching inode");
    return *found;
  }

  void set_size(const inode& ino, std::uint64_t size) {
    if (ino.isize == 64)
      img.le64(ino.pos + 8, size);
    else
      img.le32(ino.pos + 8, static_cast<std::uint32_t>(size));
  }

  // Opens the patched bytes (re-sealing the superblock checksum first when the image has one).
  result<image> open(const open_options& opt = {}, bool seal = true) {
    if (seal && pristine.sb().has_compat(disk::compat_sb_chksum))
      test::seal_superblock_checksum(img);
    src_ = memory_source(img.view());
    return open_image(src_, opt);
  }

 private:
  std::vector<std::byte> orig_;
  memory_source orig_src_;
  memory_source src_;
};

template <class R>
void check_error(const R& r, errc code, std::string_view what) {
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(r.error().code == code, r.error().message());
  CHECK(std::string_view(r.error().what) == what);
}

// Walks the whole tree reading every file, symlink and xattr; the first error ends it.
status read_everything(const image& img, read_context& ctx) {
  std::vector<std::byte> data;
  return walk(img, ctx, [&](const walk_entry& w) -> status {
    EROFSFS_TRY(list_xattrs(img, w.ino));
    if (w.ino.is_regular()) EROFSFS_TRY(read_all(img, w.ino, data, ctx));
    if (w.ino.is_symlink()) EROFSFS_TRY(read_link(img, w.ino, ctx));
    return {};
  });
}

bool is_subdir(const dirent_at& e) { return e.type == file_type::directory; }

// A source that remembers the largest single read it was asked for.
struct read_size_probe {
  memory_source inner;
  mutable std::size_t largest = 0;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    largest = std::max(largest, dst.size());
    return inner.read_at(off, dst);
  }
  std::uint64_t size() const noexcept { return inner.size(); }
};

}  // namespace

// --- superblock -------------------------------------------------------------------------------

TEST_CASE("malformed: a 1 GiB block size is refused before anything is sized from it") {
  fixture f("plain-4k");
  f.img.u8(disk::super_offset + 12, 30);  // blkszbits
  // Not re-sealed: the block size is checked before the checksum, which would cover 1 GiB.
  read_size_probe probe{memory_source(f.img.view())};
  check_error(open_image(probe), errc::unsupported,
              what::block_size_larger_than_the_configured_maximum);
  CHECK(probe.largest <= 4096);
}

// --- directory structure ----------------------------------------------------------------------

TEST_CASE("malformed: a subdirectory entry pointing back at the root is a directory loop") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const dirent_at sub = f.find_entry(dir, is_subdir);
  f.img.le64(sub.pos, f.pristine.sb().root_nid);
  auto img = f.open();
  REQUIRE(img);
  check_error(walk(*img, f.ctx, [](const walk_entry&) -> status { return {}; }),
              errc::corrupted, "directory reached twice (loop or hard-linked directory)");
}

TEST_CASE("malformed: a directory entry pointing at its own directory is a loop") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const dirent_at sub = f.find_entry(dir, is_subdir);
  f.img.le64(sub.pos, dir.nid);
  auto img = f.open();
  REQUIRE(img);
  check_error(walk(*img, f.ctx, [](const walk_entry&) -> status { return {}; }),
              errc::corrupted, "directory reached twice (loop or hard-linked directory)");
  // Path resolution through the self-link terminates too: each component is one lookup.
  std::string path = "/bigdir";
  for (int i = 0; i < 200; ++i) path += "/" + sub.name;
  auto ino = resolve_path(*img, path, f.ctx);
  REQUIRE(ino);
  CHECK(ino->nid == dir.nid);
}

TEST_CASE("malformed: nesting deeper than limits::max_depth stops the walk") {
  fixture f("plain-4k");
  open_options opt;
  opt.lim.max_depth = 1;
  auto img = f.open(opt);
  REQUIRE(img);
  check_error(walk(*img, f.ctx, [](const walk_entry&) -> status { return {}; }),
              errc::limit_exceeded, "directory deeper than limits::max_depth");
}

TEST_CASE("malformed: a path through a self-link deeper than limits::max_depth") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const dirent_at sub = f.find_entry(dir, is_subdir);
  f.img.le64(sub.pos, dir.nid);
  open_options opt;
  opt.lim.max_depth = 32;
  auto img = f.open(opt);
  REQUIRE(img);
  std::string path = "/bigdir";
  for (int i = 0; i < 40; ++i) path += "/" + sub.name;
  check_error(resolve_path(*img, path, f.ctx), errc::limit_exceeded,
              what::path_deeper_than_limits_max_depth);
}

TEST_CASE("malformed: dirent name offsets that do not increase") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const auto ents = f.dirents(dir, 0);
  REQUIRE(ents.size() >= 3);
  f.img.le16(ents[2].pos + 8, f.img.get16(ents[1].pos + 8));
  auto img = f.open();
  REQUIRE(img);
  dir_reader r(*img, dir, f.ctx);
  dir_entry e;
  check_error(r.next(e), errc::corrupted, what::dirent_nameoff_not_increasing);
  check_error(lookup(*img, dir, ents[1].name, f.ctx), errc::corrupted,
              what::dirent_nameoff_not_increasing);
}

TEST_CASE("malformed: the last dirent name offset outside the block") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const auto ents = f.dirents(dir, 0);
  REQUIRE(ents.size() >= 2);
  f.img.le16(ents.back().pos + 8, 0xFFFF);
  auto img = f.open();
  REQUIRE(img);
  // The entry before the last one ends its name at the last nameoff, so that check fires.
  dir_reader r(*img, dir, f.ctx);
  dir_entry e;
  check_error(r.next(e), errc::corrupted, what::dirent_nameoff_not_increasing);
  check_error(lookup(*img, dir, ents.back().name, f.ctx), errc::corrupted,
              what::dirent_nameoff_not_increasing);
}

TEST_CASE("malformed: a first dirent name offset that is not a multiple of 12") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const auto ents = f.dirents(dir, 1);
  f.img.le16(ents[0].pos + 8, static_cast<std::uint16_t>(f.img.get16(ents[0].pos + 8) + 1));
  auto img = f.open();
  REQUIRE(img);
  // Block 1 is only reached after block 0's entries: readdir fails there, lookup at once.
  check_error(read_everything(*img, f.ctx), errc::corrupted, what::invalid_first_dirent_nameoff);
  check_error(lookup(*img, dir, ents[0].name, f.ctx), errc::corrupted,
              what::invalid_first_dirent_nameoff);
}

TEST_CASE("malformed: a first dirent name offset past the block") {
  fixture f("plain-4k");
  const inode dir = f.at("/bigdir");
  const auto ents = f.dirents(dir, 0);
  f.img.le16(ents[0].pos + 8, static_cast<std::uint16_t>(f.pristine.block_size()));
  auto img = f.open();
  REQUIRE(img);
  dir_reader r(*img, dir, f.ctx);
  dir_entry e;
  check_error(r.next(e), errc::corrupted, what::invalid_first_dirent_nameoff);
}

// --- inode fields -----------------------------------------------------------------------------

TEST_CASE("malformed: a huge i_size on a flat file is refused by read_all and fails past the image") {
  fixture f("plain-4k");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout == data_layout::flat_plain && i.size > 4096;
  });
  REQUIRE(file.isize == 64);
  f.set_size(file, std::uint64_t{1} << 62);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::limit_exceeded,
              what::file_larger_than_limits_max_read_all);
  std::byte buf[16];
  check_error(read(*img, *ino, std::uint64_t{1} << 61, buf, f.ctx), errc::truncated,
              "data past the end of the device");
}

TEST_CASE("malformed: an i_size above INT64_MAX is corruption") {
  fixture f("plain-4k");
  const inode file = f.find_inode([](const inode& i) { return i.is_regular(); });
  f.set_size(file, ~std::uint64_t{0} - 7);
  auto img = f.open();
  REQUIRE(img);
  check_error(read_inode(*img, file.nid), errc::corrupted, what::negative_i_size);
}

TEST_CASE("malformed: a symlink of size UINT64_MAX is corruption") {
  fixture f("plain-4k");
  const inode link = f.find_inode([](const inode& i) { return i.is_symlink(); });
  f.set_size(link, ~std::uint64_t{0});
  auto img = f.open();
  REQUIRE(img);
  check_error(read_inode(*img, link.nid), errc::corrupted, what::negative_i_size);
  check_error(read_everything(*img, f.ctx), errc::corrupted, what::negative_i_size);
}

TEST_CASE("malformed: a symlink longer than PATH_MAX - 1 is corruption") {
  fixture f("plain-4k");
  const inode link = f.find_inode([](const inode& i) { return i.is_symlink(); });
  f.set_size(link, 1u << 20);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, link.nid);
  REQUIRE(ino);
  check_error(read_link(*img, *ino, f.ctx), errc::corrupted,
              what::symlink_target_longer_than_path_max_1);
}

TEST_CASE("malformed: i_mode 0 has no file type") {
  fixture f("plain-4k");
  const inode file = f.find_inode([](const inode& i) { return i.is_regular(); });
  f.img.le16(file.pos + 4, 0);
  auto img = f.open();
  REQUIRE(img);
  check_error(read_inode(*img, file.nid), errc::corrupted, what::bogus_i_mode_file_type);
  check_error(read_everything(*img, f.ctx), errc::corrupted, what::bogus_i_mode_file_type);
}

TEST_CASE("malformed: a root whose i_mode is 0 fails open") {
  fixture f("plain-4k");
  f.img.le16(f.at("/").pos + 4, 0);
  check_error(f.open(), errc::corrupted, what::bogus_i_mode_file_type);
}

TEST_CASE("malformed: flat data blocks past the end of the device") {
  fixture f("plain-4k");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout != data_layout::chunk_based && i.size > 4096;
  });
  f.img.le32(file.pos + 16, 0xFFFFFF00u);  // i_u: start block
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::truncated,
              "data past the end of the device");
}

TEST_CASE("malformed: an inline tail crossing a block boundary") {
  fixture f("plain-4k");
  const std::uint64_t bs = f.pristine.block_size();
  const inode file = f.find_inode([&](const inode& i) {
    return i.is_regular() && i.layout == data_layout::flat_inline && i.size > 0 &&
           (i.tail_area_pos() & (bs - 1)) != 0;
  });
  // Same number of blocks, but a tail one byte longer than the room left in the block.
  const std::uint64_t tail_start = ((file.size - 1) / bs) * bs;
  f.set_size(file, tail_start + (bs - (file.tail_area_pos() & (bs - 1))) + 1);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(map_extent(*img, *ino, ino->size - 1), errc::corrupted,
              what::inline_data_crosses_a_block_boundary);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::corrupted,
              what::inline_data_crosses_a_block_boundary);
}

// --- xattrs -----------------------------------------------------------------------------------

TEST_CASE("malformed: an xattr area of exactly the header is refused like Linux does") {
  fixture f("plain-4k");
  const inode root = f.at("/");
  REQUIRE(root.xattr_icount > 0);
  f.img.le16(root.pos + 2, 1);  // icount 1: a 12-byte area
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, root.nid);
  REQUIRE(ino);
  check_error(list_xattrs(*img, *ino), errc::unsupported, what::xattr_area_with_only_a_header);
}

TEST_CASE("malformed: an xattr shared count larger than the area") {
  fixture f("plain-4k");
  const inode root = f.at("/");
  REQUIRE(root.xattr_icount > 0);
  f.img.u8(root.pos + root.isize + 4, 255);  // h_shared_count
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, root.nid);
  REQUIRE(ino);
  check_error(list_xattrs(*img, *ino), errc::corrupted, what::xattr_shared_count_exceeds_the_area);
}

TEST_CASE("malformed: an inline xattr value size running past the area") {
  fixture f("plain-4k");
  const inode root = f.at("/");
  REQUIRE(root.xattr_icount > 0);
  const std::uint64_t hdr = root.pos + root.isize;
  const unsigned shared = std::to_integer<unsigned>(f.img.bytes[hdr + 4]);
  const std::uint64_t entry = hdr + 12 + 4 * shared;
  f.img.le16(entry + 2, 0xFFFF);  // e_value_size
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, root.nid);
  REQUIRE(ino);
  check_error(list_xattrs(*img, *ino), errc::corrupted, what::xattr_entry_larger_than_its_area);
  check_error(get_xattr(*img, *ino, "user.root"), errc::corrupted,
              what::xattr_entry_larger_than_its_area);
}

TEST_CASE("malformed: an xattr icount of 65535 stays inside its bounds") {
  fixture f("plain-4k");
  const inode root = f.at("/");
  f.img.le16(root.pos + 2, 0xFFFF);  // a 256 KiB inline area over the following inodes
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, root.nid);
  REQUIRE(ino);
  CHECK(ino->xattr_isize == 12 + 4 * 65534u);
  // Whatever the following bytes decode to, listing ends (every entry consumes >= 4 bytes of
  // the area) with the entries or a corruption error, never a crash.
  auto xs = list_xattrs(*img, *ino);
  if (!xs) CHECK_MESSAGE(xs.error().code == errc::corrupted, xs.error().message());
}

TEST_CASE("malformed: a shared xattr id far outside the shared area") {
  fixture f("xattr-all-shared");
  const inode file = f.find_inode([&](const inode& i) {
    if (i.xattr_icount == 0) return false;
    return std::to_integer<unsigned>(f.img.bytes[i.pos + i.isize + 4]) > 0;
  });
  f.img.le32(file.pos + file.isize + 12, 0xFFFFFFFFu);  // first shared id
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(list_xattrs(*img, *ino), errc::truncated, what::metadata_past_the_end_of_the_image);
}

TEST_CASE("malformed: a long xattr prefix index beyond the prefix table is skipped like Linux") {
  fixture f("xattr-prefix-plain");
  REQUIRE(f.pristine.long_prefixes().size() == 2);
  // An inline entry that uses a long prefix.
  std::uint64_t entry_pos = 0;
  std::string name;
  const inode file = f.find_inode([&](const inode& i) {
    bool hit = false;
    (void)for_each_xattr(f.pristine, i, [&](const raw_xattr& x) -> status {
      if (!hit && !x.shared && (x.name_index & disk::xattr_long_prefix_bit)) {
        hit = true;
        entry_pos = x.pos;
        (void)xattr_full_name(f.pristine, x, name);
      }
      return {};
    });
    return hit;
  });
  f.img.u8(entry_pos + 1, disk::xattr_long_prefix_bit | 0x7F);  // prefix 127 of 2
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  auto before = list_xattrs(f.pristine, file);
  auto after = list_xattrs(*img, *ino);
  REQUIRE(before);
  REQUIRE(after);
  CHECK(after->size() + 1 == before->size());
  check_error(get_xattr(*img, *ino, name), errc::not_found, what::no_such_xattr);
}

TEST_CASE("malformed: more than 128 long xattr prefixes in the superblock") {
  fixture f("xattr-prefix-plain");
  f.img.u8(disk::super_offset + 0x5B, 200);  // xattr_prefix_count
  check_error(f.open(), errc::corrupted, what::more_than_128_long_xattr_prefixes);
}

// --- chunk-based files ------------------------------------------------------------------------

TEST_CASE("malformed: the largest chunk size bits put the whole file in chunk 0") {
  fixture f("chunk-4k-indexes");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout == data_layout::chunk_based && i.size > 8192;
  });
  f.img.le16(file.pos + 16, static_cast<std::uint16_t>(file.chunk_format |
                                                       disk::chunk_format_blkbits_mask));
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  CHECK(ino->chunkbits == f.pristine.blkszbits() + 31);
  auto e = map_extent(*img, *ino, ino->size - 1);
  REQUIRE(e);
  CHECK(e->logical == 0);
  CHECK(e->length == ino->size);
}

TEST_CASE("malformed: a chunk index array past the end of the image") {
  fixture f("chunk-4k-indexes");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout == data_layout::chunk_based && i.size > 0;
  });
  f.set_size(file, file.isize == 64 ? (std::uint64_t{1} << 60) : 0xFFFFFFFFu);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(map_extent(*img, *ino, ino->size - 1), errc::truncated,
              what::metadata_past_the_end_of_the_image);
  // The extent iterator stops at the first index past the image instead of walking 2^48
  // chunks (the bytes after the real array decode as garbage indexes until then).
  extent_iterator it(*img, *ino);
  extent e;
  result<bool> more = true;
  for (int n = 0; n < 10000000 && more && *more; ++n) more = it.next(e);
  check_error(more, errc::truncated, what::metadata_past_the_end_of_the_image);
}

TEST_CASE("malformed: a chunk block address past the end of the device") {
  fixture f("chunk-4k-blockmap");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout == data_layout::chunk_based && i.size > 0;
  });
  const std::uint64_t array = (file.tail_area_pos() + 3) & ~std::uint64_t{3};
  f.img.le32(array, 0x7FFFFFF0u);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::byte buf[64];
  check_error(read(*img, *ino, 0, buf, f.ctx), errc::truncated,
              "data past the end of the device");
}

TEST_CASE("malformed: a chunk device id beyond the device table") {
  fixture f("rebuild-two-layers");
  REQUIRE(f.pristine.sb().extra_devices == 2);
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.layout == data_layout::chunk_based && i.size > 0 &&
           (i.chunk_format & disk::chunk_format_indexes);
  });
  const std::uint64_t array = (file.tail_area_pos() + 7) & ~std::uint64_t{7};
  f.img.le16(array + 2, 3);  // device id 3 of 2 (the mask keeps 2 bits)
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(map_extent(*img, *ino, 0), errc::no_device, what::device_id_beyond_the_device_table);
}

// --- compressed files -------------------------------------------------------------------------

namespace {

bool compressed_regular(const inode& i, data_layout layout, std::uint64_t min_size) {
  return i.is_regular() && i.layout == layout && i.size >= min_size && !i.z.whole_fragment &&
         i.z.extent_recsz == 0 && !i.in_metabox;
}

// Full (8-byte) lcluster index `lcn` of `ino`: position and decoded fields.
struct full_index {
  std::uint64_t pos;
  unsigned type;
  std::uint32_t u;
};
full_index read_full_index(const fixture& f, const inode& ino, std::uint64_t lcn) {
  const std::uint64_t pos = ino.z.header_pos + 16 + 8 * lcn;
  const std::byte* p = f.img.bytes.data() + pos;
  return {pos, static_cast<unsigned>(load_le16(p) & disk::z_li_lcluster_type_mask), load_le32(p + 4)};
}

}  // namespace

TEST_CASE("malformed: compact indexes with lclusters above 16 KiB are refused like Linux") {
  fixture f("lz4");
  const inode file = f.find_inode([](const inode& i) {
    return compressed_regular(i, data_layout::compressed_compact, 8192);
  });
  // h_clusterbits: block bits + 3 = 15.
  f.img.u8(file.z.header_pos + 7, 3);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  CHECK(ino->z.lclusterbits == 15);
  check_error(map_extent(*img, *ino, 0), errc::unsupported,
              what::compact_indexes_with_lclusters_above_16_kib);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::unsupported,
              what::compact_indexes_with_lclusters_above_16_kib);
}

TEST_CASE("malformed: an unknown compression algorithm in the map header") {
  fixture f("lz4");
  const inode file = f.find_inode([](const inode& i) {
    return compressed_regular(i, data_layout::compressed_compact, 8192);
  });
  f.img.u8(file.z.header_pos + 6, 0x0F);  // head1 algorithm 15
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  // Some extents may be stored plain; the first compressed one fails.
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::unsupported,
              what::unknown_compression_algorithm);
}

TEST_CASE("malformed: a known algorithm the superblock does not enable") {
  fixture f("lz4");
  const inode file = f.find_inode([](const inode& i) {
    return compressed_regular(i, data_layout::compressed_compact, 8192);
  });
  f.img.u8(file.z.header_pos + 6, disk::compression_zstd);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::corrupted,
              what::compression_algorithm_not_enabled_in_the_superblock);
}

TEST_CASE("malformed: a NONHEAD lcluster whose lookback distance runs past lcluster 0") {
  fixture f("lz4-legacy-index");
  std::uint64_t target_lcn = 0;
  const inode file = f.find_inode([&](const inode& i) {
    if (!compressed_regular(i, data_layout::compressed_full, 3 * 4096)) return false;
    const std::uint64_t n = (i.size - 1) / 4096 + 1;
    for (std::uint64_t l = 1; l < n; ++l)
      if (read_full_index(f, i, l).type == disk::z_lcluster_type_nonhead) {
        target_lcn = l;
        return true;
      }
    return false;
  });
  const full_index idx = read_full_index(f, file, target_lcn);
  f.img.le16(idx.pos + 4, 0x07FF);  // delta[0]: 2047 lclusters back, without the CBLKCNT bit
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(map_extent(*img, *ino, target_lcn * 4096), errc::corrupted,
              what::bogus_lcluster_lookback_distance);
}

TEST_CASE("malformed: a NONHEAD lcluster 0 cannot start a file") {
  fixture f("lz4-legacy-index");
  const inode file = f.find_inode([](const inode& i) {
    return compressed_regular(i, data_layout::compressed_full, 3 * 4096);
  });
  const full_index idx = read_full_index(f, file, 0);
  f.img.le16(idx.pos, static_cast<std::uint16_t>(disk::z_lcluster_type_nonhead));
  f.img.le32(idx.pos + 4, 1);  // delta[0] = 1, delta[1] = 0
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  check_error(map_extent(*img, *ino, 0), errc::corrupted, what::bogus_lcluster_lookback_distance);
}

TEST_CASE("malformed: two pclusters made to overlap decode to a failure, not wrong bytes") {
  fixture f("lz4-legacy-index");
  std::uint64_t a = 0, b = 0;
  const inode file = f.find_inode([&](const inode& i) {
    if (!compressed_regular(i, data_layout::compressed_full, 3 * 4096)) return false;
    const std::uint64_t n = (i.size - 1) / 4096 + 1;
    std::optional<std::uint64_t> first;
    std::uint64_t first_len = 0;
    for (std::uint64_t l = 0; l < n; ++l) {
      const full_index x = read_full_index(f, i, l);
      if (x.type != disk::z_lcluster_type_head1) continue;
      // A HEAD's extent starts clusterofs bytes into its lcluster.
      const std::uint64_t start = l * 4096 + f.img.get16(x.pos + 2);
      auto e = map_extent(f.pristine, i, start);
      if (!e || e->logical != start) continue;
      if (!first) {
        first = l;
        first_len = e->length;
      } else if (read_full_index(f, i, *first).u != x.u && e->length != first_len) {
        a = *first;
        b = l;
        return true;
      }
    }
    return false;
  });
  // B's pcluster now starts at A's: the same compressed blocks back two extents.
  f.img.le32(read_full_index(f, file, b).pos + 4, read_full_index(f, file, a).u);
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  auto ea = map_extent(*img, *ino, a * 4096 + f.img.get16(read_full_index(f, file, a).pos + 2));
  auto eb = map_extent(*img, *ino, b * 4096 + f.img.get16(read_full_index(f, file, b).pos + 2));
  REQUIRE(ea);
  REQUIRE(eb);
  CHECK(ea->physical == eb->physical);
  REQUIRE(ea->length != eb->length);
  // A's stream decodes to A's length; B's extent asks for a different exact size.
  std::vector<std::byte> buf(static_cast<std::size_t>(eb->length));
  check_error(read(*img, *ino, eb->logical, buf, f.ctx), errc::decompress_failed,
              what::decoding_a_pcluster);
}

TEST_CASE("malformed: a fragment offset beyond the packed inode") {
  fixture f("lz4-fragments");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.is_compressed() && i.z.whole_fragment && i.size > 0;
  });
  // Whole-fragment header: 63-bit offset in the first 8 bytes, fragment bit in h_clusterbits.
  f.img.le64(file.z.header_pos, (std::uint64_t{1} << 62) | (std::uint64_t{0x80} << 56));
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::vector<std::byte> data;
  check_error(read_all(*img, *ino, data, f.ctx), errc::corrupted,
              what::fragment_beyond_the_packed_inode);
}

TEST_CASE("malformed: a fragment offset that overflows with the file size") {
  fixture f("lz4-fragments");
  const inode file = f.find_inode([](const inode& i) {
    return i.is_regular() && i.is_compressed() && i.z.whole_fragment && i.size > 1;
  });
  f.img.le64(file.z.header_pos, ~std::uint64_t{0});  // offset 2^63 - 1, fragment bit set
  auto img = f.open();
  REQUIRE(img);
  auto ino = read_inode(*img, file.nid);
  REQUIRE(ino);
  std::byte buf[16];
  check_error(read(*img, *ino, 0, buf, f.ctx), errc::corrupted,
              what::fragment_beyond_the_packed_inode);
}

TEST_CASE("malformed: a metabox nid that points into the metabox itself") {
  fixture f("metabox-lz4");
  REQUIRE((f.pristine.sb().root_nid & disk::nid_metabox_bit) != 0);
  f.img.le64(disk::super_offset + 0x80, f.pristine.sb().root_nid);
  check_error(f.open(), errc::corrupted, what::metabox_inode_nid_points_into_the_metabox);
}

TEST_CASE("malformed: a metabox inode that is a directory") {
  fixture f("metabox-lz4");
  std::uint64_t pos = 0;
  REQUIRE(f.pristine.sb().inode_position(f.pristine.sb().metabox_nid, pos));
  f.img.le16(pos + 4, 040755);  // i_mode
  check_error(f.open(), errc::corrupted, what::metabox_inode_is_not_a_regular_file);
}

TEST_CASE("malformed: a metabox larger than limits::max_metabox_size") {
  fixture f("metabox-lz4");
  open_options opt;
  opt.lim.max_metabox_size = 1024;
  check_error(f.open(opt), errc::limit_exceeded, what::metabox_larger_than_limits_max_metabox_size);
}
