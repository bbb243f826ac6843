// An opened EROFS image (L3): what users hold (`image`: the validated superblock, device table,
// long xattr prefixes, packed inode) and, hidden behind it, the private metadata layer every
// layer above is built on (`detail::image_core`): reading metadata from the primary device or
// the metabox stream, loading raw inodes, and reading data from a device after address
// resolution (§8.4). Library code reaches it through detail::core(img); users never need to.
//
// An image is immutable once open_image() (api/open.hpp) returned it, so any number of threads
// may read through one const image, each with its own read_context (or erofsfs::reader).
// Sources are borrowed: they must outlive the image.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../format/disk.hpp"
#include "../format/inode.hpp"
#include "../base/limits.hpp"
#include "../io/source.hpp"
#include "../format/superblock.hpp"

namespace erofsfs {

struct decompressor_table;  // decompress.hpp

// A physical location after device resolution.
struct device_address {
  std::uint16_t device = 0;  // 0: primary device; i >= 1: extra device i (device-table order)
  std::uint64_t offset = 0;  // byte offset on that device
  // Bytes from `offset` that stay in the same region of the unified address space: a mapping
  // must not run from one device's range into the next.
  std::uint64_t contiguous = ~std::uint64_t{0};
};

// One long xattr name prefix (§9.5): the short prefix index it extends and its infix.
struct long_xattr_prefix {
  std::uint8_t base_index = 0;
  std::string infix;
};

struct open_options {
  // Extra devices/blobs in device-table order (like `mount -o device=`). Either none or exactly
  // as many as the image's device table lists.
  std::span<const source_ref> devices;
  // Without devices, Linux reads an extra device's data from the primary at the device's
  // unified address ("flat" mode: the blobs appended to the image, `cat image blob > one`), and
  // so does erofsfs. true refuses that: data on extra devices then fails with errc::no_device
  // unless the devices are given.
  bool require_devices = false;
  // Decoders per algorithm id; nullptr means the built-in set (LZ4 only).
  const decompressor_table* decompressors = nullptr;
  limits lim{};
};

namespace detail {

// An image's identity for caches: decoded data remembered for an image stays valid only while
// the remembering side holds this token, so a later image can never be mistaken for it even if
// it is created at the same address (a reused variable, a new heap object).
struct image_identity {};

// The private metadata layer: the opened image's state and its raw I/O primitives.
class image_core {
 public:
  struct unified_range {
    std::uint64_t start;   // byte address in the unified space
    std::uint64_t length;  // bytes
    std::uint16_t device;
  };

  superblock sb{};
  limits lim{};
  source_ref primary{};
  std::vector<source_ref> devices;
  bool flat_devices = false;
  std::vector<device_info> device_table;
  std::vector<unified_range> unified_ranges;
  std::uint16_t device_id_mask = 0;
  std::vector<std::byte> metabox;  // the decoded metabox stream (§13), if any
  std::vector<long_xattr_prefix> prefixes;
  const decompressor_table* decompressors = nullptr;
  inode packed{};
  bool has_packed = false;
  std::shared_ptr<const image_identity> identity = std::make_shared<const image_identity>();

  // Copies metadata bytes [pos, pos + out.size()) of the primary device, or of the metabox
  // stream when `in_metabox`.
  status read_meta(std::uint64_t pos, mutable_bytes out, bool in_metabox,
                   std::uint64_t nid = error::unknown) const noexcept {
    if (in_metabox) {
      if (!in_bounds(pos, out.size(), metabox.size()))
        return corrupted(what::metadata_past_the_end_of_the_metabox,
                         {.nid = nid, .offset = pos, .value = out.size()});
      if (!out.empty()) std::memcpy(out.data(), metabox.data() + pos, out.size());
      return {};
    }
    if (std::error_code ec = primary.read_at(pos, out))
      return make_error(
          ec, ec == errc::truncated ? "metadata past the end of the image" : "reading metadata",
          {.nid = nid, .offset = pos, .value = out.size()});
    return {};
  }

  // A view of metadata bytes: in place when the source is contiguous (or the metabox),
  // otherwise copied into `scratch`. The view stays valid until `scratch` is modified.
  result<bytes_view> view_meta(std::uint64_t pos, std::size_t len, bool in_metabox,
                               std::vector<std::byte>& scratch,
                               std::uint64_t nid = error::unknown) const {
    if (in_metabox) {
      if (!in_bounds(pos, len, metabox.size()))
        return corrupted(what::metadata_past_the_end_of_the_metabox,
                         {.nid = nid, .offset = pos, .value = len});
      return bytes_view(metabox.data() + pos, len);
    }
    if (primary.contiguous()) {
      const bytes_view all = primary.bytes();
      if (!in_bounds(pos, len, all.size()))
        return make_error(errc::truncated, what::metadata_past_the_end_of_the_image,
                          {.nid = nid, .offset = pos, .value = len});
      return all.subspan(pos, len);
    }
    scratch.resize(len);
    EROFSFS_TRY(read_meta(pos, scratch, false, nid));
    return bytes_view(scratch.data(), len);
  }

  // Where inode `nid` lives: (position, in_metabox). Checks the metabox bit against the feature.
  result<std::uint64_t> inode_position(std::uint64_t nid, bool& in_metabox) const noexcept {
    in_metabox = (nid & disk::nid_metabox_bit) != 0;
    std::uint64_t pos;
    if (in_metabox) {
      if (!sb.has_metabox())
        return corrupted(what::metabox_nid_without_the_metabox_feature, {.nid = nid});
      pos = (nid & ~disk::nid_metabox_bit) << disk::islot_bits;  // < 2^68 >> 5: cannot overflow
      if (nid & ~disk::nid_metabox_bit & (~std::uint64_t{0} << (64 - disk::islot_bits)))
        return corrupted(what::inode_position_overflows, {.nid = nid});
    } else if (!sb.inode_position(nid, pos)) {
      return corrupted(what::inode_position_overflows, {.nid = nid});
    }
    return pos;
  }

  // Reads and validates the on-disk inode `nid`. Compressed inodes still need zmap_init()
  // (read_inode() in map.hpp does both).
  result<inode> load_inode(std::uint64_t nid) const noexcept {
    bool in_metabox;
    EROFSFS_TRY_ASSIGN(const std::uint64_t pos, inode_position(nid, in_metabox));
    std::byte raw[64];
    // A compact inode may be the last 32 bytes of the area: read 32 first, then the rest.
    EROFSFS_TRY(read_meta(pos, std::span(raw, 32), in_metabox, nid));
    if (inode_disk_size(raw) == 64) {
      std::uint64_t rest;
      if (!checked_add(pos, 32, rest))
        return corrupted(what::inode_position_overflows, {.nid = nid});
      EROFSFS_TRY(read_meta(rest, std::span(raw + 32, 32), in_metabox, nid));
    }
    return parse_inode(std::span(raw, inode_disk_size(raw)), nid, pos, in_metabox, sb);
  }

  // §8.4: resolves a raw (device id, byte address) from a mapping to a concrete device.
  // `raw_device` is already masked with device_id_mask(); 0 means the unified address space.
  result<device_address> resolve(std::uint16_t raw_device, std::uint64_t pa,
                                 std::uint64_t nid = error::unknown) const noexcept {
    if (raw_device > sb.extra_devices)
      return make_error(errc::no_device, what::device_id_beyond_the_device_table,
                        {.nid = nid, .offset = pa, .value = raw_device});
    if (raw_device != 0) {
      if (!devices.empty()) return device_address{raw_device, pa, ~std::uint64_t{0}};
      const device_info& d = device_table[raw_device - 1];
      if (!flat_devices || d.uniaddr == 0)
        return make_error(errc::no_device, what::extra_device_not_supplied,
                          {.nid = nid, .offset = pa, .value = raw_device});
      std::uint64_t base, at;
      if (!checked_shl(d.uniaddr, sb.blkszbits, base) || !checked_add(base, pa, at))
        return corrupted(what::unified_address_overflows,
                         {.nid = nid, .offset = pa, .value = raw_device});
      return device_address{0, at, ~std::uint64_t{0}};
    }
    // Unified space: the extra device whose [uniaddr, uniaddr + blocks) covers pa, else primary.
    // unified_ranges is sorted by start and non-overlapping, so at most one range can match.
    auto it = std::upper_bound(unified_ranges.begin(), unified_ranges.end(), pa,
                               [](std::uint64_t v, const unified_range& r) { return v < r.start; });
    const std::uint64_t to_next = it == unified_ranges.end() ? ~std::uint64_t{0} : it->start - pa;
    if (it != unified_ranges.begin()) {
      const unified_range& r = *(it - 1);
      if (pa - r.start < r.length) {
        const std::uint64_t left = r.length - (pa - r.start);
        if (!devices.empty()) return device_address{r.device, pa - r.start, left};
        if (!flat_devices)
          return make_error(errc::no_device, what::extra_device_not_supplied,
                            {.nid = nid, .offset = pa, .value = r.device});
        return device_address{0, pa, left};
      }
    }
    return device_address{0, pa, to_next};
  }

  // Reads data bytes from a resolved location.
  status read_device(device_address where, mutable_bytes out,
                     std::uint64_t nid = error::unknown) const noexcept {
    if (where.device > devices.size())
      return make_error(errc::no_device, what::no_such_device,
                        {.nid = nid, .offset = where.offset, .value = where.device});
    const source_ref& src = where.device == 0 ? primary : devices[where.device - 1];
    if (std::error_code ec = src.read_at(where.offset, out))
      return make_error(ec,
                        ec == errc::truncated ? "data past the end of the device" : "reading data",
                        {.nid = nid, .offset = where.offset, .value = where.device});
    return {};
  }
  // A view of data bytes when the device source is contiguous; empty view otherwise.
  bytes_view view_device(device_address where, std::size_t len) const noexcept {
    if (where.device > devices.size()) return {};
    const source_ref& src = where.device == 0 ? primary : devices[where.device - 1];
    const bytes_view all = src.bytes();
    if (all.data() == nullptr || !in_bounds(where.offset, len, all.size())) return {};
    return all.subspan(where.offset, len);
  }

};

struct image_access;

}  // namespace detail

class image {
 public:
  image() = default;

  const superblock& sb() const noexcept { return core_.sb; }
  const limits& lim() const noexcept { return core_.lim; }
  std::span<const device_info> device_table() const noexcept { return core_.device_table; }
  std::span<const long_xattr_prefix> long_prefixes() const noexcept { return core_.prefixes; }
  const decompressor_table* decompressors() const noexcept { return core_.decompressors; }
  source_ref primary() const noexcept { return core_.primary; }
  // Extra device sources as supplied (empty if none were).
  std::span<const source_ref> devices() const noexcept { return core_.devices; }
  // Whether device data is read from the primary at unified addresses (no devices given).
  bool flat_devices() const noexcept { return core_.flat_devices; }
  std::uint32_t block_size() const noexcept { return core_.sb.block_size; }
  unsigned blkszbits() const noexcept { return core_.sb.blkszbits; }
  std::uint64_t metabox_size() const noexcept { return core_.metabox.size(); }
  // The packed inode (fragments, §12.11), or nullptr if the image has none.
  const inode* packed_inode() const noexcept { return core_.has_packed ? &core_.packed : nullptr; }
  // device_id mask for chunk indexes (§8.3).
  std::uint16_t device_id_mask() const noexcept { return core_.device_id_mask; }

 private:
  friend struct detail::image_access;
  detail::image_core core_;
};

namespace detail {
struct image_access {
  static const image_core& get(const image& i) noexcept { return i.core_; }
  static image_core& get(image& i) noexcept { return i.core_; }
};
// The private metadata layer of `img` (library code only).
inline const image_core& core(const image& img) noexcept { return image_access::get(img); }
inline image_core& core(image& img) noexcept { return image_access::get(img); }
}  // namespace detail

}  // namespace erofsfs
