// erofsfs/format/dir_block.hpp alone: its entry points link and work on a real image.
#include <erofsfs/format/dir_block.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  auto b = erofsfs::dir_block::parse(in.root_block, 0, 0);
  HEADER_EXPECT(b && b->size() >= 3);  // ".", ".." and more
  HEADER_EXPECT(b->find("data").has_value() && !b->find("no-such-name").has_value());
  HEADER_EXPECT(!b->entry(0).name.empty());
  HEADER_EXPECT(erofsfs::dirent_name_compare("a", "b") < 0 && erofsfs::dirent_name_compare("b", "b") == 0);
  return 0;
}
