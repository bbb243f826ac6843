// One directory block (L2), spec §10: validation of the dirent array and the name heap, access
// by index, and binary search by name. Hermetic: works on the block's bytes only.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "disk.hpp"
#include "inode.hpp"

namespace erofsfs {

// Directory-order comparison (§10.5): unsigned bytes, a prefix sorts first.
inline int dirent_name_compare(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  const int c = n ? std::memcmp(a.data(), b.data(), n) : 0;  // memcmp compares unsigned bytes
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

struct dirent_info {
  std::string_view name;  // points into the block
  std::uint64_t nid = 0;
  file_type type = file_type::unknown;
};

class dir_block {
 public:
  // `block` is the block's valid bytes (maxsize, §10.1). `nid`/`pos` only label errors.
  // Checks everything a reader relies on: the first nameoff, strictly increasing name offsets,
  // name lengths 1..255 inside the block, no '/' or NUL in names, valid file types, and names
  // in strictly increasing order (binary search depends on it).
  static result<dir_block> parse(bytes_view block, std::uint64_t nid, std::uint64_t pos) noexcept {
    EROFSFS_TRY_ASSIGN(const std::uint32_t nameoff0, first_nameoff(block, nid, pos));
    dir_block b;
    b.bytes_ = block;
    b.count_ = nameoff0 / sizeof(disk::dirent);
    std::string_view prev;
    for (std::size_t i = 0; i < b.count_; ++i) {  // bounded: count_ < block size / 12
      EROFSFS_TRY_ASSIGN(const dirent_info e, checked_entry(block, i, b.count_, nameoff0, nid, pos));
      if (i > 0 && dirent_name_compare(prev, e.name) >= 0)
        return corrupted(what::dirent_names_not_in_increasing_order,
                         {.nid = nid, .offset = pos + dirent_at(block, i).nameoff.get()});
      prev = e.name;
    }
    return b;
  }

  // Only the first entry, with the same checks parse() applies to it: the block binary search
  // of a lookup needs nothing else from the blocks it passes over (the block that may hold the
  // name is then parsed in full).
  static result<dirent_info> parse_first(bytes_view block, std::uint64_t nid,
                                         std::uint64_t pos) noexcept {
    EROFSFS_TRY_ASSIGN(const std::uint32_t nameoff0, first_nameoff(block, nid, pos));
    return checked_entry(block, 0, nameoff0 / sizeof(disk::dirent), nameoff0, nid, pos);
  }

  std::size_t size() const noexcept { return count_; }

  // The raw record of entry i; the caller has checked i < the number of records in `block`.
  static disk::dirent dirent_at(bytes_view block, std::size_t i) noexcept {
    return disk::load<disk::dirent>(block.data() + i * sizeof(disk::dirent));
  }

  // Entry i < size(); the block was validated by parse().
  dirent_info entry(std::size_t i) const noexcept {
    const disk::dirent d = dirent_at(bytes_, i);
    const std::uint32_t off = d.nameoff.get();
    std::size_t len;
    if (i + 1 < count_) {
      len = dirent_at(bytes_, i + 1).nameoff.get() - off;
    } else {
      const void* nul = std::memchr(bytes_.data() + off, 0, bytes_.size() - off);
      len = nul ? static_cast<std::size_t>(static_cast<const std::byte*>(nul) - (bytes_.data() + off))
                : bytes_.size() - off;
    }
    return {std::string_view(reinterpret_cast<const char*>(bytes_.data() + off), len),
            d.nid.get(), file_type_from_dirent(d.file_type)};
  }

  // Binary search (names are sorted, checked by parse()).
  std::optional<dirent_info> find(std::string_view name) const noexcept {
    std::size_t lo = 0, hi = count_;
    while (lo < hi) {  // bounded: the interval halves
      const std::size_t mid = lo + (hi - lo) / 2;
      const dirent_info e = entry(mid);
      const int c = dirent_name_compare(name, e.name);
      if (c == 0) return e;
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
    return std::nullopt;
  }

 private:
  static result<std::uint32_t> first_nameoff(bytes_view block, std::uint64_t nid,
                                             std::uint64_t pos) noexcept {
    constexpr std::size_t de = sizeof(disk::dirent);
    if (block.size() < de)
      return corrupted(what::directory_block_shorter_than_a_dirent, {.nid = nid, .offset = pos});
    const std::uint32_t nameoff0 = dirent_at(block, 0).nameoff.get();
    if (nameoff0 == 0 || nameoff0 % de != 0 || nameoff0 >= block.size())
      return corrupted(what::invalid_first_dirent_nameoff,
                       {.nid = nid, .offset = pos, .value = nameoff0});
    return nameoff0;
  }

  // Entry i of `count`: its name lies inside the block between its nameoff and the next one (or
  // the first NUL for the last entry), is 1..255 bytes without '/' or NUL, its type is known.
  static result<dirent_info> checked_entry(bytes_view block, std::size_t i, std::size_t count,
                                           std::uint32_t nameoff0, std::uint64_t nid,
                                           std::uint64_t pos) noexcept {
    constexpr std::size_t de = sizeof(disk::dirent);
    const disk::dirent d = dirent_at(block, i);
    const std::uint32_t off = d.nameoff.get();
    std::size_t len;
    if (i + 1 < count) {
      const std::uint32_t next = dirent_at(block, i + 1).nameoff.get();
      if (off < nameoff0 || next <= off || next > block.size())
        return corrupted(what::dirent_nameoff_not_increasing,
                         {.nid = nid, .offset = pos + i * de + 8, .value = off});
      len = next - off;
    } else {
      if (off < nameoff0 || off >= block.size())
        return corrupted(what::last_dirent_nameoff_out_of_block,
                         {.nid = nid, .offset = pos + i * de + 8, .value = off});
      const void* nul = std::memchr(block.data() + off, 0, block.size() - off);
      len = nul ? static_cast<std::size_t>(static_cast<const std::byte*>(nul) - (block.data() + off))
                : block.size() - off;
    }
    if (len == 0 || len > disk::name_len_max)
      return corrupted(what::dirent_name_length_out_of_range,
                       {.nid = nid, .offset = pos + off, .value = len});
    const std::string_view name(reinterpret_cast<const char*>(block.data() + off), len);
    if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
      return corrupted(what::dirent_name_contains_or_nul, {.nid = nid, .offset = pos + off});
    const std::uint8_t ft = d.file_type;
    if (ft >= disk::ft_max)
      return corrupted(what::invalid_dirent_file_type,
                       {.nid = nid, .offset = pos + i * de + 10, .value = ft});
    return dirent_info{name, d.nid.get(), file_type_from_dirent(ft)};
  }

  bytes_view bytes_;
  std::size_t count_ = 0;
};

}  // namespace erofsfs
