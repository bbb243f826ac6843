// A decoded-pcluster cache several readers share (L5): optional, bounded in bytes,
// thread-safe. A read_context pointed at one (read_context::shared_cache) looks decoded
// extents up here before decoding and publishes what it decodes, so a second pass over a
// compressed image, another thread reading the same file, or another FUSE request serves
// bytes without decoding again. Without one, each read_context keeps only its own last
// extent (the zero-config default).
//
//   erofsfs::decoded_cache cache(512 << 20);           // 512 MiB, shared by every reader
//   erofsfs::read_context ctx;                         // one per thread, as always
//   ctx.shared_cache = &cache;
//
// Entries are immutable buffers behind shared_ptr: a reader holding one never sees it change,
// and eviction only drops the cache's reference (the memory goes when the last reader lets
// go; each read_context holds at most one). The key is the image's identity token plus the
// pcluster's place and how it is decoded (device, physical offset and length, decoded length,
// algorithm, flags, in-block offset for interlaced data), never the inode: files that share a
// pcluster (dedupe, fragments in the packed inode) share the entry. An entry holds its image's
// token, so a later image can never match it, even one opened at the same address with the
// same layout. The cache is split into shards, each with its own lock and LRU list, so
// threads reading different pclusters rarely meet on a lock.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"

namespace erofsfs {

// The decoded bytes of one extent; filled once by the decoding thread, then only read.
class decoded_buffer {
 public:
  explicit decoded_buffer(std::size_t size)
      : data_(std::make_unique_for_overwrite<std::byte[]>(size)), size_(size) {}
  bytes_view bytes() const noexcept { return {data_.get(), size_}; }
  // For the decoding thread only, before the buffer is published.
  mutable_bytes fill() noexcept { return {data_.get(), size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_;
};

using decoded_ref = std::shared_ptr<const decoded_buffer>;

// What makes two decodes produce the same bytes: the same image, the same stored bytes, the
// same decoding.
struct decoded_cache_key {
  const void* image = nullptr;  // the identity token's address (kept alive by the entry)
  std::uint64_t physical = 0;
  std::uint64_t physical_length = 0;
  std::uint64_t length = 0;         // decoded bytes
  std::uint32_t block_offset = 0;   // logical % block size, for interlaced extents only
  std::uint16_t device = 0;
  std::uint8_t algorithm = 0;
  std::uint8_t flags = 0;

  bool operator==(const decoded_cache_key&) const = default;
};

struct decoded_cache_stats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t insertions = 0;
  std::uint64_t evictions = 0;
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;  // charged bytes held, ≤ the budget
};

class decoded_cache {
 public:
  // What an entry costs beyond its decoded bytes (list node, map node, control block).
  static constexpr std::size_t entry_overhead = 192;

  // `budget` bytes in all, split evenly between `shards` (0: one per 32 MiB of budget, 1 to
  // 16). An extent larger than a shard's share is served to its reader but not kept.
  explicit decoded_cache(std::size_t budget, unsigned shards = 0)
      : shard_count_(pick_shards(budget, shards)),
        shard_budget_(budget / shard_count_),
        shards_(std::make_unique<shard[]>(shard_count_)) {}
  decoded_cache(const decoded_cache&) = delete;
  decoded_cache& operator=(const decoded_cache&) = delete;

  // The entry for `k`, or null; a hit makes it the shard's most recently used.
  decoded_ref find(const decoded_cache_key& k) noexcept {
    shard& s = shard_for(k);
    std::lock_guard<std::mutex> lock(s.mu);
    const auto it = s.index.find(k);
    if (it == s.index.end()) {
      ++s.misses;
      return nullptr;
    }
    ++s.hits;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return it->second->data;
  }

  // Publishes `data` (which must not change from now on) as the bytes of `k`. `token` is the
  // image's identity token, `k.image` its address. Evicts least recently used entries of the
  // shard until it fits; false when it does not fit at all (or `k` is present already).
  bool insert(const decoded_cache_key& k, std::shared_ptr<const void> token, decoded_ref data) {
    if (!data || !token || token.get() != k.image) return false;
    const std::size_t cost = data->size() + entry_overhead;
    if (cost > shard_budget_) return false;
    shard& s = shard_for(k);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.index.count(k)) return false;  // another reader decoded it first: keep theirs
    while (s.bytes + cost > shard_budget_) {  // bounded: each pass removes one entry
      const entry& victim = s.lru.back();
      s.bytes -= victim.cost;
      s.index.erase(victim.key);
      s.lru.pop_back();
      ++s.evictions;
    }
    s.lru.push_front(entry{k, std::move(token), std::move(data), cost});
    s.index.emplace(k, s.lru.begin());
    s.bytes += cost;
    ++s.insertions;
    return true;
  }

  // Drops every entry of the image whose identity token is at `image` (e.g. when a daemon
  // closes an image: its memory is given back at once instead of aging out).
  void forget(const void* image) noexcept {
    for (std::size_t i = 0; i < shard_count_; ++i) {  // bounded: the shard count
      shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto it = s.lru.begin(); it != s.lru.end();) {  // bounded: the shard's entries
        if (it->key.image != image) {
          ++it;
          continue;
        }
        s.bytes -= it->cost;
        s.index.erase(it->key);
        it = s.lru.erase(it);
      }
    }
  }

  // Drops everything.
  void clear() noexcept {
    for (std::size_t i = 0; i < shard_count_; ++i) {  // bounded: the shard count
      shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      s.index.clear();
      s.lru.clear();
      s.bytes = 0;
    }
  }

  decoded_cache_stats stats() const noexcept {
    decoded_cache_stats st;
    for (std::size_t i = 0; i < shard_count_; ++i) {  // bounded: the shard count
      shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      st.hits += s.hits;
      st.misses += s.misses;
      st.insertions += s.insertions;
      st.evictions += s.evictions;
      st.entries += s.index.size();
      st.bytes += s.bytes;
    }
    return st;
  }

  std::size_t budget() const noexcept { return shard_budget_ * shard_count_; }
  std::size_t shard_budget() const noexcept { return shard_budget_; }
  unsigned shard_count() const noexcept { return static_cast<unsigned>(shard_count_); }

 private:
  struct key_hash {
    std::size_t operator()(const decoded_cache_key& k) const noexcept {
      // splitmix64-style mixing of every field; the pcluster offset carries most entropy.
      std::uint64_t h = reinterpret_cast<std::uintptr_t>(k.image);
      auto mix = [&h](std::uint64_t v) {
        h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
        h ^= h >> 31;
      };
      mix(k.physical);
      mix(k.physical_length);
      mix(k.length);
      mix((std::uint64_t{k.block_offset} << 32) | (std::uint64_t{k.device} << 16) |
          (std::uint64_t{k.algorithm} << 8) | k.flags);
      return static_cast<std::size_t>(h);
    }
  };
  struct entry {
    decoded_cache_key key;
    std::shared_ptr<const void> token;  // keeps key.image unique while the entry exists
    decoded_ref data;
    std::size_t cost = 0;
  };
  struct shard {
    mutable std::mutex mu;
    std::list<entry> lru;  // front: most recently used
    std::unordered_map<decoded_cache_key, std::list<entry>::iterator, key_hash> index;
    std::size_t bytes = 0;
    std::uint64_t hits = 0, misses = 0, insertions = 0, evictions = 0;
  };

  static std::size_t pick_shards(std::size_t budget, unsigned wanted) noexcept {
    if (wanted) return wanted;
    return std::clamp<std::size_t>(budget / (std::size_t{32} << 20), 1, 16);
  }
  shard& shard_for(const decoded_cache_key& k) const noexcept {
    return shards_[(key_hash{}(k) >> 7) % shard_count_];
  }

  std::size_t shard_count_;
  std::size_t shard_budget_;
  std::unique_ptr<shard[]> shards_;
};

}  // namespace erofsfs
