// Seekable zstd layer fuzz target: the input is a whole blob. The tail search and the chunk
// table parser run on it (format/seekable_zstd.hpp); with libzstd the source opens it too
// (io/seekable_zstd_source.hpp) and reads its image in pieces through a two-chunk cache, then
// again in one read: whatever the bytes, no crash, no overflow, no unbounded work, and reads
// that succeed agree with each other.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include <erofsfs/format/seekable_zstd.hpp>
#include <erofsfs/io/source.hpp>
#if EROFSFS_HAVE_ZSTD
#include <erofsfs/io/seekable_zstd_source.hpp>
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace erofsfs;
  namespace sz = erofsfs::seekable_zstd;
  const bytes_view blob(reinterpret_cast<const std::byte*>(data), size);
  const std::optional<std::uint64_t> at = sz::find_chunk_table(blob, 0, size);
  if (at) {
    if (*at + sz::skippable_header_size > size) std::abort();  // the search promised a header
    auto h = sz::parse_skippable_header(blob.subspan(*at));
    if (!h) std::abort();
    const std::uint64_t payload = *at + sz::skippable_header_size;
    if (payload + h->payload_size > size) std::abort();  // it ends the blob or a frame does
    auto t = sz::chunk_table::parse(blob.subspan(payload, h->payload_size), *at);
    if (t) {
      std::uint64_t image = 0, frames = 0;
      for (std::uint64_t i = 0; i < t->chunk_count(); ++i) {  // bounded by the payload
        const sz::chunk c = t->at(i);
        if (c.image_offset != image || c.frame_offset != frames || c.frame_size == 0) std::abort();
        image += c.image_size;
        frames += c.frame_size;
      }
      if (image != t->header().uncompressed_size || frames != *at) std::abort();
    }
  }
#if EROFSFS_HAVE_ZSTD
  const memory_source src(data, size);
  seekable_zstd_options opt;
  opt.cache_bytes = 2 * 4096;
  auto s = seekable_zstd_source::open(src, opt);
  if (!s) return 0;
  const std::uint64_t end = std::min<std::uint64_t>(s->size(), 1u << 20);
  std::vector<std::byte> pieces(static_cast<std::size_t>(end)), whole(pieces.size());
  bool all = true;
  for (std::uint64_t off = 0; off < end; off += 2999) {  // bounded: at most 1 MiB / 2999 reads
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(2999, end - off));
    if (!s->read(off, std::span(pieces).subspan(static_cast<std::size_t>(off), n))) all = false;
  }
  if (all && s->read(0, whole) && whole != pieces) std::abort();
#endif
  return 0;
}
