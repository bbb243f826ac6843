// erofsfs/io/oci/registry.hpp alone: a client for a registry nobody runs fails by name.
#include <erofsfs/io/oci/registry.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  namespace oci = erofsfs::oci;
  auto r = oci::parse_reference("127.0.0.1:1/a:v1");  // port 1: connection refused
  HEADER_EXPECT(r);
  oci::registry_options o;
  o.anonymous = true;
  o.connect_timeout_ms = 2000;
  auto c = oci::registry_client::connect(*r, o);
  HEADER_EXPECT(c);
  auto m = c->resolve();
  HEADER_EXPECT(!m && std::string_view(m.error().what) == erofsfs::what::oci_registry_request_failed);
  HEADER_EXPECT(!c->last_failure().empty());
  return 0;
}
