// Whole-image fuzz target: opens the input as an image and exercises every reader a client of
// the library would use on it: the tree walk, directory iteration and lookups, every xattr,
// file data through the extent iterator and read(), read_all, readlink, path resolution and
// the metadata range listing. Results are ignored; only crashes, sanitizer reports, hangs and
// errc::internal (an erofsfs invariant broken by input) count as findings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include <erofsfs/erofsfs.hpp>
#if EROFSFS_HAVE_LZMA
#include <erofsfs/codecs/lzma.hpp>
#endif
#if EROFSFS_HAVE_ZLIB
#include <erofsfs/codecs/deflate.hpp>
#endif
#if EROFSFS_HAVE_ZSTD
#include <erofsfs/codecs/zstd.hpp>
#endif

namespace {

using namespace erofsfs;

// Per-input work caps: legal-but-huge images must not look like timeouts.
constexpr std::uint64_t max_file_bytes = 256u << 10;  // data read per file
constexpr unsigned max_extents = 4096;                // extents listed per file
constexpr std::size_t max_files = 512;                // inodes whose data we read

// errc::internal means the library caught one of its own invariants failing: a bug to report.
template <class R>
void check(const R& r) {
  if (!r && r.error().code == errc::internal) std::abort();
}

void read_data(const image& img, const inode& ino, read_context& ctx) {
  extent_iterator it(img, ino);
  extent e;
  std::vector<std::byte> buf;
  std::uint64_t budget = max_file_bytes;
  for (unsigned n = 0; n < max_extents; ++n) {  // bounded by max_extents
    auto more = it.next(e);
    check(more);
    if (!more || !*more) break;
    // Read the head of each extent through the generic path (map + fetch + decode).
    const std::uint64_t want = std::min<std::uint64_t>({e.length, budget, 64u << 10});
    if (want == 0) continue;
    buf.resize(static_cast<std::size_t>(want));
    auto got = read(img, ino, e.logical, buf, ctx);
    check(got);
    budget -= want;
    if (budget == 0) break;
  }
  if (ino.size <= max_file_bytes) {
    std::vector<std::byte> all;
    check(read_all(img, ino, all, ctx));
  }
  std::vector<std::byte> scratch;
  check(read_view(img, ino, ino.size > 0 ? ino.size - 1 : 0, 4096, scratch, ctx));
}

void exercise_xattrs(const image& img, const inode& ino) {
  auto xs = list_xattrs(img, ino);
  check(xs);
  if (xs) {
    for (const auto& x : *xs) check(get_xattr(img, ino, x.name));
  }
  check(get_xattr(img, ino, "user.missing"));
  check(get_xattr(img, ino, "security.selinux"));
}

void exercise_dir(const image& img, const inode& dir, read_context& ctx) {
  dir_reader r(img, dir, ctx);
  dir_entry e;
  std::vector<std::string> names;
  for (unsigned n = 0; n < 100000; ++n) {  // the reader is bounded; this is a second guard
    auto more = r.next(e);
    check(more);
    if (!more || !*more) break;
    if (names.size() < 16) names.emplace_back(e.name);
  }
  for (const auto& name : names) check(lookup(img, dir, name, ctx));
  check(lookup(img, dir, "zzzz-not-there", ctx));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memory_source src(data, size);
  // The built-in LZ4 decoder plus every codec adapter whose library the build found; other
  // algorithms fail as errc::unsupported.
  static const decompressor_table table = [] {
    static constexpr lz4_decompressor lz4{};
    decompressor_table t;
    t.set(disk::compression_lz4, lz4);
#if EROFSFS_HAVE_LZMA
    static constexpr codecs::microlzma_decompressor lzma{};
    t.set(disk::compression_lzma, lzma);
#endif
#if EROFSFS_HAVE_ZLIB
    static constexpr codecs::deflate_decompressor deflate{};
    t.set(disk::compression_deflate, deflate);
#endif
#if EROFSFS_HAVE_ZSTD
    static constexpr codecs::zstd_decompressor zstd{};
    t.set(disk::compression_zstd, zstd);
#endif
    return t;
  }();
  open_options opt;
  opt.decompressors = &table;
  // Both device modes: flat (the default without blobs: device data read from the primary at
  // unified addresses) and strict (data on extra devices is errc::no_device).
  opt.require_devices = size > 0 && (data[size - 1] & 1);
  auto img = open_image(src, opt);
  check(img);
  if (!img) return 0;
  read_context ctx;
  std::unordered_set<std::uint64_t> done;
  auto st = walk(*img, ctx, [&](const walk_entry& w) -> status {
    if (!done.insert(w.ino.nid).second || done.size() > max_files) return {};
    exercise_xattrs(*img, w.ino);
    if (w.ino.is_dir()) {
      exercise_dir(*img, w.ino, ctx);
    } else if (w.ino.is_symlink()) {
      check(read_link(*img, w.ino, ctx));
    }
    if (w.ino.has_data()) read_data(*img, w.ino, ctx);
    if (done.size() <= 32) {
      check(resolve_path(*img, w.path, ctx, false));
      check(resolve_path(*img, w.path, ctx, true));
    }
    return {};
  });
  check(st);
  if (const inode* packed = img->packed_inode()) read_data(*img, *packed, ctx);
  check(metadata_ranges(*img, ctx));
  return 0;
}
