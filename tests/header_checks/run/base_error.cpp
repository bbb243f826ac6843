// erofsfs/base/error.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/error.hpp>

#include <cerrno>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  const erofsfs::error e = erofsfs::corrupted("a check", {.nid = 1, .offset = 2, .value = 3});
  HEADER_EXPECT(e.code == erofsfs::errc::corrupted && erofsfs::to_errno(e.code) == EUCLEAN);
  HEADER_EXPECT(!e.message().empty());
  HEADER_EXPECT(erofsfs::unsupported("x").code == erofsfs::errc::unsupported);
  HEADER_EXPECT(erofsfs::make_error(erofsfs::errc::not_found, "y").code == erofsfs::errc::not_found);
  HEADER_EXPECT(erofsfs::make_error(std::error_code(EIO, std::system_category()), "z").code.value() == EIO);
  HEADER_EXPECT(erofsfs::make_error_code(erofsfs::errc::truncated).category() == erofsfs::error_category());
  erofsfs::result<int> ok = 7, bad = e;
  erofsfs::status fine;
  HEADER_EXPECT(ok.has_value() && *ok == 7 && !bad && bad.error().code == erofsfs::errc::corrupted);
  HEADER_EXPECT(bad.value_or(5) == 5 && fine.has_value());
  return 0;
}
