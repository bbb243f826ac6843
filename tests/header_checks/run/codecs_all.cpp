// erofsfs/codecs/all.hpp alone: its entry points link and work on a real image.
#include <erofsfs/codecs/all.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  const erofsfs::decompressor_table& all = erofsfs::all_decompressors();
  for (unsigned alg = 0; alg < erofsfs::disk::compression_max; ++alg)
    HEADER_EXPECT(static_cast<bool>(all.get(static_cast<std::uint8_t>(alg))) ==
                  erofsfs::all_decompressors_have(alg));
  const std::byte block[] = {std::byte{0x50}, std::byte{'h'}, std::byte{'e'}, std::byte{'l'},
                             std::byte{'l'}, std::byte{'o'}};  // an LZ4 block of five literals
  std::byte out[5];
  erofsfs::decode_request req;
  req.in = block;
  req.out = out;
  req.algorithm = erofsfs::disk::compression_lz4;
  HEADER_EXPECT(!all.get(erofsfs::disk::compression_lz4).decode(req) && out[4] == std::byte{'o'});
  return 0;
}
