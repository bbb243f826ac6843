// erofsfs/io/oci/digest.hpp alone: the image file's digest, checked and refused.
#include <erofsfs/io/oci/digest.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const std::string d = erofsfs::oci::sha256_digest_of(in.bytes);
  HEADER_EXPECT(erofsfs::oci::is_sha256_digest(d));
  HEADER_EXPECT(erofsfs::oci::verify_digest(in.bytes, d));
  HEADER_EXPECT(!erofsfs::oci::verify_digest(in.bytes.first(in.bytes.size() - 1), d));
  HEADER_EXPECT(!erofsfs::oci::check_digest("sha256:ABC"));
  return 0;
}
