// erofsfs/codecs/deflate.hpp alone: its entry points link and work on a real image.
#include <erofsfs/codecs/deflate.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // A real image's superblock is no deflate stream: both entry points refuse it.
  const auto garbage = in.bytes.subspan(1024, 64);
  std::byte out[256];
  HEADER_EXPECT(erofsfs::codecs::deflate_decode(garbage, out, false).error().code == erofsfs::errc::decompress_failed);
  erofsfs::decode_request req;
  req.in = garbage;
  req.out = out;
  HEADER_EXPECT(erofsfs::codecs::deflate_decompressor{}.decode(req) == erofsfs::errc::decompress_failed);
  return 0;
}
