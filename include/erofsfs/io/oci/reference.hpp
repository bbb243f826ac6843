// Image references (L2, OCI support): `[host[:port]/]repo[/more][:tag][@sha256:hex]`, with the
// grammar of the distribution project's reference package:
// - the first component is a host when it contains '.' or ':' or is `localhost`; otherwise
//   the host is docker.io (served at registry-1.docker.io) and a one-component repository gets
//   the `library/` prefix, as docker does;
// - repository components are lowercase alphanumerics joined by '.', '_', '__' or runs of '-';
//   the whole name is at most 255 characters;
// - a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; without tag and digest the tag is `latest`;
// - a digest is sha256 (digest.hpp); with a digest the tag is only informative.
// Loopback registries speak plain http, as docker assumes for localhost and 127.0.0.0/8;
// default_scheme() encodes that.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"
#include "digest.hpp"

namespace erofsfs::oci {

struct reference {
  std::string host;        // as written, with its port ("127.0.0.1:5000", "docker.io")
  std::string repository;  // "library/alpine"
  std::string tag;         // "latest" when neither tag nor digest is given
  std::string digest;      // "sha256:..." or empty

  // What the manifest is asked for by: the digest when pinned, else the tag.
  const std::string& manifest_ref() const noexcept { return digest.empty() ? tag : digest; }
  // The host that answers the API (docker.io's registry lives elsewhere).
  std::string api_host() const { return host == "docker.io" ? "registry-1.docker.io" : host; }
  // The host without its port.
  std::string_view hostname() const noexcept {
    const std::string_view h = host;
    const std::size_t colon = h.rfind(':');
    return colon == std::string_view::npos ? h : h.substr(0, colon);
  }
  // "http" for localhost and 127.x.y.z, "https" otherwise.
  std::string_view default_scheme() const noexcept {
    const std::string_view h = hostname();
    return h == "localhost" || h.substr(0, 4) == "127." ? "http" : "https";
  }
  std::string name() const {
    std::string s = host + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
  }
};

namespace detail {

inline bool ref_lower_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool ref_alnum(char c) noexcept {
  return ref_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// One path component: alnum runs joined by '.', '_', '__' or '-'+.
inline bool ref_component(std::string_view c) noexcept {
  if (c.empty() || !ref_lower_alnum(c.front()) || !ref_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {  // bounded: i grows every turn
    if (ref_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !ref_lower_alnum(c[j])) ++j;
    const std::string_view sep = c.substr(i, j - i);
    const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (sep != "." && sep != "_" && sep != "__" && !dashes) return false;
    i = j;
  }
  return true;
}

// host labels (alnum, inner '-') joined by '.', then an optional ":port" of 1-5 digits.
inline bool ref_host(std::string_view h) noexcept {
  const std::size_t colon = h.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view port = h.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      return false;
    h = h.substr(0, colon);
  }
  if (h.empty()) return false;
  for (std::size_t i = 0; i <= h.size();) {  // bounded: i grows every turn
    const std::size_t dot = std::min(h.find('.', i), h.size());
    const std::string_view label = h.substr(i, dot - i);
    if (label.empty() || !ref_alnum(label.front()) || !ref_alnum(label.back())) return false;
    for (const char c : label)
      if (!ref_alnum(c) && c != '-') return false;
    i = dot + 1;
  }
  return true;
}

inline bool ref_tag(std::string_view t) noexcept {
  if (t.empty() || t.size() > 128 || !(ref_alnum(t.front()) || t.front() == '_')) return false;
  for (const char c : t)
    if (!ref_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

}  // namespace detail

inline result<reference> parse_reference(std::string_view s) {
  reference r;
  auto bad = [](const char* what) { return make_error(errc::invalid_argument, what); };
  if (const std::size_t at = s.find('@'); at != std::string_view::npos) {
    r.digest = std::string(s.substr(at + 1));
    EROFSFS_TRY(check_digest(r.digest));
    s = s.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a host's port comes before a '/').
  const std::size_t slash = s.rfind('/');
  const std::size_t colon = s.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(s.substr(colon + 1));
    if (!detail::ref_tag(r.tag)) return bad(what::oci_reference_tag_is_malformed);
    s = s.substr(0, colon);
  } else if (r.digest.empty()) {
    r.tag = "latest";
  }
  const std::size_t first_slash = s.find('/');
  if (first_slash != std::string_view::npos) {
    const std::string_view first = s.substr(0, first_slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      if (!detail::ref_host(first)) return bad(what::oci_reference_host_is_malformed);
      r.host = std::string(first);
      s = s.substr(first_slash + 1);
    }
  }
  if (r.host.empty()) {
    r.host = "docker.io";
    if (s.find('/') == std::string_view::npos) r.repository = "library/";
  }
  if (s.empty()) return bad(what::oci_reference_has_no_repository);
  for (std::size_t i = 0; i <= s.size();) {  // bounded: i grows every turn
    const std::size_t end = std::min(s.find('/', i), s.size());
    if (!detail::ref_component(s.substr(i, end - i)))
      return bad(what::oci_reference_repository_is_malformed);
    i = end + 1;
  }
  r.repository += std::string(s);
  if (r.host.size() + 1 + r.repository.size() > 255)
    return bad(what::oci_reference_repository_is_malformed);
  return r;
}

}  // namespace erofsfs::oci
