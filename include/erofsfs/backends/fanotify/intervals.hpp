// A set of disjoint byte ranges (L8): which parts of a sparse backing file already hold the
// source's bytes. Touching and overlapping ranges coalesce, so a file filled front to back is
// one entry; the number of entries is capped so a pathological access pattern cannot grow it
// without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>

#include "../../base/error.hpp"

namespace erofsfs::fanotify {

class interval_set {
 public:
  explicit interval_set(std::size_t max_intervals = std::size_t{1} << 20) noexcept
      : max_(max_intervals) {}

  // Adds [start, end). Fails with limit_exceeded (and changes nothing) when the set would need
  // more than max_intervals entries; an empty or inverted range is a no-op.
  status insert(std::uint64_t start, std::uint64_t end) {
    if (start >= end) return {};
    // First entry that could touch [start, end): the last one starting at or before start.
    auto it = map_.upper_bound(start);
    if (it != map_.begin() && std::prev(it)->second >= start) --it;
    // Bounded: each step erases or passes one existing entry.
    auto last = it;
    std::uint64_t lo = start, hi = end;
    std::size_t absorbed = 0;
    while (last != map_.end() && last->first <= end) {
      if (last->first < lo) lo = last->first;
      if (last->second > hi) hi = last->second;
      ++last;
      ++absorbed;
    }
    if (absorbed == 0 && map_.size() >= max_)
      return make_error(errc::limit_exceeded, what::too_many_separate_present_ranges,
                        {.offset = start, .value = map_.size()});
    for (std::size_t i = 0; i < absorbed; ++i) bytes_ -= it->second - it->first, it = map_.erase(it);
    map_.emplace(lo, hi);
    bytes_ += hi - lo;
    return {};
  }

  // Every byte of [start, end) is present (true for an empty range).
  bool contains(std::uint64_t start, std::uint64_t end) const {
    if (start >= end) return true;
    auto it = map_.upper_bound(start);
    if (it == map_.begin()) return false;
    --it;
    return it->first <= start && it->second >= end;
  }

  // Calls fn(gap_start, gap_end) for each missing part of [start, end), in order.
  template <class Fn>
  void for_each_gap(std::uint64_t start, std::uint64_t end, Fn&& fn) const {
    if (start >= end) return;
    std::uint64_t pos = start;
    auto it = map_.upper_bound(start);
    if (it != map_.begin() && std::prev(it)->second > start) --it;
    // Bounded: walks entries in increasing order, stopping past `end`.
    for (; it != map_.end() && it->first < end && pos < end; ++it) {
      if (it->first > pos) fn(pos, it->first);
      if (it->second > pos) pos = it->second;
    }
    if (pos < end) fn(pos, end);
  }

  // Calls fn(start, end) for each range, in order.
  template <class Fn>
  void for_each_range(Fn&& fn) const {
    for (const auto& [a, b] : map_) fn(a, b);
  }

  std::size_t size() const noexcept { return map_.size(); }
  std::uint64_t bytes() const noexcept { return bytes_; }
  void clear() noexcept {
    map_.clear();
    bytes_ = 0;
  }

 private:
  std::map<std::uint64_t, std::uint64_t> map_;  // start -> end, disjoint, not touching
  std::uint64_t bytes_ = 0;
  std::size_t max_;
};

}  // namespace erofsfs::fanotify
