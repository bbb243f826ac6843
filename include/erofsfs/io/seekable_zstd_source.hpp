// Seekable zstd layer source (L2, opt-in): presents the EROFS image inside a seekable zstd layer
// (containerd's application/vnd.erofs.layer.v1+zstd, format/seekable_zstd.hpp) over any sized
// byte source holding the blob: a file, an http_source, a registry blob. Include this header and
// link libzstd (pkg-config libzstd), as for codecs/zstd.hpp; nothing else in erofsfs needs it.
//
// What it promises:
// - Only the image's bytes reach a caller. A read fetches the frames of the chunks it touches,
//   each with one read_at of exactly its compressed range (next frame's offset - its offset),
//   checks the SHA-512 of those bytes against the chunk table when the table has checksums,
//   checks that they are exactly one zstd frame, decodes it and checks that it gives exactly the
//   chunk's size, all before any byte is returned. A failure leaves zeros in the destination.
// - open() checks the whole table (format/seekable_zstd.hpp), and the chunk table's digest when
//   the caller passes the layer's annotation. The table is found at the offset the caller gives
//   (the dev.containerd.erofs.zstd.chunk_table_offset annotation) or else by searching the
//   last `locate_window` bytes of the blob, the only place the layout allows it.
// - Decoded chunks are kept in a bounded LRU cache of `cache_bytes`. Memory is at most
//   cache_bytes + (chunk size + its frame) per concurrent reader. read_at may be called
//   concurrently on a const source: the cache has a mutex, fetches and decodes run outside it
//   (two readers missing the same chunk may both decode it; the cache keeps one).
// - With a dm-verity frame (the optional skippable frame after the table), verity_tree() is a
//   source over its payload: pass it to verity_source::open(*this, verity_tree(), root_hex)
//   (io/verity_source.hpp; the superblock at its offset 0, the default) to check every block
//   against a root hash the caller trusts, e.g. from the dev.containerd.erofs.dmverity.root_digest
//   annotation (root_hex_of_digest() strips its "sha512:"). The chunk checksums are then an extra
//   check, or absent (hash algorithm 0) with verity guarding the bytes alone.
//
// Errors are erofsfs::error values with what::seekable_zstd_* constants; read() has the whole
// error (offset = the frame's offset in the blob, value = the chunk index), read_at only its code.
#pragma once

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../base/error_text.hpp"
#include "../base/sha512.hpp"
#include "../format/seekable_zstd.hpp"
#include "../format/verity.hpp"
#include "offset_source.hpp"
#include "source.hpp"
#include "verity_source.hpp"

namespace erofsfs {

struct seekable_zstd_options {
  // The chunk table frame's offset (annotation dev.containerd.erofs.zstd.chunk_table_offset);
  // without it the table is searched for in the blob's last locate_window bytes.
  std::optional<std::uint64_t> chunk_table_offset;
  std::uint64_t locate_window = std::uint64_t{1} << 20;
  // "sha512:<hex>" of the table's payload (annotation dev.containerd.erofs.zstd.chunk_digest);
  // checked before the table is parsed when not empty.
  std::string_view chunk_table_digest;
  // The dm-verity frame's offset (annotation dev.containerd.erofs.dmverity.offset); when given
  // it must be where the layout puts the frame, right after the table.
  std::optional<std::uint64_t> verity_offset;
  // Decoded chunks kept; below one chunk the cache is off and every read decodes.
  std::uint64_t cache_bytes = std::uint64_t{32} << 20;
};

// Totals since open(); each field exact, the set not a snapshot.
struct seekable_zstd_stats {
  std::uint64_t frames_fetched = 0;
  std::uint64_t compressed_bytes_fetched = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t failures = 0;
};

// The hex digits of a "<algo>:<hex>" digest (the dm-verity root digest annotation), or of a bare
// hex string; the algorithm itself is the tree's superblock's business.
inline result<std::string_view> root_hex_of_digest(std::string_view digest) noexcept {
  const std::size_t colon = digest.find(':');
  const std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  if (hex.empty() || hex.find(':') != std::string_view::npos)
    return make_error(errc::invalid_argument, what::seekable_zstd_verity_root_digest_malformed,
                      {.value = digest.size()});
  return hex;
}

class seekable_zstd_source {
 public:
  seekable_zstd_source() noexcept = default;

  // Finds (or takes) and checks the chunk table and the optional dm-verity frame. `blob` must
  // have a size and outlive this source.
  static result<seekable_zstd_source> open(source_ref blob,
                                           const seekable_zstd_options& opt = {}) noexcept {
    const std::optional<std::uint64_t> size = blob.size();
    if (!size) return make_error(errc::invalid_argument, what::seekable_zstd_needs_a_sized_source);
    seekable_zstd_source s;
    s.blob_ = blob;
    s.blob_size_ = *size;
    std::uint64_t at;
    if (opt.chunk_table_offset) {
      at = *opt.chunk_table_offset;
    } else {
      EROFSFS_TRY_ASSIGN(at, locate(blob, *size, opt.locate_window));
    }
    EROFSFS_TRY(s.read_table(at, opt.chunk_table_digest));
    EROFSFS_TRY(s.read_verity_frame(opt.verity_offset));
    s.shared_ = std::make_unique<shared>(opt.cache_bytes);
    return s;
  }

  // The image's size: the table's uncompressed size.
  std::uint64_t size() const noexcept { return table_.header().uncompressed_size; }
  const seekable_zstd::chunk_table& table() const noexcept { return table_; }
  // The dm-verity frame, when the blob has one.
  const std::optional<seekable_zstd::frame_location>& verity_frame() const noexcept {
    return verity_frame_;
  }
  // The dm-verity payload (superblock at 0, then the tree) as a source of its own; empty
  // (size 0, every read truncated) without a verity frame.
  const offset_source& verity_tree() const noexcept { return verity_tree_; }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    const status st = read(offset, dst);
    return st ? std::error_code{} : st.error().code;
  }

  // read_at with the whole error.
  status read(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), size()))
      return fail(make_error(errc::truncated, what::seekable_zstd_read_past_the_image,
                             {.offset = offset, .value = dst.size()}),
                  dst);
    const std::uint32_t cs = table_.header().chunk_size;
    std::uint64_t done = 0;
    while (done < dst.size()) {  // bounded: every pass copies at least one byte
      const std::uint64_t at = offset + done;
      const seekable_zstd::chunk c = table_.at(at / cs);
      result<std::shared_ptr<const std::vector<std::byte>>> bytes = chunk_bytes(c);
      if (!bytes) return fail(bytes.error(), dst);
      const std::uint64_t within = at - c.image_offset;
      const std::uint64_t n = std::min<std::uint64_t>(c.image_size - within, dst.size() - done);
      std::memcpy(dst.data() + done, (*bytes)->data() + within, n);
      done += n;
    }
    return {};
  }

  seekable_zstd_stats stats() const noexcept {
    seekable_zstd_stats s;
    s.frames_fetched = shared_->frames.load(std::memory_order_relaxed);
    s.compressed_bytes_fetched = shared_->bytes.load(std::memory_order_relaxed);
    s.cache_hits = shared_->hits.load(std::memory_order_relaxed);
    s.failures = shared_->failures.load(std::memory_order_relaxed);
    return s;
  }

 private:
  using chunk_ptr = std::shared_ptr<const std::vector<std::byte>>;

  // The mutable part, behind a pointer so the source stays movable: the decoded-chunk LRU and
  // the counters.
  struct shared {
    explicit shared(std::uint64_t capacity) : capacity(capacity) {}
    struct slot {
      chunk_ptr bytes;
      std::uint64_t last_use = 0;
    };
    const std::uint64_t capacity;
    std::mutex mu;
    std::unordered_map<std::uint64_t, slot> cache;  // chunk index -> bytes, guarded by mu
    std::uint64_t held = 0;                         // bytes in cache, guarded by mu
    std::uint64_t clock = 0;                        // guarded by mu
    std::atomic<std::uint64_t> frames{0}, bytes{0}, hits{0}, failures{0};

    chunk_ptr lookup(std::uint64_t index) {
      std::lock_guard<std::mutex> lock(mu);
      const auto it = cache.find(index);
      if (it == cache.end()) return nullptr;
      it->second.last_use = ++clock;
      return it->second.bytes;
    }
    void insert(std::uint64_t index, const chunk_ptr& bytes) {
      if (bytes->size() > capacity) return;
      std::lock_guard<std::mutex> lock(mu);
      if (cache.count(index)) return;  // another reader decoded it meanwhile
      // Evict least recently used chunks until this one fits; bounded by the cache's size.
      while (held + bytes->size() > capacity && !cache.empty()) {
        auto victim = cache.begin();
        for (auto it = cache.begin(); it != cache.end(); ++it)
          if (it->second.last_use < victim->second.last_use) victim = it;
        held -= victim->second.bytes->size();
        cache.erase(victim);
      }
      cache.emplace(index, slot{bytes, ++clock});
      held += bytes->size();
    }
  };

  struct dctx {
    ZSTD_DCtx* p = ZSTD_createDCtx();
    dctx() = default;
    dctx(const dctx&) = delete;
    dctx& operator=(const dctx&) = delete;
    ~dctx() { ZSTD_freeDCtx(p); }
  };

  static result<std::uint64_t> locate(source_ref blob, std::uint64_t size,
                                      std::uint64_t window) noexcept {
    const std::uint64_t n = std::min(size, window);
    std::vector<std::byte> tail(static_cast<std::size_t>(n));
    if (std::error_code ec = blob.read_at(size - n, tail))
      return make_error(ec, what::seekable_zstd_reading_the_chunk_table, {.offset = size - n});
    const std::optional<std::uint64_t> at = seekable_zstd::find_chunk_table(tail, size - n, size);
    if (!at)
      return corrupted(what::seekable_zstd_chunk_table_not_found_in_the_tail, {.value = n});
    return *at;
  }

  status read_table(std::uint64_t at, std::string_view digest) noexcept {
    namespace sz = seekable_zstd;
    std::array<std::byte, sz::skippable_header_size> raw;
    if (!in_bounds(at, raw.size(), blob_size_))
      return corrupted(what::seekable_zstd_chunk_table_past_the_end_of_the_blob, {.offset = at});
    if (std::error_code ec = blob_.read_at(at, raw))
      return make_error(ec, what::seekable_zstd_reading_the_chunk_table, {.offset = at});
    EROFSFS_TRY_ASSIGN(const sz::skippable_header h, sz::parse_skippable_header(raw));
    if (h.payload_size > sz::max_table_payload_size)
      return make_error(errc::limit_exceeded, what::seekable_zstd_chunk_table_larger_than_the_limit,
                        {.offset = at, .value = h.payload_size});
    if (!in_bounds(at + raw.size(), h.payload_size, blob_size_))
      return corrupted(what::seekable_zstd_chunk_table_past_the_end_of_the_blob,
                       {.offset = at, .value = h.payload_size});
    std::vector<std::byte> payload(h.payload_size);
    if (std::error_code ec = blob_.read_at(at + raw.size(), payload))
      return make_error(ec, what::seekable_zstd_reading_the_chunk_table, {.offset = at});
    if (!digest.empty()) EROFSFS_TRY(check_table_digest(payload, digest));
    EROFSFS_TRY_ASSIGN(table_, sz::chunk_table::parse(payload, at));
    return {};
  }

  static status check_table_digest(bytes_view payload, std::string_view digest) noexcept {
    constexpr std::string_view prefix = "sha512:";
    std::array<std::uint8_t, sha512::digest_size> want{};
    if (digest.substr(0, prefix.size()) != prefix || !parse_hex(digest.substr(prefix.size()), want))
      return make_error(errc::invalid_argument, what::seekable_zstd_chunk_table_digest_not_sha512_hex,
                        {.value = digest.size()});
    sha512 h;
    h.update(payload);
    if (h.digest() != want) return corrupted(what::seekable_zstd_chunk_table_digest_mismatch);
    return {};
  }

  // After the table: nothing, or one skippable frame that ends the blob and starts with a
  // dm-verity superblock.
  status read_verity_frame(std::optional<std::uint64_t> expected) noexcept {
    namespace sz = seekable_zstd;
    const std::uint64_t at = table_.table_end();
    if (expected && *expected != at)
      return make_error(errc::invalid_argument, what::seekable_zstd_verity_offset_not_after_the_chunk_table,
                        {.offset = *expected, .value = at});
    if (at == blob_size_) {
      if (expected) return corrupted(what::seekable_zstd_no_verity_frame, {.offset = at});
      return {};
    }
    std::array<std::byte, sz::skippable_header_size + sizeof verity::signature> raw;
    if (!in_bounds(at, raw.size(), blob_size_))
      return corrupted(what::seekable_zstd_trailing_bytes_after_the_chunk_table,
                       {.offset = at, .value = blob_size_ - at});
    if (std::error_code ec = blob_.read_at(at, raw))
      return make_error(ec, what::seekable_zstd_reading_the_chunk_table, {.offset = at});
    auto h = sz::parse_skippable_header(raw);
    if (!h)
      return corrupted(what::seekable_zstd_trailing_bytes_after_the_chunk_table,
                       {.offset = at, .value = blob_size_ - at});
    if (at + sz::skippable_header_size + h->payload_size != blob_size_)
      return corrupted(what::seekable_zstd_verity_frame_does_not_end_the_blob,
                       {.offset = at, .value = h->payload_size});
    if (std::memcmp(raw.data() + sz::skippable_header_size, verity::signature,
                    sizeof verity::signature) != 0)
      return corrupted(what::seekable_zstd_verity_frame_without_a_verity_superblock, {.offset = at});
    sz::frame_location v;
    v.offset = at;
    v.payload_offset = at + sz::skippable_header_size;
    v.payload_size = h->payload_size;
    EROFSFS_TRY_ASSIGN(verity_tree_, offset_source::create(blob_, v.payload_offset, v.payload_size));
    verity_frame_ = v;
    return {};
  }

  error fail(const error& e, std::span<std::byte> dst) const noexcept {
    if (!dst.empty()) std::memset(dst.data(), 0, dst.size());  // no unchecked byte escapes
    shared_->failures.fetch_add(1, std::memory_order_relaxed);
    return e;
  }

  result<chunk_ptr> chunk_bytes(const seekable_zstd::chunk& c) const noexcept {
    if (chunk_ptr hit = shared_->lookup(c.index)) {
      shared_->hits.fetch_add(1, std::memory_order_relaxed);
      return hit;
    }
    EROFSFS_TRY_ASSIGN(chunk_ptr fresh, decode(c));
    shared_->insert(c.index, fresh);
    return fresh;
  }

  // Fetches, checks and decodes one chunk's frame (parse() bounded its size).
  result<chunk_ptr> decode(const seekable_zstd::chunk& c) const noexcept {
    const where at{.offset = c.frame_offset, .value = c.index};
    std::vector<std::byte> frame(static_cast<std::size_t>(c.frame_size));
    if (std::error_code ec = blob_.read_at(c.frame_offset, frame))
      return make_error(ec, what::seekable_zstd_reading_a_frame, at);
    shared_->frames.fetch_add(1, std::memory_order_relaxed);
    shared_->bytes.fetch_add(frame.size(), std::memory_order_relaxed);
    if (table_.header().hash == seekable_zstd::chunk_hash::sha512) {
      sha512 h;
      h.update(frame);
      const auto d = h.digest();
      if (std::memcmp(d.data(), c.checksum.data(), d.size()) != 0)
        return corrupted(what::seekable_zstd_chunk_checksum_mismatch, at);
    }
    // Exactly one frame: ZSTD_decompressDCtx would decode concatenated frames as one.
    const std::size_t one = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
    if (ZSTD_isError(one) || one != frame.size())
      return corrupted(what::seekable_zstd_frame_is_not_one_zstd_frame, at);
    dctx ctx;
    if (!ctx.p)
      return make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::seekable_zstd_cannot_allocate_the_decoder);
    auto out = std::make_shared<std::vector<std::byte>>(c.image_size);
    const std::size_t n = ZSTD_decompressDCtx(ctx.p, out->data(), out->size(), frame.data(), frame.size());
    if (ZSTD_isError(n)) {
      if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
        return corrupted(what::seekable_zstd_chunk_decodes_to_more_bytes_than_its_size, at);
      return make_error(errc::decompress_failed, what::seekable_zstd_frame_does_not_decode, at);
    }
    if (n != out->size())
      return corrupted(what::seekable_zstd_chunk_decodes_to_fewer_bytes_than_its_size,
                       {.offset = c.frame_offset, .value = c.index});
    return chunk_ptr(std::move(out));
  }

  source_ref blob_;
  std::uint64_t blob_size_ = 0;
  seekable_zstd::chunk_table table_;
  std::optional<seekable_zstd::frame_location> verity_frame_;
  offset_source verity_tree_;
  std::unique_ptr<shared> shared_;
};

static_assert(sized_source<seekable_zstd_source>);

}  // namespace erofsfs
