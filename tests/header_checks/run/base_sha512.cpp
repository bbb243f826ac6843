// erofsfs/base/sha512.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/sha512.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const char abc[] = "abc";
  HEADER_EXPECT(erofsfs::sha512::of(std::as_bytes(std::span(abc, 3))) ==
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  // Fed in pieces (an odd head, then whole blocks) or at once: the same digest.
  erofsfs::sha512 h;
  h.update(in.bytes.first(7));
  h.update(in.bytes.subspan(7));
  const std::string pieces = h.hex();
  HEADER_EXPECT(pieces.size() == 128 && pieces == erofsfs::sha512::of(in.bytes));
  h.update(std::as_bytes(std::span(abc, 3)));
  const auto d = h.digest();
  HEADER_EXPECT(d.size() == erofsfs::sha512::digest_size && d[0] == 0xdd && d[63] == 0x9f);
  return 0;
}
