// erofsfs/api/xattr.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/xattr.hpp>

#include <string>
#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  auto list = erofsfs::list_xattrs(img, *in.root);
  HEADER_EXPECT(list && list->size() == 1 && (*list)[0].name == "user.root");
  auto value = erofsfs::get_xattr(img, *in.root, "user.root");
  HEADER_EXPECT(value && *value == "root-xattr-value");
  HEADER_EXPECT(!erofsfs::get_xattr(img, *in.root, "user.none"));
  unsigned raw = 0;
  std::string full;
  HEADER_EXPECT(erofsfs::for_each_xattr(img, *in.root, [&](const erofsfs::raw_xattr& x) -> erofsfs::status {
    ++raw;
    if (!erofsfs::xattr_full_name(img, x, full)) return erofsfs::corrupted("no name");
    return {};
  }));
  HEADER_EXPECT(raw == 1 && full == "user.root");
  std::uint8_t index = 0;
  std::string_view rest;
  HEADER_EXPECT(erofsfs::xattr_split_name("user.root", index, rest) && rest == "root");
  HEADER_EXPECT(erofsfs::xattr_short_prefix(index) == "user.");
  (void)erofsfs::xattr_filter_bit(index, rest);
  return 0;
}
