// erofsfs/codecs/lz4.hpp alone: its entry points link and work on a real image.
#include <erofsfs/codecs/lz4.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  const std::byte block[] = {std::byte{0x50}, std::byte{'h'}, std::byte{'e'}, std::byte{'l'},
                             std::byte{'l'}, std::byte{'o'}};  // five literals
  std::byte out[5];
  auto n = erofsfs::lz4_decompress(block, out, false);
  HEADER_EXPECT(n && *n == 5 && out[0] == std::byte{'h'});
  HEADER_EXPECT(!erofsfs::lz4_decompress({}, out, false));
  erofsfs::decode_request req;
  req.in = block;
  req.out = out;
  HEADER_EXPECT(!erofsfs::lz4_decompressor{}.decode(req));
  return 0;
}
