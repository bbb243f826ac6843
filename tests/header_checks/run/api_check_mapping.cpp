// erofsfs/api/check_mapping.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/check_mapping.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // The compressed file's lclusters and extents, and the root directory's flat layout, map.
  auto p = erofsfs::check_mapping(*in.img, *in.file);
  if (p) std::fprintf(stderr, "problem: %s at %llu\n", erofsfs::index_entry_name(p->entry),
                      static_cast<unsigned long long>(p->index));
  HEADER_EXPECT(!p);
  HEADER_EXPECT(!erofsfs::check_mapping(*in.img, *in.root));
  HEADER_EXPECT(erofsfs::index_entry_name(erofsfs::index_entry::lcluster) != nullptr);
  // A file claiming more bytes than its index maps is caught.
  erofsfs::inode longer = *in.file;
  longer.size += std::uint64_t{1} << 30;
  HEADER_EXPECT(erofsfs::check_mapping(*in.img, longer).has_value());
  return 0;
}
