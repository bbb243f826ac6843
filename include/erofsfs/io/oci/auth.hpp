// Registry authentication facts (L2, OCI support), without any network:
// - the `WWW-Authenticate` challenge of a 401 (RFC 9110 §11.6.1: a scheme, then comma-separated
//   name=value parameters, values tokens or quoted strings); Basic and Bearer are understood;
// - credentials from a docker-style auth file: $REGISTRY_AUTH_FILE, else
//   $DOCKER_CONFIG/config.json, else ~/.docker/config.json; `auths` keyed by host[:port]
//   (optionally with a scheme and a path, as `docker login` writes https://index.docker.io/v1/),
//   with a base64 `auth` of "user:password" or `username` and `password`. Credential helpers
//   are not run: a `credHelpers` entry for the host is refused by name (a global `credsStore`
//   is not an answer for one host and is ignored: anonymous access is tried);
// - the token service's answer (distribution's token spec: `token` or `access_token`);
// - base64 for Basic credentials.
// Everything that ends up in a request header is checked to be header-safe (no CR, LF or
// other control bytes), so no server answer or file can inject a header.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"
#include "json.hpp"

namespace erofsfs::oci {

struct challenge {
  enum class scheme_t { basic, bearer } scheme = scheme_t::basic;
  std::string realm, service, scope;
};

struct credentials {
  std::string username, password;
  bool empty() const noexcept { return username.empty() && password.empty(); }
};

inline std::string base64_encode(std::string_view in) {
  static constexpr char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k)
      v = (v << 8) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0u);
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += n > 1 ? abc[(v >> 6) & 63] : '=';
    out += n > 2 ? abc[v & 63] : '=';
  }
  return out;
}

// Standard base64 with padding (what docker writes); nullopt for anything else.
inline std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
        ++pad;
        v <<= 6;
        continue;
      }
      const int d = val(c);
      if (d < 0 || pad) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

// Printable ASCII without spaces: safe inside a header value as a token.
inline bool header_token_safe(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return false;
  return true;
}

// The first challenge of a WWW-Authenticate value. Bounded by the value's length.
inline result<challenge> parse_challenge(std::string_view v) {
  auto bad = [] { return make_error(errc::protocol_error, what::oci_www_authenticate_is_malformed); };
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (char& c : o)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return o;
  };
  std::size_t i = 0;
  auto ws = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  };
  ws();
  const std::size_t s0 = i;
  while (i < v.size() && v[i] != ' ' && v[i] != '\t' && v[i] != ',') ++i;
  const std::string scheme = lower(v.substr(s0, i - s0));
  challenge c;
  if (scheme == "basic") c.scheme = challenge::scheme_t::basic;
  else if (scheme == "bearer") c.scheme = challenge::scheme_t::bearer;
  else if (scheme.empty()) return bad();
  else return make_error(errc::unsupported, what::oci_auth_scheme_is_not_basic_or_bearer);
  for (;;) {  // bounded: every turn consumes at least one byte or ends
    ws();
    if (i >= v.size()) break;
    const std::size_t k0 = i;
    while (i < v.size() && v[i] != '=' && v[i] != ' ' && v[i] != ',') ++i;
    const std::string name = lower(v.substr(k0, i - k0));
    ws();
    if (name.empty() || i >= v.size() || v[i] != '=') {
      // Another challenge follows ("Bearer ..., Basic realm=..."): the first one is used.
      if (!name.empty() && c.scheme == challenge::scheme_t::bearer && !c.realm.empty()) break;
      return bad();
    }
    ++i;
    ws();
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          value += v[i + 1];
          i += 2;
        } else if (v[i] == '"') {
          ++i;
          closed = true;
          break;
        } else {
          value += v[i++];
        }
      }
      if (!closed) return bad();
    } else {
      const std::size_t v0 = i;
      while (i < v.size() && v[i] != ',' && v[i] != ' ') ++i;
      value = std::string(v.substr(v0, i - v0));
    }
    if (name == "realm") c.realm = std::move(value);
    else if (name == "service") c.service = std::move(value);
    else if (name == "scope") c.scope = std::move(value);
    ws();
    if (i < v.size()) {
      if (v[i] != ',') return bad();
      ++i;
    }
  }
  if (c.scheme == challenge::scheme_t::bearer) {
    const std::string_view r = c.realm;
    if (!(r.substr(0, 7) == "http://" || r.substr(0, 8) == "https://"))
      return make_error(errc::protocol_error, what::oci_token_realm_is_not_an_http_url);
  }
  return c;
}

namespace detail {

// "https://host:port/v1/" -> "host:port"; "host" as is.
inline std::string_view auth_key_host(std::string_view key) noexcept {
  if (const std::size_t s = key.find("://"); s != std::string_view::npos) key.remove_prefix(s + 3);
  return key.substr(0, key.find('/'));
}

inline bool auth_key_matches(std::string_view key, std::string_view host) noexcept {
  const std::string_view k = auth_key_host(key);
  if (k == host) return true;
  auto docker = [](std::string_view h) {
    return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io";
  };
  return docker(k) && docker(host);
}

}  // namespace detail

// Credentials for `host` ("host[:port]") in the text of an auth file; none (empty) when the
// file has no entry for it.
inline result<credentials> credentials_from_config(std::string_view text, std::string_view host) {
  auto bad = [] { return make_error(errc::invalid_argument, what::oci_auth_file_is_malformed); };
  json_limits lim;
  lim.max_bytes = std::size_t{1} << 20;
  auto doc = json_document::parse(text, lim);
  if (!doc) return bad();
  const json_ref root = doc->root();
  if (!root.is(json_kind::object)) return bad();
  const json_ref auths = root["auths"];
  if (!auths.is(json_kind::missing) && !auths.is(json_kind::object)) return bad();
  for (const json_ref e : auths.items()) {
    if (!detail::auth_key_matches(e.key(), host)) continue;
    if (!e.is(json_kind::object)) return bad();
    credentials c;
    if (const auto a = e["auth"].string(); a && !a->empty()) {
      const auto plain = base64_decode(*a);
      if (!plain) return bad();
      const std::size_t colon = plain->find(':');
      if (colon == std::string::npos) return bad();
      c.username = plain->substr(0, colon);
      c.password = plain->substr(colon + 1);
    } else {
      const auto u = e["username"].string();
      const auto p = e["password"].string();
      if (!u || !p) continue;  // e.g. only an identitytoken: nothing usable here
      c.username = std::string(*u);
      c.password = std::string(*p);
    }
    for (const char ch : c.username + c.password)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) return bad();
    return c;
  }
  const json_ref helpers = root["credHelpers"];
  for (const json_ref h : helpers.items())
    if (detail::auth_key_matches(h.key(), host))
      return make_error(errc::unsupported, what::oci_credential_helpers_are_not_supported);
  return credentials{};
}

// The auth file the environment names (see the header comment); empty when none applies.
inline std::string default_auth_file() {
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) return f;
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.docker/config.json";
  return {};
}

// Credentials for `host` from `file` (default_auth_file() when empty). A missing file means
// no credentials; an unreadable, oversized or malformed one is an error.
inline result<credentials> load_credentials(std::string_view host, std::string file = {}) {
  if (file.empty()) file = default_auth_file();
  if (file.empty()) return credentials{};
  std::ifstream in(file, std::ios::binary);
  if (!in) return credentials{};
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {  // bounded by the 1 MiB cap
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > (std::size_t{1} << 20))
      return make_error(errc::limit_exceeded, what::oci_auth_file_is_malformed, {.value = text.size()});
  }
  return credentials_from_config(text, host);
}

// The bearer token of a token service answer ({"token": ...} or {"access_token": ...}).
inline result<std::string> token_from_response(std::string_view body) {
  json_limits lim;
  lim.max_bytes = std::size_t{1} << 20;
  auto doc = json_document::parse(body, lim);
  if (!doc) return doc.error();
  const json_ref root = doc->root();
  auto t = root["token"].string();
  if (!t || t->empty()) t = root["access_token"].string();
  if (!t || t->empty())
    return make_error(errc::protocol_error, what::oci_token_response_has_no_token);
  if (!header_token_safe(*t) || t->size() > 64 * 1024)
    return make_error(errc::protocol_error, what::oci_token_is_not_header_safe);
  return std::string(*t);
}

// "%XX" for everything but unreserved characters (RFC 3986 §2.3), for query values.
inline std::string url_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

// The token request URL for pulling `repository` (distribution's token spec).
inline std::string token_url(const challenge& c, std::string_view repository) {
  std::string u = c.realm;
  u += c.realm.find('?') == std::string::npos ? '?' : '&';
  if (!c.service.empty()) u += "service=" + url_escape(c.service) + "&";
  u += "scope=" + url_escape("repository:" + std::string(repository) + ":pull");
  return u;
}

}  // namespace erofsfs::oci
