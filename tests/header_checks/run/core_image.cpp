// erofsfs/core/image.hpp alone: its entry points link and work on a real image.
#include <erofsfs/core/image.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  HEADER_EXPECT(img.block_size() == 4096 && img.blkszbits() == 12 && img.sb().block_size == 4096);
  HEADER_EXPECT(img.lim().max_block_size >= 4096 && img.device_table().empty() && img.devices().empty());
  HEADER_EXPECT(img.decompressors() != nullptr && img.primary().bytes().size() == in.bytes.size());
  HEADER_EXPECT(img.long_prefixes().empty() && img.metabox_size() == 0 && img.packed_inode() == nullptr);
  (void)img.flat_devices();
  (void)img.device_id_mask();
  const erofsfs::image empty;
  HEADER_EXPECT(empty.devices().empty());
  return 0;
}
