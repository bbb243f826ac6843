// erofsfs/format/seekable_zstd.hpp alone: its entry points link and work on a chunk table built
// here for the image, and the tail search finds it.
#include <erofsfs/format/seekable_zstd.hpp>

#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  namespace sz = erofsfs::seekable_zstd;
  // A table of two 4 KiB chunks whose "frames" are 100 and 60 bytes (the parser does not look
  // inside frames), in a skippable frame at offset 160.
  std::vector<std::byte> blob(160 + sz::skippable_header_size + sz::table_header_size + 2 * 8);
  std::byte* t = blob.data() + 160;
  erofsfs::store_le32(t, sz::skippable_magic_min);
  erofsfs::store_le32(t + 4, sz::table_header_size + 2 * 8);
  std::byte* p = t + sz::skippable_header_size;
  erofsfs::store_le32(p + sz::th::magic, sz::table_magic);
  erofsfs::store_le32(p + sz::th::version, sz::table_version);
  erofsfs::store_le64(p + sz::th::uncompressed_size, 8192);
  erofsfs::store_le32(p + sz::th::chunk_size, 4096);
  erofsfs::store_le64(p + sz::table_header_size + 8, 100);
  HEADER_EXPECT(sz::parse_skippable_header(std::span(blob).subspan(160))->payload_size == 39);
  auto table = sz::chunk_table::parse(std::span(blob).subspan(168), 160);
  HEADER_EXPECT(table && table->chunk_count() == 2 && table->at(1).frame_size == 60);
  HEADER_EXPECT(table->table_end() == blob.size());
  HEADER_EXPECT(sz::find_chunk_table(blob, 0, blob.size()) == 160);
  // The image itself is no seekable layer: no frame magic, no table in its tail.
  HEADER_EXPECT(!sz::starts_with_frame_magic(in.bytes));
  HEADER_EXPECT(!sz::find_chunk_table(in.bytes.last(4096), in.bytes.size() - 4096, in.bytes.size()));
  erofsfs::store_le32(p + sz::th::version, 2);
  HEADER_EXPECT(sz::chunk_table::parse(std::span(blob).subspan(168), 160).error().what ==
                erofsfs::what::seekable_zstd_chunk_table_version_not_1);
  return 0;
}
