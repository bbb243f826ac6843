// A byte source verified against a dm-verity hash tree (L2): wraps the data source, the source
// holding the tree (the same file with the tree appended at a hash offset, or a file of its
// own) and the root hash the user trusts, and checks every data block a read touches, and
// every hash block on its way up to the root, before any byte is returned.
//
// The tree is what `veritysetup format` writes (format/verity.hpp has the format). A mismatch is
// errc::corrupted naming the block: what::verity_data_block_does_not_match_its_digest with the
// data block number in error::value, or what::verity_hash_block_does_not_match_its_digest[level]
// with the block's index in its level in error::value. Through read_at (the byte_source hook
// the image and the backends use) only the code travels: a daemon gives its reader EIO, and
// verity_options::on_failure sees the whole error, for the log line naming the block. After a
// failed read the destination holds zeros, never unverified bytes.
//
// Verified hash blocks are kept in a bounded LRU cache, so a sequential read hashes each tree
// block once. Reads on a const verity_source may run concurrently (the cache has a mutex;
// hashing and source reads run outside it).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../format/verity.hpp"
#include "source.hpp"

namespace erofsfs {

struct verity_options {
  // Byte offset in the hash source of the superblock, or (superblock = false) of the tree.
  std::uint64_t hash_offset = 0;
  // false: the tree has no superblock (`veritysetup format --no-superblock`) and `params`
  // describe it.
  bool superblock = true;
  verity::params params{};
  // Verified hash blocks kept (each hash_block_size bytes); 0 verifies from the root each time.
  std::size_t cache_blocks = 256;
  // Called, on the reading thread, with every verification failure (mismatch or source
  // error); for logging. Must be thread-safe when reads are concurrent.
  void (*on_failure)(void* context, const error& e) noexcept = nullptr;
  void* failure_context = nullptr;
};

struct verity_stats {
  std::uint64_t data_blocks_verified = 0;
  std::uint64_t hash_blocks_verified = 0;  // hash blocks read and hashed (cache misses)
  std::uint64_t cache_hits = 0;
  std::uint64_t failures = 0;
};

// Parses a hex string of exactly out.size() bytes (either case); false otherwise.
inline bool parse_hex(std::string_view hex, std::span<std::uint8_t> out) noexcept {
  if (hex.size() != 2 * out.size()) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

class verity_source {
 public:
  // Reads and checks the superblock (unless opt.superblock is false), lays out the tree, checks
  // both sources are big enough when their sizes are known, and parses the root hash.
  static result<verity_source> open(source_ref data, source_ref hash, std::string_view root_hex,
                                    const verity_options& opt = {}) noexcept {
    verity_source v;
    v.data_ = data;
    v.hash_ = hash;
    v.on_failure_ = opt.on_failure;
    v.failure_context_ = opt.failure_context;
    if (opt.superblock) {
      std::array<std::byte, verity::superblock_size> raw;
      if (opt.hash_offset % 512 != 0)
        return make_error(errc::invalid_argument, what::verity_hash_offset_not_aligned,
                          {.offset = opt.hash_offset});
      if (std::error_code ec = hash.read_at(opt.hash_offset, raw))
        return make_error(ec, what::verity_reading_the_superblock, {.offset = opt.hash_offset});
      EROFSFS_TRY_ASSIGN(const verity::superblock sb, verity::parse_superblock(raw));
      v.params_ = sb.p;
    } else {
      v.params_ = opt.params;
    }
    EROFSFS_TRY(verity::check_params(v.params_));
    EROFSFS_TRY_ASSIGN(const std::uint64_t first,
                       verity::first_hash_block(opt.hash_offset, v.params_.hash_block_size,
                                                opt.superblock));
    EROFSFS_TRY_ASSIGN(v.tree_, verity::make_tree(v.params_, first));
    v.size_ = v.params_.data_size();  // check_params proved it fits
    if (auto s = data.size(); s && *s < v.size_)
      return make_error(errc::truncated, what::verity_data_source_smaller_than_the_data_area,
                        {.offset = *s, .value = v.size_});
    const std::uint64_t tree_end = v.tree_.end_block * v.params_.hash_block_size;  // make_tree checked
    if (auto s = hash.size(); s && *s < tree_end)
      return make_error(errc::truncated, what::verity_hash_source_smaller_than_the_tree,
                        {.offset = *s, .value = tree_end});
    if (!parse_hex(root_hex, std::span(v.root_).first(v.tree_.digest)))
      return make_error(errc::invalid_argument, what::verity_root_hash_not_hex_of_the_digest_size,
                        {.value = root_hex.size()});
    v.shared_ = std::make_unique<shared>(opt.cache_blocks, v.params_.hash_block_size);
    return v;
  }

  // The verified data area: data_blocks * data_block_size bytes.
  std::uint64_t size() const noexcept { return size_; }
  const verity::params& params() const noexcept { return params_; }
  const verity::tree& tree() const noexcept { return tree_; }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    const status st = read(offset, dst);
    return st ? std::error_code{} : st.error().code;
  }

  // read_at with the whole error (which block failed, and how).
  status read(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), size_))
      return fail(make_error(errc::truncated, what::verity_read_past_the_data_area,
                             {.offset = offset, .value = dst.size()}),
                  dst);
    if (dst.empty()) return {};
    const status st = read_blocks(offset, dst);
    if (!st) return fail(st.error(), dst);
    return {};
  }

  verity_stats stats() const noexcept {
    verity_stats s;
    s.data_blocks_verified = shared_->data_verified.load(std::memory_order_relaxed);
    s.hash_blocks_verified = shared_->hash_verified.load(std::memory_order_relaxed);
    s.cache_hits = shared_->cache_hits.load(std::memory_order_relaxed);
    s.failures = shared_->failures.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // The mutable part, behind a pointer so the source stays movable: the hash-block cache and
  // the counters.
  struct shared {
    shared(std::size_t capacity, std::uint32_t block_size)
        : capacity(capacity), block_size(block_size) {}
    struct slot {
      std::uint64_t block = 0;
      std::uint64_t last_use = 0;
      std::vector<std::byte> bytes;
    };
    const std::size_t capacity;
    const std::uint32_t block_size;
    std::mutex mu;
    std::vector<slot> slots;                            // guarded by mu
    std::unordered_map<std::uint64_t, std::size_t> index;  // block -> slot, guarded by mu
    std::uint64_t clock = 0;                            // guarded by mu
    std::atomic<std::uint64_t> data_verified{0}, hash_verified{0}, cache_hits{0}, failures{0};

    // Copies the digest at `pos` out of a cached (verified) hash block, if there is one.
    bool lookup(const verity::digest_position& pos, std::span<std::uint8_t> out) {
      std::lock_guard<std::mutex> lock(mu);
      const auto it = index.find(pos.hash_block);
      if (it == index.end()) return false;
      slot& s = slots[it->second];
      s.last_use = ++clock;
      std::memcpy(out.data(), s.bytes.data() + pos.offset, out.size());
      return true;
    }
    void insert(std::uint64_t block, bytes_view bytes) {
      if (capacity == 0) return;
      std::lock_guard<std::mutex> lock(mu);
      if (index.count(block)) return;  // another reader verified it meanwhile
      std::size_t at = slots.size();
      if (slots.size() < capacity) {
        slots.push_back({});
        slots.back().bytes.resize(block_size);
      } else {  // evict the least recently used; bounded by capacity
        at = 0;
        for (std::size_t i = 1; i < slots.size(); ++i)
          if (slots[i].last_use < slots[at].last_use) at = i;
        index.erase(slots[at].block);
      }
      slot& s = slots[at];
      s.block = block;
      s.last_use = ++clock;
      std::memcpy(s.bytes.data(), bytes.data(), block_size);
      index.emplace(block, at);
    }
  };

  verity_source() = default;

  error fail(const error& e, std::span<std::byte> dst) const noexcept {
    if (!dst.empty()) std::memset(dst.data(), 0, dst.size());  // no unverified byte escapes
    shared_->failures.fetch_add(1, std::memory_order_relaxed);
    if (on_failure_) on_failure_(failure_context_, e);
    return e;
  }

  // [offset, offset + dst.size()) inside the data area, not empty. Whole blocks are read
  // straight into dst in one source read; a partial first or last block goes through a
  // one-block buffer.
  status read_blocks(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    const std::uint64_t bs = params_.data_block_size;
    std::vector<std::byte> block_buf;
    std::vector<std::byte> hash_buf;
    std::uint64_t pos = 0;                  // bytes of dst done
    while (pos < dst.size()) {              // bounded: pos grows every pass
      const std::uint64_t at = offset + pos;
      const std::uint64_t block = at / bs;
      const std::uint64_t within = at % bs;
      const std::uint64_t left = dst.size() - pos;
      if (within == 0 && left >= bs) {  // a run of whole blocks
        const std::uint64_t n = left / bs;
        const std::span<std::byte> run = dst.subspan(pos, n * bs);
        if (std::error_code ec = data_.read_at(at, run))
          return make_error(ec, what::verity_reading_a_data_block, {.offset = at, .value = block});
        for (std::uint64_t i = 0; i < n; ++i)  // bounded by n
          EROFSFS_TRY(verify_data_block(block + i, run.subspan(i * bs, bs), hash_buf));
        pos += n * bs;
        continue;
      }
      if (block_buf.empty()) block_buf.resize(bs);
      if (std::error_code ec = data_.read_at(block * bs, block_buf))
        return make_error(ec, what::verity_reading_a_data_block,
                          {.offset = block * bs, .value = block});
      EROFSFS_TRY(verify_data_block(block, block_buf, hash_buf));
      const std::uint64_t n = std::min(bs - within, left);
      std::memcpy(dst.data() + pos, block_buf.data() + within, n);
      pos += n;
    }
    return {};
  }

  status verify_data_block(std::uint64_t block, bytes_view bytes,
                           std::vector<std::byte>& hash_buf) const noexcept {
    std::array<std::uint8_t, verity::max_digest_size> want{}, got{};
    const std::span<std::uint8_t> w = std::span(want).first(tree_.digest);
    const std::span<std::uint8_t> g = std::span(got).first(tree_.digest);
    EROFSFS_TRY(expected_digest(block, w, hash_buf));
    verity::block_digest(params_, bytes, g);
    if (std::memcmp(w.data(), g.data(), w.size()) != 0)
      return corrupted(what::verity_data_block_does_not_match_its_digest,
                       {.offset = block * params_.data_block_size, .value = block});
    shared_->data_verified.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  // The digest data block `block` must have: from the lowest cached hash block on its path,
  // else from the root, verifying each hash block below that on the way down.
  status expected_digest(std::uint64_t block, std::span<std::uint8_t> want,
                         std::vector<std::byte>& hash_buf) const noexcept {
    unsigned level = 0;  // the lowest level whose block on the path is cached; levels = none
    for (; level < tree_.levels; ++level)  // bounded by the tree's depth
      if (shared_->lookup(tree_.position(level, block), want)) break;
    if (level < tree_.levels) shared_->cache_hits.fetch_add(1, std::memory_order_relaxed);
    if (level == tree_.levels) std::memcpy(want.data(), root_.data(), want.size());
    // `want` is now the digest of the path's hash block at level-1 (or of the data block).
    const std::uint32_t hbs = params_.hash_block_size;
    std::array<std::uint8_t, verity::max_digest_size> got{};
    const std::span<std::uint8_t> g = std::span(got).first(tree_.digest);
    while (level-- > 0) {  // bounded: level counts down to 0
      const verity::digest_position pos = tree_.position(level, block);
      if (hash_buf.empty()) hash_buf.resize(hbs);
      const std::uint64_t at = pos.hash_block * hbs;  // below end_block: make_tree checked
      const std::uint64_t index = pos.hash_block - tree_.level_start[level];
      if (std::error_code ec = hash_.read_at(at, hash_buf))
        return make_error(ec, what::verity_reading_a_hash_block, {.offset = at, .value = index});
      verity::block_digest(params_, hash_buf, g);
      if (std::memcmp(g.data(), want.data(), want.size()) != 0)
        return corrupted(what::verity_hash_block_does_not_match_its_digest[level],
                         {.offset = at, .value = index});
      shared_->hash_verified.fetch_add(1, std::memory_order_relaxed);
      shared_->insert(pos.hash_block, hash_buf);
      std::memcpy(want.data(), hash_buf.data() + pos.offset, want.size());
    }
    return {};
  }

  source_ref data_, hash_;
  verity::params params_{};
  verity::tree tree_{};
  std::array<std::uint8_t, verity::max_digest_size> root_{};
  std::uint64_t size_ = 0;
  void (*on_failure_)(void*, const error&) noexcept = nullptr;
  void* failure_context_ = nullptr;
  std::unique_ptr<shared> shared_;
};

static_assert(sized_source<verity_source>);

}  // namespace erofsfs
