// erofsfs/base/error_text.hpp alone: its entry points link and work on a real image.
#include <erofsfs/base/error_text.hpp>

#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  HEADER_EXPECT(std::string_view(erofsfs::what::not_a_directory).size() > 0);
  return 0;
}
