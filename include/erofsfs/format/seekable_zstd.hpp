// Seekable zstd EROFS layers (L1, hermetic: bytes in, values out): containerd's
// `application/vnd.erofs.layer.v1+zstd`, an EROFS image cut into fixed-size chunks, each one
// independent zstd frame, followed by a skippable frame holding the chunk table and, optionally,
// a skippable frame holding dm-verity data. The constants, the parsers of the skippable frame
// header and of the chunk table (every field checked), and the tail search that finds the table
// when its offset is not given. io/seekable_zstd_source.hpp reads images through them.
//
// Facts, from containerd's internal/erofsutils/seekable (README.md, chunktable.go, zstd.go,
// zstderofs.go, image.go, annotations.go, dmverity_linux.go) for PR 12703 (docs/erofs-layers.md),
// and from the zstd format (RFC 8878):
// - Layout: [zstd frames, chunk 0 first at offset 0][skippable frame: chunk table]
//   [skippable frame: dm-verity data, optional], nothing after it. A plain zstd decoder skips
//   the skippable frames, so `zstd -d` of the whole blob gives the image.
// - A skippable frame is magic 0x184D2A50..0x184D2A5F (u32 LE), payload size (u32 LE), payload.
//   containerd writes 0x184D2A50 and accepts the whole range; so does this reader.
// - Chunk table payload, little endian, a 23-byte header with no padding (magic u32 0xCDE4EC67,
//   version u32 1, uncompressed size u64, chunk size u32, hash algorithm u8 (0 none,
//   1 SHA-512), reserved u16 = 0), then one entry per chunk, ceil(uncompressed / chunk) of them:
//   the absolute file offset u64 of the chunk's frame, then its checksum (64 bytes for SHA-512,
//   none for 0). The payload size is exactly 23 + count * (8 + checksum size) (ReadChunkTable
//   refuses any other). Chunk i covers image bytes [i * chunk, min((i + 1) * chunk, size)).
// - The checksum is SHA-512 of the chunk's whole compressed frame, magic to last byte: the bytes
//   [offset_i, offset_{i+1}), the last frame ending where the chunk table's frame starts
//   (writeZstdFrame hashes the encoder's output; DecodeErofsFrame tees the section's bytes).
//   An earlier draft of the PR's doc hashed only the frame's blocks; the code that shipped
//   hashes the frame.
// - How a reader finds the table: containerd records its offset in the layer descriptor's
//   annotation dev.containerd.erofs.zstd.chunk_table_offset (decimal), and the SHA-512 of the
//   table's payload in dev.containerd.erofs.zstd.chunk_digest ("sha512:<hex>"); the dm-verity
//   frame's offset in dev.containerd.erofs.dmverity.offset and its root digest in
//   dev.containerd.erofs.dmverity.root_digest ("<algo>:<hex>", sha512 as containerd writes it).
//   The blob itself has no footer. Without the annotations (a layer file on its own),
//   find_chunk_table() searches the blob's tail for the one place the layout allows.
// - The dm-verity payload is what `veritysetup format` writes to a hash device of its own: the
//   512-byte superblock ("verity", containerd writes hash sha512, data block = hash block
//   = 4096 by default) zero padded to one hash block, then the tree, over the image zero padded
//   to whole data blocks (format/verity.hpp has that format).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../base/error_text.hpp"

namespace erofsfs::seekable_zstd {

inline constexpr std::uint32_t frame_magic = 0xFD2FB528;  // a zstd frame: bytes 28 B5 2F FD
inline constexpr std::uint32_t skippable_magic_min = 0x184D2A50;
inline constexpr std::uint32_t skippable_magic_max = 0x184D2A5F;
inline constexpr std::size_t skippable_header_size = 8;

inline constexpr std::uint32_t table_magic = 0xCDE4EC67;
inline constexpr std::uint32_t table_version = 1;
inline constexpr std::size_t table_header_size = 23;
inline constexpr std::size_t entry_offset_size = 8;

// Field offsets in the chunk table header.
namespace th {
inline constexpr std::size_t magic = 0, version = 4, uncompressed_size = 8, chunk_size = 16,
                             hash_algorithm = 20, reserved = 21;
}  // namespace th

enum class chunk_hash : std::uint8_t { none = 0, sha512 = 1 };
inline constexpr std::size_t sha512_checksum_size = 64;

// Limits, not format rules (errc::limit_exceeded): a chunk is decoded whole into memory, so
// its size bounds every reader's memory; containerd's default is 4 MiB.
inline constexpr std::uint32_t max_chunk_size = 64u << 20;
// The table is read whole; 64 MiB holds ~900k SHA-512 entries (3.6 TB of 4 MiB chunks).
inline constexpr std::uint32_t max_table_payload_size = 64u << 20;
// A frame is read whole before it is decoded. zstd never needs more than its compress bound,
// chunk + chunk/256 + 64 KiB (ZSTD_COMPRESSBOUND); twice that slack admits any sane encoder.
constexpr std::uint64_t max_frame_size(std::uint32_t chunk_size) noexcept {
  return std::uint64_t{chunk_size} + chunk_size / 128 + (128u << 10);
}

inline constexpr char annotation_chunk_table_offset[] = "dev.containerd.erofs.zstd.chunk_table_offset";
inline constexpr char annotation_chunk_table_digest[] = "dev.containerd.erofs.zstd.chunk_digest";
inline constexpr char annotation_verity_offset[] = "dev.containerd.erofs.dmverity.offset";
inline constexpr char annotation_verity_root_digest[] = "dev.containerd.erofs.dmverity.root_digest";
inline constexpr char media_type[] = "application/vnd.erofs.layer.v1+zstd";

constexpr bool is_skippable_magic(std::uint32_t m) noexcept {
  return m >= skippable_magic_min && m <= skippable_magic_max;
}

// True when `head` starts with a zstd frame's magic: how a seekable layer's first bytes look.
inline bool starts_with_frame_magic(bytes_view head) noexcept {
  return head.size() >= 4 && load_le32(head.data()) == frame_magic;
}

struct skippable_header {
  std::uint32_t magic = 0;
  std::uint32_t payload_size = 0;
};

inline result<skippable_header> parse_skippable_header(bytes_view raw) noexcept {
  if (raw.size() < skippable_header_size)
    return corrupted(what::seekable_zstd_skippable_header_truncated, {.value = raw.size()});
  skippable_header h;
  h.magic = load_le32(raw.data());
  h.payload_size = load_le32(raw.data() + 4);
  if (!is_skippable_magic(h.magic))
    return corrupted(what::seekable_zstd_not_a_skippable_frame, {.value = h.magic});
  return h;
}

struct table_header {
  std::uint64_t uncompressed_size = 0;
  std::uint32_t chunk_size = 0;
  chunk_hash hash = chunk_hash::none;
  std::size_t checksum_size = 0;  // per entry, from the hash algorithm
  std::uint64_t chunk_count = 0;  // ceil(uncompressed_size / chunk_size)

  std::size_t entry_size() const noexcept { return entry_offset_size + checksum_size; }
};

// Parses and checks the 23-byte header at the start of a chunk table payload.
inline result<table_header> parse_table_header(bytes_view payload) noexcept {
  if (payload.size() < table_header_size)
    return corrupted(what::seekable_zstd_chunk_table_shorter_than_its_header,
                     {.value = payload.size()});
  const std::byte* b = payload.data();
  if (const std::uint32_t m = load_le32(b + th::magic); m != table_magic)
    return corrupted(what::seekable_zstd_chunk_table_magic_mismatch, {.offset = th::magic, .value = m});
  if (const std::uint32_t v = load_le32(b + th::version); v != table_version)
    return corrupted(what::seekable_zstd_chunk_table_version_not_1, {.offset = th::version, .value = v});
  if (const std::uint16_t r = load_le16(b + th::reserved); r != 0)
    return corrupted(what::seekable_zstd_chunk_table_reserved_bytes_not_zero,
                     {.offset = th::reserved, .value = r});
  table_header h;
  h.uncompressed_size = load_le64(b + th::uncompressed_size);
  h.chunk_size = load_le32(b + th::chunk_size);
  if (h.chunk_size == 0)
    return corrupted(what::seekable_zstd_chunk_size_is_zero, {.offset = th::chunk_size});
  if (h.chunk_size > max_chunk_size)
    return make_error(errc::limit_exceeded, what::seekable_zstd_chunk_size_above_the_limit,
                      {.offset = th::chunk_size, .value = h.chunk_size});
  switch (const std::uint8_t a = load_u8(b + th::hash_algorithm)) {
    case static_cast<std::uint8_t>(chunk_hash::none): h.hash = chunk_hash::none; break;
    case static_cast<std::uint8_t>(chunk_hash::sha512):
      h.hash = chunk_hash::sha512;
      h.checksum_size = sha512_checksum_size;
      break;
    default:
      return unsupported(what::seekable_zstd_chunk_hash_algorithm_not_supported,
                         {.offset = th::hash_algorithm, .value = a});
  }
  h.chunk_count = h.uncompressed_size / h.chunk_size + (h.uncompressed_size % h.chunk_size != 0);
  return h;
}

// One chunk: where its frame is in the blob and which image bytes it decodes to.
struct chunk {
  std::uint64_t index = 0;
  std::uint64_t frame_offset = 0;
  std::uint64_t frame_size = 0;
  std::uint64_t image_offset = 0;
  std::uint32_t image_size = 0;  // chunk_size, or the remainder for the last chunk
  bytes_view checksum;           // empty without a hash algorithm; points into the table
};

// A checked chunk table. Every frame lies in [0, table_offset): the first at 0, each one after
// the previous, the last ending where the table's skippable frame starts.
class chunk_table {
 public:
  const table_header& header() const noexcept { return header_; }
  std::uint64_t table_offset() const noexcept { return table_offset_; }
  // One past the table's skippable frame.
  std::uint64_t table_end() const noexcept {
    return table_offset_ + skippable_header_size + payload_.size();  // parse() checked it
  }
  std::uint64_t chunk_count() const noexcept { return header_.chunk_count; }

  // Chunk i < chunk_count().
  chunk at(std::uint64_t i) const noexcept {
    chunk c;
    c.index = i;
    c.frame_offset = offset_of(i);
    c.frame_size = (i + 1 < header_.chunk_count ? offset_of(i + 1) : table_offset_) - c.frame_offset;
    c.image_offset = i * header_.chunk_size;  // < uncompressed_size: no overflow
    const std::uint64_t left = header_.uncompressed_size - c.image_offset;
    c.image_size = static_cast<std::uint32_t>(left < header_.chunk_size ? left : header_.chunk_size);
    c.checksum = bytes_view(payload_).subspan(entry_at(i) + entry_offset_size, header_.checksum_size);
    return c;
  }

  // Parses the payload of the table's skippable frame, whose header is at `table_offset` of the
  // blob, and checks every entry.
  static result<chunk_table> parse(bytes_view payload, std::uint64_t table_offset) noexcept {
    EROFSFS_TRY_ASSIGN(const table_header h, parse_table_header(payload));
    // payload.size() fits in u32 (a skippable frame's size), so a matching count is small.
    std::uint64_t want;
    if (!checked_mul(h.chunk_count, h.entry_size(), want) ||
        !checked_add(want, table_header_size, want) || want != payload.size())
      return corrupted(what::seekable_zstd_chunk_table_size_does_not_match_the_chunk_count,
                       {.offset = payload.size(), .value = h.chunk_count});
    std::uint64_t end;
    if (!checked_add(table_offset, skippable_header_size + payload.size(), end))
      return corrupted(what::seekable_zstd_chunk_table_past_the_end_of_the_blob,
                       {.offset = table_offset});
    if (h.chunk_count == 0 && table_offset != 0)
      return corrupted(what::seekable_zstd_first_frame_not_at_offset_0, {.offset = table_offset});
    chunk_table t;
    t.header_ = h;
    t.table_offset_ = table_offset;
    t.payload_.assign(payload.begin(), payload.end());
    const std::uint64_t limit = max_frame_size(h.chunk_size);
    for (std::uint64_t i = 0; i < h.chunk_count; ++i) {  // bounded by the payload's size
      const std::uint64_t at = t.offset_of(i);
      if (i == 0 && at != 0)
        return corrupted(what::seekable_zstd_first_frame_not_at_offset_0, {.offset = at, .value = i});
      if (at >= table_offset)
        return corrupted(what::seekable_zstd_frame_offset_not_before_the_chunk_table,
                         {.offset = at, .value = i});
      const std::uint64_t next = i + 1 < h.chunk_count ? t.offset_of(i + 1) : table_offset;
      if (next <= at)
        return corrupted(what::seekable_zstd_frame_offsets_not_increasing, {.offset = next, .value = i + 1});
      if (next > table_offset)
        return corrupted(what::seekable_zstd_frame_offset_not_before_the_chunk_table,
                         {.offset = next, .value = i + 1});
      if (next - at > limit)
        return make_error(errc::limit_exceeded, what::seekable_zstd_frame_larger_than_the_limit,
                          {.offset = at, .value = i});
    }
    return t;
  }

 private:
  std::size_t entry_at(std::uint64_t i) const noexcept {
    return table_header_size + static_cast<std::size_t>(i) * header_.entry_size();
  }
  std::uint64_t offset_of(std::uint64_t i) const noexcept {
    return load_le64(payload_.data() + entry_at(i));
  }

  table_header header_{};
  std::uint64_t table_offset_ = 0;
  std::vector<std::byte> payload_;
};

// Where a skippable frame is: its header's offset and its payload.
struct frame_location {
  std::uint64_t offset = 0;          // of the 8-byte header
  std::uint64_t payload_offset = 0;  // offset + 8
  std::uint32_t payload_size = 0;
};

// Searches `tail`, the last bytes of a blob of `blob_size` bytes starting at `tail_offset`, for
// the chunk table's skippable frame: a skippable header followed by the table magic, whose
// frame ends the blob, or is followed by a skippable frame that ends the blob (the dm-verity
// data; then its header must be in `tail` too). Returns the lowest such offset; the caller
// parses and checks the table there. Linear in the tail's size.
inline std::optional<std::uint64_t> find_chunk_table(bytes_view tail, std::uint64_t tail_offset,
                                                     std::uint64_t blob_size) noexcept {
  if (tail.size() < skippable_header_size + 4) return std::nullopt;
  for (std::size_t p = 0; p + skippable_header_size + 4 <= tail.size(); ++p) {  // bounded
    const std::byte* b = tail.data() + p;
    if (!is_skippable_magic(load_le32(b)) || load_le32(b + skippable_header_size) != table_magic)
      continue;
    const std::uint64_t at = tail_offset + p;
    const std::uint64_t end = at + skippable_header_size + load_le32(b + 4);  // no overflow: u32s
    if (end == blob_size) return at;
    if (end > blob_size || end - tail_offset + skippable_header_size > tail.size()) continue;
    const std::byte* v = tail.data() + (end - tail_offset);
    if (is_skippable_magic(load_le32(v)) &&
        end + skippable_header_size + load_le32(v + 4) == blob_size)
      return at;
  }
  return std::nullopt;
}

}  // namespace erofsfs::seekable_zstd
