// erofsfs/backends/fuse/dir_offsets.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fuse/dir_offsets.hpp>

#include <vector>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::read_context ctx;
  std::vector<std::byte> scratch;
  unsigned listed = 0;
  std::uint64_t last = 0;
  HEADER_EXPECT(erofsfs::fuse::list_dir_from(*in.img, *in.root, 0, scratch, ctx,
                                             [&](const erofsfs::dir_entry&, std::uint64_t next) {
                                               ++listed;
                                               last = next;
                                               return true;
                                             }));
  HEADER_EXPECT(listed >= 3 && last > 0);
  return 0;
}
