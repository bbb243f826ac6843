// erofsfs/decode/decode_extent.hpp alone: its entry points link and work on a real image.
#include <erofsfs/decode/decode_extent.hpp>

#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::read_context ctx;
  const erofsfs::extent& e = *in.file_extent;
  HEADER_EXPECT(erofsfs::detail::decode_extent(*in.img, *in.file, e, ctx));
  std::vector<std::byte> out(static_cast<std::size_t>(e.length));
  HEADER_EXPECT(erofsfs::detail::read_encoded(*in.img, *in.file, e, e.logical, out, ctx));
  auto pcluster = erofsfs::detail::fetch_pcluster(*in.img, *in.file, e, ctx);
  HEADER_EXPECT(pcluster && pcluster->size() == e.physical_length);
  return 0;
}
