// erofsfs/decode/decompressor.hpp alone: its entry points link and work on a real image.
#include <erofsfs/decode/decompressor.hpp>

#include <system_error>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  struct copy_decoder {
    std::error_code decode(const erofsfs::decode_request& r) const noexcept {
      if (r.in.size() != r.out.size()) return erofsfs::errc::decompress_failed;
      for (std::size_t i = 0; i < r.in.size(); ++i) r.out[i] = r.in[i];
      return {};
    }
  };
  static const copy_decoder copy;
  erofsfs::decompressor_table table;
  table.set(erofsfs::disk::compression_lzma, copy);
  const std::byte src[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  std::byte out[3] = {};
  erofsfs::decode_request req;
  req.in = src;
  req.out = out;
  HEADER_EXPECT(table.get(erofsfs::disk::compression_lzma));
  HEADER_EXPECT(!table.get(erofsfs::disk::compression_lzma).decode(req) && out[2] == std::byte{3});
  HEADER_EXPECT(!table.get(erofsfs::disk::compression_zstd));
  return 0;
}
