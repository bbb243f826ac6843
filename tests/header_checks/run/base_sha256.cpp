// erofsfs/base/sha256.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/sha256.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const char abc[] = "abc";
  HEADER_EXPECT(erofsfs::sha256::of(std::as_bytes(std::span(abc, 3))) ==
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  HEADER_EXPECT(erofsfs::sha256::of({}) ==
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Fed in pieces (an odd head, then whole blocks) or at once: the same digest.
  erofsfs::sha256 h;
  h.update(in.bytes.first(7));
  h.update(in.bytes.subspan(7));
  const std::string pieces = h.hex();
  HEADER_EXPECT(pieces.size() == 64 && pieces == erofsfs::sha256::of(in.bytes));
  h.update(std::as_bytes(std::span(abc, 3)));
  const auto d = h.digest();
  HEADER_EXPECT(d.size() == erofsfs::sha256::digest_size && d[0] == 0xba && d[31] == 0xad);
  return 0;
}
