// erofsfs/io/oci/reference.hpp alone: references parsed into their parts.
#include <erofsfs/io/oci/reference.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  auto r = erofsfs::oci::parse_reference("127.0.0.1:5000/a/b:v1");
  HEADER_EXPECT(r && r->host == "127.0.0.1:5000" && r->repository == "a/b" && r->tag == "v1");
  HEADER_EXPECT(r->default_scheme() == "http" && r->name() == "127.0.0.1:5000/a/b:v1");
  auto h = erofsfs::oci::parse_reference("alpine");
  HEADER_EXPECT(h && h->api_host() == "registry-1.docker.io" && h->repository == "library/alpine");
  HEADER_EXPECT(!erofsfs::oci::parse_reference("host.io/Bad"));
  return 0;
}
