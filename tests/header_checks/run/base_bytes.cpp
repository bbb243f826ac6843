// erofsfs/base/bytes.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/bytes.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const std::byte* sb = in.bytes.data() + 1024;
  HEADER_EXPECT(erofsfs::load_le32(sb) == 0xE0F5E1E2u);  // EROFS_SUPER_MAGIC_V1
  HEADER_EXPECT(erofsfs::load_le16(sb) == 0xE1E2u && erofsfs::load_u8(sb) == 0xE2u);
  HEADER_EXPECT(erofsfs::load_le64(sb) == erofsfs::load_le32(sb) + (std::uint64_t{erofsfs::load_le32(sb + 4)} << 32));
  std::uint64_t out = 0;
  HEADER_EXPECT(erofsfs::in_bounds(1024, 128, in.bytes.size()) && !erofsfs::in_bounds(~0ull, 2, 10));
  HEADER_EXPECT(erofsfs::checked_add(1, 2, out) && out == 3 && !erofsfs::checked_add(~0ull, 1, out));
  HEADER_EXPECT(erofsfs::checked_mul(3, 4, out) && out == 12 && !erofsfs::checked_mul(~0ull, 2, out));
  HEADER_EXPECT(erofsfs::checked_shl(1, 12, out) && out == 4096 && !erofsfs::checked_shl(~0ull, 1, out));
  HEADER_EXPECT(erofsfs::checked_round_up(4097, 4096, out) && out == 8192);
  HEADER_EXPECT(erofsfs::round_down(4097, 4096) == 4096 && erofsfs::div_round_up(4097, 4096) == 2);
  erofsfs::bytes_view v = in.bytes;
  erofsfs::mutable_bytes m;
  HEADER_EXPECT(v.size() == in.bytes.size() && m.empty());
  return 0;
}
