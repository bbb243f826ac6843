#include <doctest/doctest.h>

#include <erofsfs/base/hash.hpp>
#include <erofsfs/api/xattr.hpp>
#include <erofsfs/base/sha256.hpp>
#include <erofsfs/base/sha512.hpp>
#include <string>
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

TEST_CASE("sha256 matches FIPS 180-4 vectors however the input is split") {
  CHECK(sha256::of(bytes_of("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256::of(bytes_of("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const char* want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
  CHECK(sha256::of(bytes_of(two_blocks)) == want);
  const std::string million(1000000, 'a');
  // Split so that whole 64-byte blocks arrive both buffered and straight from the input.
  for (std::size_t cut : {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{100}}) {
    sha256 h;
    h.update(bytes_of(std::string_view(million).substr(0, cut)));
    h.update(bytes_of(std::string_view(million).substr(cut)));
    CHECK(h.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  sha256 h;
  h.update(bytes_of("abc"));
  const auto raw = h.digest();
  CHECK(raw[0] == 0xba);
  CHECK(raw[31] == 0xad);
}

TEST_CASE("sha512 matches FIPS 180-4 vectors however the input is split") {
  CHECK(sha512::of(bytes_of("")) ==
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  CHECK(sha512::of(bytes_of("abc")) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  const std::string two_blocks =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  CHECK(sha512::of(bytes_of(two_blocks)) ==
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  const std::string million(1000000, 'a');
  // Split so that whole 128-byte blocks arrive both buffered and straight from the input.
  for (std::size_t cut : {std::size_t{1}, std::size_t{127}, std::size_t{128}, std::size_t{200}}) {
    sha512 h;
    h.update(bytes_of(std::string_view(million).substr(0, cut)));
    h.update(bytes_of(std::string_view(million).substr(cut)));
    CHECK(h.hex() ==
          "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
          "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  }
  sha512 h;
  h.update(bytes_of("abc"));
  const auto raw = h.digest();
  CHECK(raw[0] == 0xdd);
  CHECK(raw[63] == 0x9f);
  CHECK(h.hex() == sha512::of(bytes_of("")));  // digest() reset it
}
