// Pure compressed-index fuzz target: the input bytes go straight to the decoders of
// format/compressed_index.hpp, with no image or I/O around them. Byte 0 picks the block size
// and layout, bytes 1-8 are a map header, bytes 9-16 an inode size; the rest is read as full
// index entries and as compact packs at every lcluster the layout allows (capped).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <erofsfs/format/compressed_index.hpp>

namespace {

using namespace erofsfs;

void check_record(const detail::z_recorder& m, const z_info& z, bool full) {
  if (m.type > 3) std::abort();
  // A full index HEAD's cluster offset lies inside its lcluster (decode_full_index rejects the
  // rest). Compact entries carry at least 12 bits, checked later by the mapper's walk.
  if (full && m.type != disk::z_lcluster_type_nonhead &&
      m.clusterofs >= (std::uint64_t{1} << z.lclusterbits))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 17) return 0;
  const auto* in = reinterpret_cast<const std::byte*>(data);
  const unsigned blkszbits = 9 + (data[0] & 7);  // 512 B .. 64 KiB
  inode ino;
  ino.layout = (data[0] & 8) ? data_layout::compressed_compact : data_layout::compressed_full;
  ino.nid = 1;
  std::uint64_t isize;
  std::memcpy(&isize, data + 9, 8);
  ino.size = isize >> (data[0] >> 4);  // from tiny to huge
  z_info z;
  z.header_pos = 8 * (data[0] >> 6);   // varies the compact layout's 32-byte alignment
  const auto h = disk::load<disk::z_map_header>(in + 1);
  if (!detail::decode_map_header(h, ino, blkszbits, (data[0] & 0x20) != 0, z)) return 0;
  ino.z = z;

  std::uint64_t pos, len;
  if (detail::compressed_index_span(z, ino.layout, ino.size, blkszbits, pos, len) &&
      (pos != z.header_pos || pos + len < pos))
    std::abort();
  if (z.whole_fragment || z.extent_recsz) return 0;

  const std::byte* body = in + 17;
  const std::size_t body_size = size - 17;
  detail::z_recorder m;
  const std::uint64_t lclusters = ino.size == 0 ? 0 : ((ino.size - 1) >> z.lclusterbits) + 1;
  const std::uint64_t tries = lclusters < 256 ? lclusters : 256;  // bounded
  for (std::uint64_t lcn = 0; lcn < tries; ++lcn) {
    if (ino.layout == data_layout::compressed_full) {
      std::uint64_t at;
      if (!detail::full_index_position(z, lcn, at)) std::abort();
      const std::uint64_t rel = at - z.header_pos - 16;  // entry offset inside `body`
      if (rel + 8 > body_size) break;
      if (detail::decode_full_index(disk::load<disk::z_lcluster_index>(body + rel), z, 1, at, lcn, m))
        check_record(m, z, true);
    } else {
      const auto l = detail::compact_index_layout(z, ino.size, std::uint32_t{1} << blkszbits);
      auto slot = detail::locate_compact_entry(z, l, lcn, 1);
      if (!slot) continue;
      if (slot->packstart < l.ebase || slot->packbytes > 32 || slot->index >= slot->vcnt)
        std::abort();
      const std::uint64_t rel = slot->packstart - l.ebase;
      if (rel + slot->packbytes > body_size) break;
      if (detail::decode_compact_pack(body + rel, *slot, z, (lcn & 1) != 0, 1, lcn, m))
        check_record(m, z, false);
    }
  }
  return 0;
}
