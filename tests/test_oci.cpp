// The OCI distribution client (erofsfs/io/oci/): references, the bounded JSON reader,
// manifests, indexes and auth parsing on hand-made bytes.
//
// Format facts only, no network: the registry cases are in test_oci_registry.cpp.
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/oci/auth.hpp>
#include <erofsfs/io/oci/digest.hpp>
#include <erofsfs/io/oci/json.hpp>
#include <erofsfs/io/oci/manifest.hpp>
#include <erofsfs/io/oci/reference.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace {

namespace oci = erofsfs::oci;
namespace what = erofsfs::what;

const std::string hex64 = "e4ba13b86767a6f573304ce66f02509ff5795dde960b98c8e583ecc06bec8df1";
const std::string dg = "sha256:" + hex64;

// --- references -------------------------------------------------------------------------------

TEST_CASE("oci: a reference with host, port, nested repository and tag parses into its parts") {
  auto r = oci::parse_reference("127.0.0.1:5000/team/app/base:v1.2-rc_3");
  REQUIRE(r);
  CHECK(r->host == "127.0.0.1:5000");
  CHECK(r->repository == "team/app/base");
  CHECK(r->tag == "v1.2-rc_3");
  CHECK(r->digest.empty());
  CHECK(r->manifest_ref() == "v1.2-rc_3");
  CHECK(r->default_scheme() == "http");
}

TEST_CASE("oci: a reference without tag gets latest, a digest pins the manifest") {
  auto r = oci::parse_reference("registry.example.com/app");
  REQUIRE(r);
  CHECK(r->tag == "latest");
  CHECK(r->default_scheme() == "https");
  auto d = oci::parse_reference("registry.example.com/app:v1@" + dg);
  REQUIRE(d);
  CHECK(d->tag == "v1");
  CHECK(d->digest == dg);
  CHECK(d->manifest_ref() == dg);
  auto only = oci::parse_reference("localhost/app@" + dg);
  REQUIRE(only);
  CHECK(only->host == "localhost");
  CHECK(only->tag.empty());
  CHECK(only->default_scheme() == "http");
}

TEST_CASE("oci: a first component without '.', ':' or localhost is a repository on docker.io") {
  auto r = oci::parse_reference("alpine:3");
  REQUIRE(r);
  CHECK(r->host == "docker.io");
  CHECK(r->api_host() == "registry-1.docker.io");
  CHECK(r->repository == "library/alpine");
  auto n = oci::parse_reference("myorg/tool");
  REQUIRE(n);
  CHECK(n->repository == "myorg/tool");
}

TEST_CASE("oci: malformed references are refused by name") {
  struct bad_case {
    std::string text;
    const char* what;
  };
  const std::vector<bad_case> cases = {
      {"host.io/App", what::oci_reference_repository_is_malformed},
      {"host.io/a//b", what::oci_reference_repository_is_malformed},
      {"host.io/a-", what::oci_reference_repository_is_malformed},
      {"host.io/a..b", what::oci_reference_repository_is_malformed},
      {"host.io/", what::oci_reference_has_no_repository},
      {"host.io/app:", what::oci_reference_tag_is_malformed},
      {"host.io/app:.x", what::oci_reference_tag_is_malformed},
      {"host.io/app:" + std::string(129, 'a'), what::oci_reference_tag_is_malformed},
      {"-bad.io/app", what::oci_reference_host_is_malformed},
      {"host.io:99999x/app", what::oci_reference_host_is_malformed},
      {"host.io/app@sha256:" + hex64.substr(1), what::oci_digest_is_malformed},
      {"host.io/app@sha256:" + std::string(64, 'A'), what::oci_digest_is_malformed},
      {"host.io/app@sha512:" + hex64 + hex64, what::oci_digest_algorithm_is_not_sha256},
  };
  for (const bad_case& c : cases) {
    CAPTURE(c.text);
    auto r = oci::parse_reference(c.text);
    REQUIRE_FALSE(r);
    CHECK(std::string_view(r.error().what) == c.what);
  }
}

// --- JSON -------------------------------------------------------------------------------------

TEST_CASE("oci json: strings are decoded, numbers read as u64 only when whole and non-negative") {
  auto d = oci::json_document::parse(
      R"({"s":"a\"b\\c\u00e9\ud83d\ude00\n","n":18446744073709551615,"neg":-1,"f":1.5,"big":18446744073709551616,"t":true,"z":null,"a":[1,{}]})");
  REQUIRE(d);
  const oci::json_ref r = d->root();
  CHECK(r["s"].string() == std::optional<std::string_view>("a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n"));
  CHECK(r["n"].u64() == std::optional<std::uint64_t>(18446744073709551615ull));
  CHECK_FALSE(r["neg"].u64());
  CHECK_FALSE(r["f"].u64());
  CHECK_FALSE(r["big"].u64());
  CHECK(r["t"].boolean() == std::optional<bool>(true));
  CHECK(r["z"].is(oci::json_kind::null));
  CHECK(r["a"].items().size() == 2);
  CHECK(r["nope"].is(oci::json_kind::missing));
  CHECK(r["a"]["x"].is(oci::json_kind::missing));
}

TEST_CASE("oci json: malformed documents are refused by name") {
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "\"\\x\"", "\"\\ud800\"",
                          "\"\\udc00\"", "\"a\nb\"", "01", "1.", "-", "tru", "{} {}", "[1] x",
                          "{\"a\":1 \"b\":2}"}) {
    CAPTURE(bad);
    auto d = oci::json_document::parse(bad);
    REQUIRE_FALSE(d);
    CHECK(std::string_view(d.error().what) == what::json_is_malformed);
  }
}

TEST_CASE("oci json: duplicate keys, deep nesting, too many values and big inputs are refused") {
  auto dup = oci::json_document::parse(R"({"a":1,"b":{"x":1,"x":2}})");
  REQUIRE_FALSE(dup);
  CHECK(std::string_view(dup.error().what) == what::json_object_has_a_duplicate_key);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto d = oci::json_document::parse(deep);  // no recursion: the cap answers, not the stack
  REQUIRE_FALSE(d);
  CHECK(std::string_view(d.error().what) == what::json_nesting_too_deep);
  oci::json_limits lim;
  lim.max_values = 10;
  auto many = oci::json_document::parse("[1,2,3,4,5,6,7,8,9,10,11]", lim);
  REQUIRE_FALSE(many);
  CHECK(std::string_view(many.error().what) == what::json_too_many_values);
  lim = {};
  lim.max_bytes = 8;
  auto big = oci::json_document::parse("[1,2,3,4,5]", lim);
  REQUIRE_FALSE(big);
  CHECK(std::string_view(big.error().what) == what::json_document_too_large);
}

// --- manifests --------------------------------------------------------------------------------

std::string layer_json(const std::string& mt, const std::string& digest, std::uint64_t size,
                       const std::string& extra = "") {
  return "{\"mediaType\":\"" + mt + "\",\"digest\":\"" + digest + "\",\"size\":" +
         std::to_string(size) + extra + "}";
}

std::string image_manifest(const std::vector<std::string>& layers,
                           const std::string& mt = oci::media_type::oci_manifest) {
  std::string s = "{\"schemaVersion\":2,\"mediaType\":\"" + mt + "\",\"config\":" +
                  layer_json(oci::media_type::oci_config, dg, 2) + ",\"layers\":[";
  for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? "," : "") + layers[i];
  return s + "]}";
}

TEST_CASE("oci: an image manifest's EROFS layers are found by media type, any layer by digest") {
  const std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2'),
                    d3 = "sha256:" + std::string(64, '3'), d4 = "sha256:" + std::string(64, '4');
  const std::string text = image_manifest(
      {layer_json("application/vnd.oci.image.layer.v1.tar+gzip", d1, 10),
       layer_json(oci::media_type::erofs_layer, d2, 4096, R"(,"annotations":{"k":"v"})"),
       layer_json(oci::media_type::erofs, d3, 8192),
       layer_json(oci::media_type::erofs_layer_zstd, d4, 100)});
  auto m = oci::parse_manifest(text, "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
  REQUIRE_MESSAGE(m, (m ? std::string() : m.error().message()));
  CHECK(m->kind == oci::manifest::kind_t::image);
  CHECK(m->config.digest == dg);
  REQUIRE(m->layers.size() == 4);
  CHECK(m->layers[1].annotation("k") == "v");
  const auto e = oci::erofs_layers(*m);
  REQUIRE(e.size() == 3);
  CHECK(e[0].digest == d2);
  CHECK(e[0].size == 4096);
  CHECK(e[1].digest == d3);
  CHECK(oci::is_seekable_zstd_layer(e[2].media_type));
  CHECK_FALSE(oci::is_plain_erofs_layer(e[2].media_type));
  auto by = oci::layer_by_digest(*m, d1);
  REQUIRE(by);
  CHECK(by->size == 10);
  auto none = oci::layer_by_digest(*m, "sha256:" + std::string(64, '9'));
  REQUIRE_FALSE(none);
  CHECK(std::string_view(none.error().what) == what::oci_manifest_has_no_layer_with_the_digest);
}

TEST_CASE("oci: a Docker schema 2 manifest parses like an OCI one") {
  auto m = oci::parse_manifest(
      image_manifest({layer_json(oci::media_type::erofs_layer, dg, 1)}, oci::media_type::docker_manifest));
  REQUIRE(m);
  CHECK(m->kind == oci::manifest::kind_t::image);
  CHECK(m->media_type == oci::media_type::docker_manifest);
}

TEST_CASE("oci: an index or manifest list picks the entry for the platform") {
  const std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b'),
                    c = "sha256:" + std::string(64, 'c');
  for (const char* list_type : {oci::media_type::oci_index, oci::media_type::docker_manifest_list}) {
    CAPTURE(list_type);
    const std::string entry_type = std::string_view(list_type) == oci::media_type::oci_index
                                       ? oci::media_type::oci_manifest
                                       : oci::media_type::docker_manifest;
    const std::string text =
        std::string("{\"schemaVersion\":2,\"mediaType\":\"") + list_type + "\",\"manifests\":[" +
        layer_json(entry_type, a, 10, R"(,"platform":{"os":"linux","architecture":"arm64","variant":"v8"})") + "," +
        layer_json(entry_type, b, 11, R"(,"platform":{"os":"linux","architecture":"amd64"})") + "," +
        layer_json(entry_type, c, 12, R"(,"platform":{"os":"windows","architecture":"amd64"})") + "]}";
    auto idx = oci::parse_manifest(text);
    REQUIRE(idx);
    CHECK(idx->kind == oci::manifest::kind_t::index);
    auto amd = oci::pick_platform(*idx);
    REQUIRE(amd);
    CHECK(amd->digest == b);
    auto arm = oci::pick_platform(*idx, *oci::parse_platform("linux/arm64/v8"));
    REQUIRE(arm);
    CHECK(arm->digest == a);
    auto none = oci::pick_platform(*idx, *oci::parse_platform("linux/s390x"));
    REQUIRE_FALSE(none);
    CHECK(std::string_view(none.error().what) == what::oci_index_has_no_manifest_for_the_platform);
  }
  CHECK_FALSE(oci::parse_platform("linux"));
  CHECK_FALSE(oci::parse_platform("linux/arm64/"));
}

TEST_CASE("oci: manifests with bad descriptors, versions or media types are refused by name") {
  struct bad_case {
    std::string text, content_type;
    const char* what;
  };
  const std::vector<bad_case> cases = {
      {"[]", "", what::oci_manifest_is_not_an_object},
      {R"({"schemaVersion":1})", "", what::oci_manifest_schema_version_is_not_2},
      {image_manifest({layer_json(oci::media_type::erofs, "sha256:abc", 1)}), "", what::oci_digest_is_malformed},
      {image_manifest({"{\"mediaType\":\"x\",\"digest\":\"" + dg + "\"}"}), "",
       what::oci_descriptor_lacks_media_type_digest_or_size},
      {image_manifest({"{\"mediaType\":\"x\",\"digest\":\"" + dg + "\",\"size\":-1}"}), "",
       what::oci_descriptor_lacks_media_type_digest_or_size},
      {image_manifest({layer_json(oci::media_type::erofs, dg, (1ull << 63) + 1)}), "",
       what::oci_descriptor_size_above_2_63},
      {image_manifest({layer_json(oci::media_type::erofs, dg, 1, R"(,"annotations":{"k":1})")}), "",
       what::oci_annotations_are_not_strings},
      {image_manifest({}), oci::media_type::docker_manifest,
       what::oci_manifest_media_type_differs_from_content_type},
      {image_manifest({}, "application/vnd.docker.distribution.manifest.v1+json"), "",
       what::oci_manifest_media_type_is_not_supported},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})", "",
       what::oci_manifest_has_no_layers_array},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})", "",
       what::oci_index_has_no_manifests_array},
  };
  for (const bad_case& c : cases) {
    CAPTURE(c.text);
    auto m = oci::parse_manifest(c.text, c.content_type);
    REQUIRE_FALSE(m);
    CHECK(std::string_view(m.error().what) == c.what);
  }
}

// --- auth -------------------------------------------------------------------------------------

TEST_CASE("oci: WWW-Authenticate challenges give scheme, realm, service and scope") {
  auto b = oci::parse_challenge(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull")");
  REQUIRE(b);
  CHECK(b->scheme == oci::challenge::scheme_t::bearer);
  CHECK(b->realm == "https://auth.example.com/token");
  CHECK(b->service == "registry.example.com");
  CHECK(b->scope == "repository:a/b:pull");
  CHECK(oci::token_url(*b, "a/b") ==
        "https://auth.example.com/token?service=registry.example.com&scope=repository%3Aa%2Fb%3Apull");
  auto basic = oci::parse_challenge(R"(basic realm="Registry \"Realm\"")");
  REQUIRE(basic);
  CHECK(basic->scheme == oci::challenge::scheme_t::basic);
  CHECK(basic->realm == "Registry \"Realm\"");
  auto neg = oci::parse_challenge("Negotiate abc");
  REQUIRE_FALSE(neg);
  CHECK(std::string_view(neg.error().what) == what::oci_auth_scheme_is_not_basic_or_bearer);
  for (const char* bad : {"", "Bearer realm=\"unterminated", "Bearer realm"}) {
    CAPTURE(bad);
    auto c = oci::parse_challenge(bad);
    REQUIRE_FALSE(c);
    CHECK(std::string_view(c.error().what) == what::oci_www_authenticate_is_malformed);
  }
  auto file = oci::parse_challenge(R"(Bearer realm="file:///etc/passwd")");
  REQUIRE_FALSE(file);
  CHECK(std::string_view(file.error().what) == what::oci_token_realm_is_not_an_http_url);
}

TEST_CASE("oci: credentials come from the auth file entry of the host and port") {
  const std::string cfg = R"({"auths":{
    "https://index.docker.io/v1/":{"auth":")" + oci::base64_encode("hub:hubpw") + R"("},
    "127.0.0.1:5000":{"auth":")" + oci::base64_encode("u:p:with:colons") + R"("},
    "http://reg.example.com":{"username":"alice","password":"pw"}},
    "credHelpers":{"ecr.example.com":"ecr-login"}})";
  auto local = oci::credentials_from_config(cfg, "127.0.0.1:5000");
  REQUIRE(local);
  CHECK(local->username == "u");
  CHECK(local->password == "p:with:colons");
  auto hub = oci::credentials_from_config(cfg, "docker.io");
  REQUIRE(hub);
  CHECK(hub->username == "hub");
  auto plain = oci::credentials_from_config(cfg, "reg.example.com");
  REQUIRE(plain);
  CHECK(plain->username == "alice");
  CHECK(plain->password == "pw");
  auto other_port = oci::credentials_from_config(cfg, "127.0.0.1:5001");
  REQUIRE(other_port);
  CHECK(other_port->empty());
  auto helper = oci::credentials_from_config(cfg, "ecr.example.com");
  REQUIRE_FALSE(helper);
  CHECK(std::string_view(helper.error().what) == what::oci_credential_helpers_are_not_supported);
  for (const char* bad : {"[]", R"({"auths":[]})", R"({"auths":{"h.io":{"auth":"!!!!"}}})",
                          R"({"auths":{"h.io":{"auth":"bm9jb2xvbg=="}}})"}) {
    CAPTURE(bad);
    auto c = oci::credentials_from_config(bad, "h.io");
    REQUIRE_FALSE(c);
    CHECK(std::string_view(c.error().what) == what::oci_auth_file_is_malformed);
  }
}

TEST_CASE("oci: base64 round-trips and refuses bad padding") {
  for (const char* s : {"", "a", "ab", "abc", "abcd", "user:pass"})
    CHECK(oci::base64_decode(oci::base64_encode(s)) == std::optional<std::string>(s));
  for (const char* bad : {"a", "ab=c", "a===", "ab==cd==", "ab\ncd=="}) CHECK_FALSE(oci::base64_decode(bad));
}

TEST_CASE("oci: a token answer gives token or access_token, header-safe only") {
  CHECK(oci::token_from_response(R"({"token":"abc.def"})").value() == "abc.def");
  CHECK(oci::token_from_response(R"({"access_token":"xyz"})").value() == "xyz");
  auto none = oci::token_from_response(R"({"expires_in":3})");
  REQUIRE_FALSE(none);
  CHECK(std::string_view(none.error().what) == what::oci_token_response_has_no_token);
  auto inject = oci::token_from_response(R"({"token":"a\r\nX-Evil: 1"})");
  REQUIRE_FALSE(inject);
  CHECK(std::string_view(inject.error().what) == what::oci_token_is_not_header_safe);
}

TEST_CASE("oci: content is checked against its sha256 digest") {
  const std::string s = "hello";
  const auto bytes = std::as_bytes(std::span(s.data(), s.size()));
  const std::string d = oci::sha256_digest_of(bytes);
  CHECK(d == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(oci::verify_digest(bytes, d));
  auto bad = oci::verify_digest(bytes.first(4), d);
  REQUIRE_FALSE(bad);
  CHECK(std::string_view(bad.error().what) == what::oci_content_does_not_match_its_digest);
}

}  // namespace
