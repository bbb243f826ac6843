#include <doctest/doctest.h>

#include <erofsfs/base/error.hpp>
#include <string>

using namespace erofsfs;

TEST_CASE("an errc converts to a std::error_code in the erofsfs category") {
  std::error_code ec = errc::corrupted;
  CHECK(ec.category() == error_category());
  CHECK(ec == errc::corrupted);
  CHECK(ec.message() == "corrupted image");
}

TEST_CASE("error::message names the check and where it failed") {
  const error e =
      corrupted("dirent nameoff not increasing", {.nid = 42, .offset = 0x1a2c, .value = 7});
  CHECK(e.message() == "corrupted image: dirent nameoff not increasing (nid 42, offset 0x1a2c, value 7)");
}

TEST_CASE("to_errno maps corruption to EUCLEAN and passes system codes through") {
  CHECK(to_errno(make_error_code(errc::corrupted)) == EUCLEAN);
  CHECK(to_errno(make_error_code(errc::unsupported)) == EOPNOTSUPP);
  CHECK(to_errno(std::error_code(ENOSPC, std::system_category())) == ENOSPC);
  CHECK(to_errno(std::error_code()) == 0);
}

namespace {
result<int> half(int v) {
  if (v % 2) return make_error(errc::invalid_argument, "odd");
  return v / 2;
}
result<int> quarter(int v) {
  EROFSFS_TRY_ASSIGN(const int h, half(v));
  return half(h);
}
}  // namespace

TEST_CASE("EROFSFS_TRY_ASSIGN propagates the first error and unwraps values") {
  CHECK(*quarter(8) == 2);
  CHECK(quarter(6).error().code == errc::invalid_argument);
  CHECK(quarter(6).error().what == std::string("odd"));
}
