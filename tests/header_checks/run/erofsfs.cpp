// erofsfs/erofsfs.hpp alone: its entry points link and work on a real image.
#include <erofsfs/erofsfs.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::memory_source src(in.bytes);
  auto img = erofsfs::open_image(src);
  HEADER_EXPECT(img);
  erofsfs::reader fs(*img);
  auto data = fs.read_file(header_check_file);
  HEADER_EXPECT(data && data->size() == header_check_file_size);
  return 0;
}
