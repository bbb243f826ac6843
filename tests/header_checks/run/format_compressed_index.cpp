// erofsfs/format/compressed_index.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/compressed_index.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // The file's index state as open_image decoded it, then the header again and its span.
  namespace d = erofsfs::detail;
  const erofsfs::inode& f = *in.file;
  std::uint64_t pos = 0, len = 0;
  HEADER_EXPECT(d::compressed_index_span(f.z, f.layout, f.size, 12, pos, len));
  HEADER_EXPECT(pos == f.z.header_pos && len > 8 && pos + len <= in.bytes.size());
  const auto h = erofsfs::disk::load<erofsfs::disk::z_map_header>(in.bytes.data() + pos);
  erofsfs::z_info z;
  z.header_pos = f.z.header_pos;
  HEADER_EXPECT(d::decode_map_header(h, f, 12, true, z));
  HEADER_EXPECT(z.lclusterbits == f.z.lclusterbits);
  if (f.layout == erofsfs::data_layout::compressed_compact) {
    const d::compact_layout l = d::compact_index_layout(f.z, f.size, 4096);
    HEADER_EXPECT(l.ebase == pos + 8 && l.totalidx > 0);
    HEADER_EXPECT(d::locate_compact_entry(f.z, l, 0, f.nid));
  } else {
    HEADER_EXPECT(d::full_index_position(f.z, 0, pos));
  }
  return 0;
}
