// erofsfs/codecs/builtin.hpp alone: its entry points link and work on a real image.
#include <erofsfs/codecs/builtin.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  const std::byte block[] = {std::byte{0x50}, std::byte{'h'}, std::byte{'e'}, std::byte{'l'},
                             std::byte{'l'}, std::byte{'o'}};  // five literals
  std::byte out[5];
  erofsfs::decode_request req;
  req.in = block;
  req.out = out;
  req.algorithm = erofsfs::disk::compression_lz4;
  HEADER_EXPECT(!erofsfs::builtin_decompressors().get(erofsfs::disk::compression_lz4).decode(req));
  HEADER_EXPECT(out[4] == std::byte{'o'} && !erofsfs::builtin_decompressors().get(erofsfs::disk::compression_lzma));
  return 0;
}
