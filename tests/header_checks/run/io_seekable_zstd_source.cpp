// erofsfs/io/seekable_zstd_source.hpp alone: a seekable layer of the image, built here with
// libzstd, reads back as the image.
#include <erofsfs/io/seekable_zstd_source.hpp>

#include <zstd.h>

#include <algorithm>
#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  namespace sz = erofsfs::seekable_zstd;
  constexpr std::size_t chunk = 16384;
  const std::size_t chunks = (in.bytes.size() + chunk - 1) / chunk;
  std::vector<std::byte> blob, table(sz::table_header_size);
  erofsfs::store_le32(table.data() + sz::th::magic, sz::table_magic);
  erofsfs::store_le32(table.data() + sz::th::version, sz::table_version);
  erofsfs::store_le64(table.data() + sz::th::uncompressed_size, in.bytes.size());
  erofsfs::store_le32(table.data() + sz::th::chunk_size, chunk);
  for (std::size_t i = 0; i < chunks; ++i) {
    const auto part = in.bytes.subspan(i * chunk, std::min(chunk, in.bytes.size() - i * chunk));
    std::vector<std::byte> frame(ZSTD_compressBound(part.size()));
    const std::size_t n = ZSTD_compress(frame.data(), frame.size(), part.data(), part.size(), 1);
    HEADER_EXPECT(!ZSTD_isError(n));
    table.resize(table.size() + 8);
    erofsfs::store_le64(table.data() + table.size() - 8, blob.size());
    blob.insert(blob.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::byte head[8];
  erofsfs::store_le32(head, sz::skippable_magic_min);
  erofsfs::store_le32(head + 4, static_cast<std::uint32_t>(table.size()));
  blob.insert(blob.end(), head, head + 8);
  blob.insert(blob.end(), table.begin(), table.end());

  erofsfs::memory_source src(blob);
  auto s = erofsfs::seekable_zstd_source::open(src);
  HEADER_EXPECT(s && s->size() == in.bytes.size() && !s->verity_frame());
  std::vector<std::byte> all(in.bytes.size());
  HEADER_EXPECT(!s->read_at(0, all));
  HEADER_EXPECT(std::equal(all.begin(), all.end(), in.bytes.begin()));
  HEADER_EXPECT(s->stats().frames_fetched == chunks);
  HEADER_EXPECT(s->read(in.bytes.size(), std::span(all).first(1)).error().what ==
                erofsfs::what::seekable_zstd_read_past_the_image);
  HEADER_EXPECT(*erofsfs::root_hex_of_digest("sha512:ab") == "ab");
  return 0;
}
