// The compressed mapper and reader on real fixture images: lcluster indexes (full and
// compact), big pclusters, ztailpacking, fragments, dedupe, interlaced plain extents, metabox,
// encoded extents, multiple algorithms, plus fixture images with deliberately broken map
// headers and indexes.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "erofsfs/codecs/all.hpp"
#include "erofsfs/erofsfs.hpp"
#include "support/manifest.hpp"

namespace {

using namespace erofsfs;

std::unique_ptr<test::fixture> open_fx(const std::string& name,
                                       const decompressor_table* decoders = nullptr,
                                       const char* group = "images") {
  auto f = test::open_fixture(name, decoders, group);
  REQUIRE_MESSAGE(f.has_value(), (f ? std::string() : f.error().message()));
  return std::move(*f);
}

inode lookup(const image& img, const std::string& path) {
  read_context ctx;
  auto ino = resolve_path(img, path, ctx);
  REQUIRE_MESSAGE(ino.has_value(), (path + ": " + (ino ? std::string() : ino.error().message())));
  return *ino;
}

// Extents one by one from offset 0, each starting where the previous one ended.
std::vector<extent> all_extents(const image& img, const inode& ino) {
  std::vector<extent> out;
  std::uint64_t pos = 0;
  while (pos < ino.size) {
    auto e = map_extent(img, ino, pos);
    REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message()));
    REQUIRE(e->logical == pos);
    REQUIRE(e->length > 0);
    out.push_back(*e);
    pos = e->end();
  }
  return out;
}

// The built-in LZ4 decoder, counting how often it runs.
struct counting_lz4 {
  std::atomic<int>* calls;
  std::error_code decode(const decode_request& r) const noexcept {
    ++*calls;
    return lz4_decompressor{}.decode(r);
  }
};

// A fixture's primary image in memory, to be broken on purpose and reopened.
struct patched_image {
  std::vector<std::byte> bytes;
  memory_source src;
  image img;

  explicit patched_image(const std::string& name) {
    std::ifstream in(test::fixture_dir(name) + "/" + name + ".erofs", std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(raw.size());
    std::memcpy(bytes.data(), raw.data(), raw.size());
    reopen();
  }
  void reopen() {
    src = memory_source(bytes);
    auto r = open_image(src);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
    img = std::move(*r);
  }
  void put16(std::uint64_t pos, std::uint16_t v) {
    bytes[pos] = std::byte(v & 0xFF);
    bytes[pos + 1] = std::byte(v >> 8);
  }
  void put8(std::uint64_t pos, std::uint8_t v) { bytes[pos] = std::byte(v); }
};

// Inode of `path` after reopening, and the error mapping `offset` gives (or none).
std::error_code map_error(patched_image& p, std::uint64_t nid, std::uint64_t offset,
                          std::string* what = nullptr) {
  p.reopen();
  auto ino = read_inode(p.img, nid);
  if (!ino) {
    if (what) *what = ino.error().what;
    return ino.error().code;
  }
  auto e = map_extent(p.img, *ino, offset);
  if (!e) {
    if (what) *what = e.error().what;
    return e.error().code;
  }
  return {};
}

}  // namespace

TEST_CASE("zmap: compact lz4 indexes map a file to back-to-back one-block pclusters") {
  auto f = open_fx("lz4");
  const inode ino = lookup(f->img, "/data/text-96k");
  REQUIRE(ino.layout == data_layout::compressed_compact);
  const auto ext = all_extents(f->img, ino);
  REQUIRE(ext.size() == 10);
  for (std::size_t i = 0; i + 1 < ext.size(); ++i) {
    CHECK(ext[i].kind == extent_kind::encoded);
    CHECK(ext[i].algorithm == disk::compression_lz4);
    CHECK(ext[i].physical_length == 4096);
    CHECK(ext[i].physical % 4096 == 0);
    CHECK(ext[i].flags == 0);
  }
  // The 130-byte tail did not compress: a PLAIN (shifted) lcluster, i.e. raw bytes.
  CHECK(ext.back().kind == extent_kind::mapped);
  CHECK(ext.back().length == 130);
  CHECK(ext.back().end() == ino.size);
}

TEST_CASE("zmap: an offset inside an extent maps to the whole extent") {
  auto f = open_fx("lz4");
  const inode ino = lookup(f->img, "/data/text-96k");
  auto first = map_extent(f->img, ino, 0);
  REQUIRE(first.has_value());
  // Both a NONHEAD lcluster (lookback) and the part of the next HEAD lcluster that precedes
  // its clusterofs belong to the first extent.
  for (std::uint64_t off : {std::uint64_t{5000}, std::uint64_t{8191}, first->end() - 1}) {
    auto e = map_extent(f->img, ino, off);
    REQUIRE(e.has_value());
    CHECK(e->logical == first->logical);
    CHECK(e->length == first->length);
    CHECK(e->physical == first->physical);
  }
}

TEST_CASE("zmap: full (legacy) and compact indexes describe the same extents") {
  auto compact = open_fx("lz4");
  auto full = open_fx("lz4-legacy-index");
  for (const char* path : {"/data/text-96k", "/data/mixed-36k", "/sizes/text-8193"}) {
    const inode a = lookup(compact->img, path);
    const inode b = lookup(full->img, path);
    CHECK(a.layout == data_layout::compressed_compact);
    CHECK(b.layout == data_layout::compressed_full);
    const auto ea = all_extents(compact->img, a);
    const auto eb = all_extents(full->img, b);
    REQUIRE(ea.size() == eb.size());
    for (std::size_t i = 0; i < ea.size(); ++i) {
      CHECK(ea[i].logical == eb[i].logical);
      CHECK(ea[i].length == eb[i].length);
      CHECK(ea[i].kind == eb[i].kind);
    }
  }
}

TEST_CASE("zmap: big pclusters take their size from the CBLKCNT lcluster") {
  auto f = open_fx("lz4hc-pcluster16k");
  const inode ino = lookup(f->img, "/data/text-96k");
  CHECK((ino.z.advise & disk::z_advise_big_pcluster_1) != 0);
  const auto ext = all_extents(f->img, ino);
  REQUIRE(ext.size() == 2);
  CHECK(ext[0].physical_length == 16384);
  CHECK(ext[0].length == 64416);
  CHECK(ext[1].physical_length == 12288);
  CHECK(ext[1].physical == ext[0].physical + 16384);
  std::vector<std::byte> data;
  read_context ctx;
  REQUIRE(read_all(f->img, ino, data, ctx).has_value());
  CHECK(data.size() == ino.size);
}

TEST_CASE("zmap: ztailpacking puts the last pcluster inline, right after the indexes") {
  auto f = open_fx("lz4hc-ztailpacking");
  const inode ino = lookup(f->img, "/data/text-96k");
  REQUIRE(ino.z.idata_size != 0);
  const auto ext = all_extents(f->img, ino);
  const extent& tail = ext.back();
  CHECK(tail.kind == extent_kind::encoded);
  CHECK((tail.flags & extent_flags::in_metadata) != 0);
  CHECK(tail.physical == ino.z.inline_pos);
  CHECK(tail.physical_length == ino.z.idata_size);
  CHECK(tail.physical > ino.pos);
  CHECK(tail.physical % 4096 + tail.physical_length <= 4096);
  CHECK(tail.end() == ino.size);
  for (std::size_t i = 0; i + 1 < ext.size(); ++i) CHECK((ext[i].flags & extent_flags::in_metadata) == 0);
}

TEST_CASE("zmap: a tail fragment maps into the packed inode") {
  auto f = open_fx("lz4-fragments");
  REQUIRE(f->img.packed_inode() != nullptr);
  const inode ino = lookup(f->img, "/data/text-96k");
  CHECK((ino.z.advise & disk::z_advise_fragment_pcluster) != 0);
  CHECK_FALSE(ino.z.whole_fragment);
  const auto ext = all_extents(f->img, ino);
  const extent& tail = ext.back();
  CHECK(tail.kind == extent_kind::fragment);
  CHECK(tail.physical == ino.z.fragment_offset);
  CHECK(tail.end() == ino.size);
  CHECK(tail.physical + tail.length <= f->img.packed_inode()->size);
}

TEST_CASE("zmap: deduplicated whole-file fragments share one packed-inode range") {
  auto f = open_fx("lz4hc-allfrag-dedupe");
  const inode a = lookup(f->img, "/data/dup-1");
  const inode b = lookup(f->img, "/data/dup-2");
  REQUIRE(a.z.whole_fragment);
  REQUIRE(b.z.whole_fragment);
  const auto ea = all_extents(f->img, a);
  REQUIRE(ea.size() == 1);
  CHECK(ea[0].kind == extent_kind::fragment);
  CHECK(ea[0].length == a.size);
  CHECK(ea[0].physical == b.z.fragment_offset);
  std::vector<std::byte> da, db;
  read_context ctx;
  REQUIRE(read_all(f->img, a, da, ctx).has_value());
  REQUIRE(read_all(f->img, b, db, ctx).has_value());
  CHECK(da == db);
}

TEST_CASE("zmap: an uncompressible head lcluster next to fragments is interlaced plain data") {
  auto f = open_fx("lz4-fragments");
  const inode ino = lookup(f->img, "/data/mixed-36k");
  const auto ext = all_extents(f->img, ino);
  REQUIRE_FALSE(ext.empty());
  CHECK(ext[0].kind == extent_kind::encoded);
  CHECK((ext[0].flags & extent_flags::interlaced) != 0);
  CHECK(ext[0].algorithm == algorithm_interlaced);
  CHECK(ext[0].physical_length == 4096);
  // Its bytes read back as the plain image stores them (the uncompressed image has the file raw).
  auto plain = open_fx("lz4-legacy-index");
  std::vector<std::byte> a(ext[0].length), b(ext[0].length);
  read_context ctx;
  REQUIRE(read(f->img, ino, 0, a, ctx).has_value());
  REQUIRE(read(plain->img, lookup(plain->img, "/data/mixed-36k"), 0, b, ctx).has_value());
  CHECK(a == b);
}

TEST_CASE("zmap: metabox inodes read their extent records from the metabox stream") {
  auto f = open_fx("metabox-lz4");
  const inode ino = lookup(f->img, "/data/text-96k");
  CHECK(ino.in_metabox);
  CHECK(ino.z.extent_recsz == 16);
  const auto ext = all_extents(f->img, ino);
  REQUIRE(ext.size() == 10);
  CHECK(ext[0].kind == extent_kind::encoded);
  CHECK(ext[0].device == 0);
  CHECK(ext.back().kind == extent_kind::mapped);  // plain record: format 0, shifted
}

TEST_CASE("zmap: 4-byte encoded extent records give byte-aligned pclusters packed back to back") {
  auto f = open_fx("zstd-48bit");
  const inode ino = lookup(f->img, "/data/mixed-36k");
  CHECK(ino.z.extent_recsz == 4);
  const auto ext = all_extents(f->img, ino);
  bool unaligned = false;
  for (std::size_t i = 0; i + 1 < ext.size(); ++i) {
    CHECK(ext[i].length == 4096);  // one lcluster each
    CHECK(ext[i + 1].physical == ext[i].physical + ext[i].physical_length);
    if (ext[i].kind == extent_kind::encoded) {
      CHECK(ext[i].algorithm == disk::compression_zstd);
      unaligned |= ext[i].physical % 4096 != 0;
    }
  }
  CHECK(unaligned);
}

TEST_CASE("zmap: encoded extents end in a tail fragment when the inode says so") {
  auto f = open_fx("newest-combo");
  const inode ino = lookup(f->img, "/data/text-96k");
  CHECK(ino.z.extent_recsz != 0);
  const auto ext = all_extents(f->img, ino);
  CHECK(ext.back().kind == extent_kind::fragment);
  for (std::size_t i = 0; i + 1 < ext.size(); ++i) CHECK(ext[i].kind == extent_kind::encoded);
}

TEST_CASE("zmap: per-file algorithms come from the map header's HEAD1 nibble") {
  auto f = open_fx("v18-multi-algorithm");
  const inode text = lookup(f->img, "/data/text-96k");  // hinted to algorithm index 1: lzma
  const inode mixed = lookup(f->img, "/data/mixed-36k");  // default: lz4hc
  CHECK(text.z.algorithm_head1 == disk::compression_lzma);
  CHECK(mixed.z.algorithm_head1 == disk::compression_lz4);
  for (const extent& e : all_extents(f->img, text))
    if (e.kind == extent_kind::encoded) CHECK(e.algorithm == disk::compression_lzma);
  for (const extent& e : all_extents(f->img, mixed))
    if (e.kind == extent_kind::encoded) CHECK(e.algorithm == disk::compression_lz4);
}

TEST_CASE("zmap: an image without the needed decoder fails with unsupported, naming it") {
  auto f = open_fx("v18-multi-algorithm");  // built-in table: lz4 only
  const inode text = lookup(f->img, "/data/text-96k");
  std::vector<std::byte> buf(100);
  read_context ctx;
  auto r = read(f->img, text, 0, buf, ctx);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::unsupported);
  CHECK(std::string(r.error().what) == "no lzma decompressor configured");
}

TEST_CASE("zmap: reading the middle of a file decodes only the pclusters it needs, once") {
  std::atomic<int> calls{0};
  const counting_lz4 dec{&calls};
  const decompressor_table table = decompressor_table{}.set(disk::compression_lz4, dec);
  auto f = open_fx("lz4", &table);
  const inode ino = lookup(f->img, "/data/text-96k");
  read_context ctx;
  std::vector<std::byte> buf(100);
  REQUIRE(read(f->img, ino, 50000, buf, ctx).has_value());
  CHECK(calls == 1);
  REQUIRE(read(f->img, ino, 50100, buf, ctx).has_value());  // same extent: cached
  CHECK(calls == 1);
  REQUIRE(read(f->img, ino, 55950, buf, ctx).has_value());  // crosses into the next extent
  CHECK(calls == 2);
  // Whole file sequentially in small reads: each pcluster once more at most.
  calls = 0;
  std::vector<std::byte> chunk(4096);
  for (std::uint64_t off = 0; off < ino.size; off += chunk.size())
    REQUIRE(read(f->img, ino, off, chunk, ctx).has_value());
  CHECK(calls == 9);  // 9 encoded extents; the plain tail needs no decoder
}

TEST_CASE("zmap: a read context without the decoded-extent cache decodes on every read") {
  std::atomic<int> calls{0};
  const counting_lz4 dec{&calls};
  const decompressor_table table = decompressor_table{}.set(disk::compression_lz4, dec);
  auto f = open_fx("lz4", &table);
  const inode ino = lookup(f->img, "/data/text-96k");
  read_context ctx;
  ctx.keep_decoded = false;
  std::vector<std::byte> first(100), again(100);
  REQUIRE(read(f->img, ino, 50000, first, ctx).has_value());
  REQUIRE(read(f->img, ino, 50000, again, ctx).has_value());
  CHECK(calls == 2);
  CHECK(first == again);
  ctx.release();
  CHECK(ctx.decoded.capacity() == 0);
}

TEST_CASE("zmap: the known-issue image reads the way the kernel shows it") {
  // mkfs wrote the packed inode's tiny inline tail raw but flagged it interlaced; Linux then
  // takes the first part from elsewhere in the metadata page, which is zeros for these files.
  auto f = open_fx("lz4hc-frag-ztail-mkfs-bug", nullptr, "known-issues");
  const inode ino = lookup(f->img, "/tiny/size-7");
  std::vector<std::byte> data;
  read_context ctx;
  REQUIRE(read_all(f->img, ino, data, ctx).has_value());
  REQUIRE(data.size() == 7);
  for (std::byte b : data) CHECK(b == std::byte{0});
}

TEST_CASE("zmap: compressed directories list like plain ones") {
  auto f = open_fx("dirs-compressed");
  const inode dir = lookup(f->img, "/data");
  CHECK(dir.is_compressed());
  const inode child = lookup(f->img, "/data/text-96k");
  CHECK(child.is_regular());
}

TEST_CASE("zmap: a NONHEAD lookback distance of 0 is corruption") {
  patched_image p("lz4-legacy-index");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 16 + 8 * 1 + 4, 0);  // lcn 1: delta0 = 0
  std::string what;
  CHECK(map_error(p, ino.nid, 5000, &what) == errc::corrupted);
  CHECK(what == "bogus lcluster lookback distance");
}

TEST_CASE("zmap: a lookback past lcluster 0 is corruption") {
  patched_image p("lz4-legacy-index");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 16 + 8 * 1 + 4, 7);  // lcn 1 points 7 lclusters back
  CHECK(map_error(p, ino.nid, 5000) == errc::corrupted);
}

TEST_CASE("zmap: a clusterofs outside its lcluster is corruption") {
  patched_image p("lz4-legacy-index");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 16 + 2, 4096);  // lcn 0 HEAD: clusterofs = lcluster size
  std::string what;
  CHECK(map_error(p, ino.nid, 0, &what) == errc::corrupted);
  CHECK(what == "lcluster clusterofs beyond the lcluster");
}

TEST_CASE("zmap: a first lcluster whose extent starts later is corruption") {
  patched_image p("lz4-legacy-index");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 16 + 2, 100);  // lcn 0 HEAD at clusterofs 100: nothing before it
  std::string what;
  CHECK(map_error(p, ino.nid, 50, &what) == errc::corrupted);
  CHECK(what == "lcluster 0 does not start an extent");
}

TEST_CASE("zmap: an unknown algorithm id is unsupported, a disabled one corrupted") {
  patched_image p("lz4");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put8(ino.z.header_pos + 6, 0x07);
  std::string what;
  CHECK(map_error(p, ino.nid, 0, &what) == errc::unsupported);
  CHECK(what == "unknown compression algorithm");
  p.put8(ino.z.header_pos + 6, disk::compression_zstd);  // valid id, not in this image
  CHECK(map_error(p, ino.nid, 0, &what) == errc::corrupted);
  CHECK(what == "compression algorithm not enabled in the superblock");
}

TEST_CASE("zmap: compact indexes with lclusters above 16 KiB are unsupported") {
  patched_image p("lz4");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put8(ino.z.header_pos + 7, 3);  // lclusterbits 15
  CHECK(map_error(p, ino.nid, 0) == errc::unsupported);
}

TEST_CASE("zmap: big-pcluster advise bits need the superblock feature") {
  patched_image p("lz4");  // no big_pcluster feature
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 4, static_cast<std::uint16_t>(ino.z.advise | 0x6));
  std::string what;
  CHECK(map_error(p, ino.nid, 0, &what) == errc::corrupted);
  CHECK(what == "big pclusters without the superblock feature");
}

TEST_CASE("zmap: compact indexes need both big-pcluster advise bits or neither") {
  patched_image p("lz4hc-pcluster16k");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 4, static_cast<std::uint16_t>(ino.z.advise & ~0x4));
  std::string what;
  CHECK(map_error(p, ino.nid, 0, &what) == errc::corrupted);
  CHECK(what == "compact indexes with only one big-pcluster advise bit");
}

TEST_CASE("zmap: an inline pcluster crossing a block boundary is corruption") {
  patched_image p("lz4hc-ztailpacking");
  const inode ino = lookup(p.img, "/data/text-96k");
  p.put16(ino.z.header_pos + 2, 4096);  // h_idata_size
  std::string what;
  CHECK(map_error(p, ino.nid, 0, &what) == errc::corrupted);
  CHECK(what == "inline pcluster crosses a block boundary");
}

TEST_CASE("zmap: damaged map headers and indexes give errors, never crashes or internal errors") {
  // Flip bytes inside the index area of every compressed file of a few images (fixed seed),
  // then map and read each file whole. Any outcome but errc::internal (or a sanitizer report)
  // is acceptable.
  // Every decoder this build has: without liblzma/libzstd those files' reads stop at
  // errc::unsupported, which the check accepts, and the damaged maps are still walked.
  const decompressor_table& table = all_decompressors();
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  for (const char* name : {"lz4", "lz4-legacy-index", "lz4hc-pcluster16k", "lz4hc-ztailpacking",
                           "lz4-fragments", "lzma-ztail-frag-dedupe", "zstd-48bit"}) {
    patched_image p(name);
    const std::vector<std::byte> pristine = p.bytes;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> files;  // nid, index span length
    read_context ctx;
    REQUIRE(walk(p.img, ctx, [&](const walk_entry& w) -> status {
              if (w.ino.is_compressed() && w.ino.size > 0 && !w.ino.in_metabox)
                files.emplace_back(w.ino.nid, w.ino.z.header_pos);
              return {};
            }).has_value());
    REQUIRE_FALSE(files.empty());
    for (int round = 0; round < 60; ++round) {
      p.bytes = pristine;
      const auto& [nid, header] = files[next() % files.size()];
      for (int k = 0; k < 3; ++k) {
        const std::uint64_t at = header + next() % 64;
        if (at < p.bytes.size()) p.bytes[at] = static_cast<std::byte>(next() & 0xFF);
      }
      ctx.invalidate();  // a new image may reuse the old one's address
      p.src = memory_source(p.bytes);
      open_options opt;
      opt.decompressors = &table;
      auto img = open_image(p.src, opt);
      if (!img) continue;
      auto ino = read_inode(*img, nid);
      if (!ino) {
        CHECK(ino.error().code != errc::internal);
        continue;
      }
      std::vector<std::byte> data;
      auto r = read_all(*img, *ino, data, ctx);
      if (!r) CHECK_MESSAGE(r.error().code != errc::internal, r.error().message());
      extent_iterator it(*img, *ino);
      extent e;
      for (int n = 0; n < 100000; ++n) {
        auto more = it.next(e);
        if (!more) {
          CHECK_MESSAGE(more.error().code != errc::internal, more.error().message());
          break;
        }
        if (!*more) break;
      }
    }
  }
}
