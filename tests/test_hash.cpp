#include <doctest/doctest.h>

#include <erofsfs/base/hash.hpp>
#include <erofsfs/api/xattr.hpp>
#include <string_view>

using namespace erofsfs;

namespace {
std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

TEST_CASE("crc32c_raw gives the EROFS (uninverted) value for the standard check string") {
  CHECK(crc32c_raw(~0u, bytes_of("123456789")) == 0x1CF96D7Cu);
  CHECK(~crc32c_raw(~0u, bytes_of("123456789")) == 0xE3069283u);
}

TEST_CASE("xxh32 matches the reference values") {
  CHECK(xxh32(bytes_of(""), 0) == 0x02CC5D05u);
  CHECK(xxh32(bytes_of("a"), 0) == 0x550D7456u);
  CHECK(xxh32(bytes_of("Nobody inspects the spammish repetition"), 0) == 0xE2293B2Fu);
}

TEST_CASE("the xattr bloom filter bit matches the format's worked examples") {
  CHECK(xattr_filter_bit(disk::xattr_index_user, "foo") == 12);
  CHECK(xattr_filter_bit(disk::xattr_index_security, "selinux") == 11);
  CHECK(xattr_filter_bit(disk::xattr_index_trusted, "overlay.opaque") == 20);
  CHECK(xattr_filter_bit(disk::xattr_index_security, "capability") == 29);
}
