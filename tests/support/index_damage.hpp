// One-byte and one-field damage to the index entries of real fixture images, located through
// the library's own index decoding (format/compressed_index.hpp, format/layout.hpp), for the
// check_mapping() and `erofsfs fsck` tests. Test-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <erofsfs/erofsfs.hpp>

#include "manifest.hpp"

namespace erofsfs::test {

struct index_damage {
  std::string path;               // the damaged file
  std::uint64_t nid = 0;
  std::uint64_t entry = 0;        // lcluster or chunk number
  std::uint64_t pos = 0;          // image byte changed (the first, for chunk damage)
  std::vector<std::byte> bytes;   // the whole damaged image
};

namespace damage {

inline std::vector<std::byte> copy_primary(const image& img) {
  std::vector<std::byte> out;
  const auto view = img.primary().bytes();
  out.assign(view.begin(), view.end());
  return out;
}

// The decoded fields of every entry of the compact pack holding `lcn`, from `bytes`.
inline bool decode_pack(const std::byte* pack, const erofsfs::detail::compact_slot& slot, const inode& ino,
                        std::uint64_t first_lcn, std::vector<erofsfs::detail::z_recorder>& out) {
  out.clear();
  for (unsigned j = 0; j < slot.vcnt; ++j) {
    erofsfs::detail::compact_slot s = slot;
    s.index = j;
    erofsfs::detail::z_recorder m;
    if (!erofsfs::detail::decode_compact_pack(pack, s, ino.z, false, ino.nid, first_lcn + j, m))
      return false;
    out.push_back(m);
  }
  return true;
}

// For compact entry `lcn` (a NONHEAD that is not a CBLKCNT and not its pack's last entry):
// the one byte whose change makes its delta0 0 while every HEAD of its pack decodes as before
// (so a read from extent starts still sees the same pclusters), or nullopt.
inline std::optional<std::pair<std::uint64_t, std::uint8_t>> compact_zero_delta0(
    const std::vector<std::byte>& bytes, const image& img, const inode& ino, std::uint64_t lcn) {
  using namespace erofsfs::detail;
  const compact_layout l = compact_index_layout(ino.z, ino.size, img.block_size());
  auto slot = locate_compact_entry(ino.z, l, lcn, ino.nid);
  if (!slot || slot->index + 1 == slot->vcnt || slot->packstart + slot->packbytes > bytes.size())
    return std::nullopt;
  std::byte pack[32];
  std::memcpy(pack, bytes.data() + slot->packstart, slot->packbytes);
  std::vector<z_recorder> before, after;
  const std::uint64_t first = lcn - slot->index;
  if (!decode_pack(pack, *slot, ino, first, before)) return std::nullopt;
  const z_recorder& target = before[slot->index];
  if (target.type != disk::z_lcluster_type_nonhead || target.delta0 == 0 ||
      target.compressedblks != 0)
    return std::nullopt;
  // Clear the entry's low bits (its delta0) and see how many bytes that changes.
  const unsigned lobits = ino.z.lclusterbits > 12 ? ino.z.lclusterbits : 12;
  const unsigned encodebits = (slot->packbytes - 4) * 8 / slot->vcnt;
  std::byte damaged[32];
  std::memcpy(damaged, pack, sizeof pack);
  const unsigned bitpos = encodebits * slot->index;
  for (unsigned b = bitpos; b < bitpos + lobits; ++b)
    damaged[b / 8] &= std::byte(static_cast<unsigned char>(~(1u << (b % 8))));
  std::optional<std::pair<std::uint64_t, std::uint8_t>> changed;
  for (unsigned i = 0; i < slot->packbytes; ++i) {
    if (damaged[i] == pack[i]) continue;
    if (changed) return std::nullopt;  // more than one byte
    changed = std::make_pair(slot->packstart + i, std::to_integer<std::uint8_t>(damaged[i]));
  }
  if (!changed || !decode_pack(damaged, *slot, ino, first, after)) return std::nullopt;
  if (after[slot->index].type != disk::z_lcluster_type_nonhead || after[slot->index].delta0 != 0)
    return std::nullopt;
  for (unsigned j = 0; j < slot->vcnt; ++j)
    if (before[j].type != after[j].type ||
        (before[j].type != disk::z_lcluster_type_nonhead &&
         (before[j].pblk != after[j].pblk || before[j].clusterofs != after[j].clusterofs)))
      return std::nullopt;
  return changed;
}

// The same for a full (8-byte) index entry: delta0 is the low half of di_u.
inline std::optional<std::pair<std::uint64_t, std::uint8_t>> full_zero_delta0(
    const std::vector<std::byte>& bytes, const inode& ino, std::uint64_t lcn) {
  using namespace erofsfs::detail;
  std::uint64_t pos;
  if (!full_index_position(ino.z, lcn, pos) || pos + 8 > bytes.size()) return std::nullopt;
  z_recorder m;
  const auto di = disk::load<disk::z_lcluster_index>(bytes.data() + pos);
  if (!decode_full_index(di, ino.z, ino.nid, pos, lcn, m)) return std::nullopt;
  if (m.type != disk::z_lcluster_type_nonhead || m.compressedblks != 0 || m.delta0 == 0 ||
      m.delta0 > 0xFF)
    return std::nullopt;
  return std::make_pair(pos + 4, std::uint8_t{0});  // di_u's low byte: delta0 < 256 becomes 0
}

}  // namespace damage

// Fixture `name` with the lookback distance (delta0) of one NONHEAD lcluster, of the first
// compressed file in walk order that has a suitable one, set to 0 by changing one byte.
inline std::optional<index_damage> zero_lookback_distance(const std::string& name) {
  auto f = open_fixture(name);
  if (!f) return std::nullopt;
  const image& img = (*f)->img;
  std::optional<index_damage> found;
  std::vector<std::byte> bytes = damage::copy_primary(img);
  read_context ctx;
  (void)walk(img, ctx, [&](const walk_entry& w) -> status {
    const inode& ino = w.ino;
    if (found || !ino.is_regular() || !ino.is_compressed() || ino.in_metabox || ino.size == 0 ||
        ino.z.whole_fragment || ino.z.extent_recsz != 0)
      return {};
    const std::uint64_t lclusters = ((ino.size - 1) >> ino.z.lclusterbits) + 1;
    for (std::uint64_t lcn = 1; lcn < lclusters && !found; ++lcn) {
      auto hit = ino.layout == data_layout::compressed_full
                     ? damage::full_zero_delta0(bytes, ino, lcn)
                     : damage::compact_zero_delta0(bytes, img, ino, lcn);
      if (!hit) continue;
      index_damage d;
      d.path = std::string(w.path);
      d.nid = ino.nid;
      d.entry = lcn;
      d.pos = hit->first;
      d.bytes = bytes;
      d.bytes[hit->first] = std::byte{hit->second};
      found = std::move(d);
    }
    return {};
  });
  return found;
}

// Fixture `name` (one with extra devices and chunk indexes) with the device id of the last
// chunk of the first indexed file set beyond the device table.
inline std::optional<index_damage> bad_chunk_device(const std::string& name) {
  auto f = open_fixture(name);
  if (!f) return std::nullopt;
  const image& img = (*f)->img;
  std::optional<index_damage> found;
  read_context ctx;
  (void)walk(img, ctx, [&](const walk_entry& w) -> status {
    const inode& ino = w.ino;
    if (found || !ino.is_regular() || ino.layout != data_layout::chunk_based || ino.in_metabox ||
        !(ino.chunk_format & disk::chunk_format_indexes))
      return {};
    const std::uint64_t chunks = layout::chunk_count(ino.size, ino.chunkbits);
    if (chunks == 0) return {};
    std::uint64_t pos;
    if (!layout::chunk_entry_position(ino.tail_area_pos(), ino.chunk_format, chunks - 1, pos))
      return {};
    index_damage d;
    d.path = std::string(w.path);
    d.nid = ino.nid;
    d.entry = chunks - 1;
    d.pos = pos + 2;  // inode_chunk_index: startblk_hi (u16), device_id (u16), startblk_lo
    d.bytes = damage::copy_primary(img);
    const std::uint16_t beyond = static_cast<std::uint16_t>(img.sb().extra_devices + 1);
    d.bytes[d.pos] = std::byte{static_cast<unsigned char>(beyond & 0xFF)};
    d.bytes[d.pos + 1] = std::byte{static_cast<unsigned char>(beyond >> 8)};
    found = std::move(d);
    return {};
  });
  return found;
}

}  // namespace erofsfs::test
