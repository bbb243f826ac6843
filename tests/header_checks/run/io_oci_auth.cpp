// erofsfs/io/oci/auth.hpp alone: a challenge, an auth file entry and a token answer.
#include <erofsfs/io/oci/auth.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  namespace oci = erofsfs::oci;
  auto c = oci::parse_challenge(R"(Bearer realm="http://127.0.0.1:1/token",service="s")");
  HEADER_EXPECT(c && c->scheme == oci::challenge::scheme_t::bearer && c->service == "s");
  HEADER_EXPECT(oci::token_url(*c, "a/b") == "http://127.0.0.1:1/token?service=s&scope=repository%3Aa%2Fb%3Apull");
  auto k = oci::credentials_from_config(R"({"auths":{"h:1":{"auth":")" + oci::base64_encode("u:p") + R"("}}})", "h:1");
  HEADER_EXPECT(k && k->username == "u" && k->password == "p");
  HEADER_EXPECT(oci::token_from_response(R"({"access_token":"t"})").value() == "t");
  auto none = oci::load_credentials("h:1", "/nonexistent/auth.json");
  HEADER_EXPECT(none && none->empty());
  return 0;
}
