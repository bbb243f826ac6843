// A writer of seekable zstd EROFS layers for the tests (containerd's
// application/vnd.erofs.layer.v1+zstd; the format is in erofsfs/format/seekable_zstd.hpp): the
// image cut into chunks, each compressed alone with ZSTD_compress, the chunk table with or
// without SHA-512 checksums of the frames, and optionally a dm-verity payload (as
// `veritysetup format` writes a hash device) in a skippable frame at the end. The parts stay
// separate until assemble(), so a test can damage one and rebuild the blob. Test-only; needs
// libzstd.
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <erofsfs/base/bytes.hpp>
#include <erofsfs/base/sha512.hpp>
#include <erofsfs/format/seekable_zstd.hpp>

namespace erofsfs::test {

struct seekable_layer {
  std::uint64_t uncompressed_size = 0;
  std::uint32_t chunk_size = 0;
  std::uint8_t hash_algorithm = 1;     // as written in the table: 1 SHA-512, 0 none
  std::vector<std::vector<std::byte>> frames;  // one compressed frame per chunk
  std::vector<std::byte> verity_payload;       // empty: no dm-verity frame

  // Filled by assemble(): the blob and where its parts are.
  std::vector<std::byte> blob;
  std::vector<std::uint64_t> frame_offsets;
  std::uint64_t table_offset = 0;
  std::uint64_t verity_offset = 0;  // 0 without a verity frame
  std::string table_digest;         // "sha512:<hex>" of the table's payload

  // Offset in the blob of the chunk table header's byte `field` (format/seekable_zstd.hpp th::).
  std::uint64_t table_field(std::size_t field) const {
    return table_offset + seekable_zstd::skippable_header_size + field;
  }
  // Offset in the blob of chunk i's entry (its frame offset, then its checksum).
  std::uint64_t entry(std::size_t i) const {
    const std::size_t checksum = hash_algorithm == 1 ? seekable_zstd::sha512_checksum_size : 0;
    return table_field(seekable_zstd::table_header_size) + i * (8 + checksum);
  }

  // Concatenates frames, table and verity frame, the table's offsets and checksums computed
  // from the frames as they are now.
  void assemble() {
    blob.clear();
    frame_offsets.clear();
    std::vector<std::byte> table(seekable_zstd::table_header_size);
    store_le32(table.data() + seekable_zstd::th::magic, seekable_zstd::table_magic);
    store_le32(table.data() + seekable_zstd::th::version, seekable_zstd::table_version);
    store_le64(table.data() + seekable_zstd::th::uncompressed_size, uncompressed_size);
    store_le32(table.data() + seekable_zstd::th::chunk_size, chunk_size);
    table[seekable_zstd::th::hash_algorithm] = std::byte{hash_algorithm};
    for (const std::vector<std::byte>& f : frames) {
      frame_offsets.push_back(blob.size());
      std::byte off[8];
      store_le64(off, blob.size());
      table.insert(table.end(), off, off + 8);
      if (hash_algorithm == 1) {
        sha512 h;
        h.update(f);
        const auto d = h.digest();
        const std::byte* p = reinterpret_cast<const std::byte*>(d.data());
        table.insert(table.end(), p, p + d.size());
      }
      blob.insert(blob.end(), f.begin(), f.end());
    }
    table_offset = blob.size();
    append_skippable(table);
    sha512 h;
    h.update(table);
    table_digest = "sha512:" + h.hex();
    verity_offset = 0;
    if (!verity_payload.empty()) {
      verity_offset = blob.size();
      append_skippable(verity_payload);
    }
  }

 private:
  void append_skippable(const std::vector<std::byte>& payload) {
    std::byte head[8];
    store_le32(head, seekable_zstd::skippable_magic_min);
    store_le32(head + 4, static_cast<std::uint32_t>(payload.size()));
    blob.insert(blob.end(), head, head + 8);
    blob.insert(blob.end(), payload.begin(), payload.end());
  }
};

// One chunk compressed as one independent zstd frame (with zstd's content checksum when asked).
inline std::vector<std::byte> zstd_frame(bytes_view chunk, int level = 3, bool content_checksum = false) {
  std::vector<std::byte> out(ZSTD_compressBound(chunk.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) return {};
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, content_checksum ? 1 : 0);
  const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), chunk.data(), chunk.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

// The layer of `image` cut into `chunk_size` chunks, assembled.
inline seekable_layer make_seekable_layer(bytes_view image, std::uint32_t chunk_size,
                                          bool checksums = true,
                                          std::vector<std::byte> verity_payload = {}) {
  seekable_layer l;
  l.uncompressed_size = image.size();
  l.chunk_size = chunk_size;
  l.hash_algorithm = checksums ? 1 : 0;
  for (std::size_t at = 0; at < image.size(); at += chunk_size) {
    const std::size_t n = image.size() - at < chunk_size ? image.size() - at : chunk_size;
    l.frames.push_back(zstd_frame(image.subspan(at, n)));
  }
  l.verity_payload = std::move(verity_payload);
  l.assemble();
  return l;
}

}  // namespace erofsfs::test
