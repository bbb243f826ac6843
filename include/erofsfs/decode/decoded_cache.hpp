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
// same layout. The cache is split into shards, each with its own lock, so threads reading
// different pclusters rarely meet on a lock.
//
// Why the shard is laid out as it is: a warm read-all of an image with small pclusters is one
// lookup per ~9 KB copied, so the lookup's cache misses are what it costs beside the copy.
// Entries sit in one dense array (key, buffer reference and reference bit in one 64-byte
// line); an open-addressing index of 8-byte slots (hash tag + entry number, linear probing,
// backward-shift deletion) finds them; eviction is CLOCK (second chance) over the entry
// array, so a hit only sets a bit instead of relinking list nodes. A lookup touches one index
// line, one entry line and the buffer's control block, which sits right before its bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"

namespace erofsfs {

// The decoded bytes of one extent; filled once by the decoding thread, then only read.
class decoded_buffer {
 public:
  // One allocation holds the reference counts, this header and the bytes: a reader's count
  // update and the copy that follows touch neighbouring memory.
  static std::shared_ptr<decoded_buffer> make(std::size_t size) {
    constexpr std::size_t unit = sizeof(std::max_align_t);
    constexpr std::size_t header = (sizeof(decoded_buffer) + unit - 1) / unit * unit;
    auto storage = std::make_shared_for_overwrite<std::max_align_t[]>((header + size + unit - 1) / unit);
    std::byte* base = reinterpret_cast<std::byte*>(storage.get());
    decoded_buffer* b = ::new (base) decoded_buffer(base + header, size);
    return std::shared_ptr<decoded_buffer>(std::move(storage), b);  // aliases the storage
  }
  bytes_view bytes() const noexcept { return {data_, size_}; }
  // For the decoding thread only, before the buffer is published.
  mutable_bytes fill() noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }

 private:
  decoded_buffer(std::byte* data, std::size_t size) noexcept : data_(data), size_(size) {}
  std::byte* data_;  // inside the same allocation, after this header
  std::size_t size_;
};
static_assert(std::is_trivially_destructible_v<decoded_buffer>,
              "the storage's deleter never runs ~decoded_buffer");

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
  // What an entry costs beyond its decoded bytes (entry, index slots, token, control block and
  // buffer header, allocator overhead), charged against the budget.
  static constexpr std::size_t entry_overhead = 192;

  // `budget` bytes in all, split evenly between `shards` (0: one per 32 MiB of budget, 1 to
  // 16). An extent larger than a shard's share is served to its reader but not kept.
  explicit decoded_cache(std::size_t budget, unsigned shards = 0)
      : shard_count_(pick_shards(budget, shards)),
        shard_budget_(budget / shard_count_),
        shards_(std::make_unique<shard[]>(shard_count_)) {}
  decoded_cache(const decoded_cache&) = delete;
  decoded_cache& operator=(const decoded_cache&) = delete;

  // The entry for `k`, or null; a hit marks it used, so the next eviction sweep passes it.
  decoded_ref find(const decoded_cache_key& k) noexcept {
    const std::uint64_t h = hash(k);
    shard& s = shard_for(h);
    std::lock_guard<std::mutex> lock(s.mu);
    const std::uint32_t e = s.lookup(k, h);
    if (e == no_entry) {
      ++s.misses;
      return nullptr;
    }
    ++s.hits;
    entry& en = s.entries[e];
    en.used = true;
    return en.data;
  }

  // Publishes `data` (which must not change from now on) as the bytes of `k`. `token` is the
  // image's identity token, `k.image` its address. Evicts entries of the shard not used since
  // the sweep last passed them until it fits; false when it does not fit at all (or `k` is
  // present already).
  bool insert(const decoded_cache_key& k, std::shared_ptr<const void> token, decoded_ref data) {
    if (!data || !token || token.get() != k.image) return false;
    const std::size_t cost = data->size() + entry_overhead;
    if (cost > shard_budget_) return false;
    const std::uint64_t h = hash(k);
    shard& s = shard_for(h);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.lookup(k, h) != no_entry) return false;  // another reader decoded it first: keep theirs
    // bounded: each eviction frees at least one byte of the shard, which holds < budget bytes
    while (s.bytes + cost > shard_budget_)
      if (!s.evict_one()) return false;  // not reached: bytes > 0 means a live entry
    s.add(k, h, std::move(token), std::move(data), cost);
    ++s.insertions;
    return true;
  }

  // Drops every entry of the image whose identity token is at `image` (e.g. when a daemon
  // closes an image: its memory is given back at once instead of aging out).
  void forget(const void* image) noexcept {
    for (std::size_t i = 0; i < shard_count_; ++i) {  // bounded: the shard count
      shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      for (std::uint32_t e = 0; e < s.entries.size(); ++e)  // bounded: the shard's entries
        if (s.entries[e].data && s.entries[e].key.image == image) s.remove(e);
    }
  }

  // Drops everything.
  void clear() noexcept {
    for (std::size_t i = 0; i < shard_count_; ++i) {  // bounded: the shard count
      shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      s.reset();
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
      st.entries += s.live;
      st.bytes += s.bytes;
    }
    return st;
  }

  std::size_t budget() const noexcept { return shard_budget_ * shard_count_; }
  std::size_t shard_budget() const noexcept { return shard_budget_; }
  unsigned shard_count() const noexcept { return static_cast<unsigned>(shard_count_); }

 private:
  static constexpr std::uint32_t no_entry = std::numeric_limits<std::uint32_t>::max();

  static std::uint64_t hash(const decoded_cache_key& k) noexcept {
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
    return h;
  }

  // One cached extent; `data` empty marks a free entry (on the free list).
  struct entry {
    decoded_cache_key key;
    decoded_ref data;
    bool used = false;       // CLOCK's reference bit: set by a hit, cleared by the sweep
  };

  // An index slot: the high 32 bits of the key's hash (0 is "empty": tags are made non-zero)
  // and the entry's number.
  struct slot {
    std::uint32_t tag = 0;
    std::uint32_t entry = 0;
  };

  struct shard {
    mutable std::mutex mu;
    std::vector<entry> entries;
    std::vector<std::shared_ptr<const void>> tokens;  // per entry: keeps key.image unique
    std::vector<std::uint64_t> costs;                 // per entry, what it is charged
    std::vector<std::uint32_t> free_entries;
    std::vector<slot> index;  // size: 0 or a power of two ≥ 2 × live entries
    std::size_t live = 0;
    std::size_t bytes = 0;
    std::uint32_t hand = 0;  // CLOCK's position in `entries`
    std::uint64_t hits = 0, misses = 0, insertions = 0, evictions = 0;

    static std::uint32_t tag_of(std::uint64_t h) noexcept {
      const auto t = static_cast<std::uint32_t>(h >> 32);
      return t ? t : 1;
    }
    std::size_t mask() const noexcept { return index.size() - 1; }

    std::uint32_t lookup(const decoded_cache_key& k, std::uint64_t h) const noexcept {
      if (index.empty()) return no_entry;
      const std::uint32_t tag = tag_of(h);
      // bounded: the index is at most half full, so an empty slot ends every probe
      for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
        const slot& sl = index[i];
        if (sl.tag == 0) return no_entry;
        if (sl.tag == tag && entries[sl.entry].key == k) return sl.entry;
      }
    }

    // The index slot that points at entry `e` (which is live).
    std::size_t slot_of(std::uint32_t e) const noexcept {
      const std::uint64_t h = hash(entries[e].key);
      std::size_t i = h & mask();
      while (index[i].entry != e || index[i].tag == 0) i = (i + 1) & mask();  // bounded: e is indexed
      return i;
    }

    void place(std::uint32_t e, std::uint64_t h) noexcept {
      std::size_t i = h & mask();
      while (index[i].tag != 0) i = (i + 1) & mask();  // bounded: the index is at most half full
      index[i] = slot{tag_of(h), e};
    }

    void grow_index_for(std::size_t n) {
      if (!index.empty() && 2 * n <= index.size()) return;
      std::size_t size = index.empty() ? 64 : index.size();
      while (size < 2 * n) size *= 2;  // bounded: doubles up to 2n
      index.assign(size, slot{});
      for (std::uint32_t e = 0; e < entries.size(); ++e)  // bounded: the entries
        if (entries[e].data) place(e, hash(entries[e].key));
    }

    void add(const decoded_cache_key& k, std::uint64_t h, std::shared_ptr<const void> token,
             decoded_ref data, std::size_t cost) {
      grow_index_for(live + 1);
      std::uint32_t e;
      if (!free_entries.empty()) {
        e = free_entries.back();
        free_entries.pop_back();
      } else {
        e = static_cast<std::uint32_t>(entries.size());
        entries.emplace_back();
        tokens.emplace_back();
        costs.emplace_back();
      }
      entries[e].key = k;
      entries[e].data = std::move(data);
      entries[e].used = false;
      tokens[e] = std::move(token);
      costs[e] = cost;
      place(e, h);
      ++live;
      bytes += cost;
    }

    // Removes live entry `e`: its index slot goes by backward shift (the slots after it in
    // its probe run move up where their home allows), so no tombstones build up.
    void remove(std::uint32_t e) noexcept {
      std::size_t hole = slot_of(e);
      for (std::size_t i = (hole + 1) & mask(); index[i].tag != 0; i = (i + 1) & mask()) {
        // bounded: the run ends at an empty slot
        const std::size_t home = hash(entries[index[i].entry].key) & mask();
        // Slot i may fill the hole when its home is not in (hole, i] (cyclically).
        const bool home_between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_between) {
          index[hole] = index[i];
          hole = i;
        }
      }
      index[hole] = slot{};
      bytes -= costs[e];
      entries[e].data.reset();
      tokens[e].reset();
      free_entries.push_back(e);
      --live;
    }

    // CLOCK: passes used entries once (clearing their bit), evicts the first unused one;
    // false when the shard is empty.
    bool evict_one() noexcept {
      // bounded: within two sweeps every live entry's bit is clear; insert only calls this
      // while bytes > 0, i.e. with a live entry
      for (std::size_t steps = 0; steps <= 2 * entries.size(); ++steps) {
        if (hand >= entries.size()) hand = 0;
        entry& en = entries[hand];
        const std::uint32_t e = hand++;
        if (!en.data) continue;
        if (en.used) {
          en.used = false;
          continue;
        }
        remove(e);
        ++evictions;
        return true;
      }
      return false;
    }

    void reset() noexcept {
      entries.clear();
      tokens.clear();
      costs.clear();
      free_entries.clear();
      index.clear();
      live = 0;
      bytes = 0;
      hand = 0;
    }
  };

  static std::size_t pick_shards(std::size_t budget, unsigned wanted) noexcept {
    if (wanted) return wanted;
    return std::clamp<std::size_t>(budget / (std::size_t{32} << 20), 1, 16);
  }
  // The shard comes from bits the index position (the low bits) does not use: were they the
  // same, every key of a shard would land on 1/shard_count of its index and probe runs grow.
  shard& shard_for(std::uint64_t h) const noexcept { return shards_[(h >> 48) % shard_count_]; }

  std::size_t shard_count_;
  std::size_t shard_budget_;
  std::unique_ptr<shard[]> shards_;
};

}  // namespace erofsfs
