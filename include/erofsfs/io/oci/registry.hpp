// OCI distribution client (L2, opt-in: needs libcurl, like io/http_source.hpp): a reference
// (reference.hpp) resolved to an image manifest (manifest.hpp), and its blobs opened by digest
// as byte sources. The registry and every answer are untrusted:
// - manifests and other whole reads are capped (max_document_bytes) and checked against the
//   digest that names them (digest.hpp): a manifest pinned by digest, an index entry, a
//   registry's Docker-Content-Digest header; read_blob() verifies any blob it reads whole;
// - a blob opened for ranged reads (open_blob) is an http_source over /v2/<repo>/blobs/<digest>
//   whose size must equal the descriptor's; ranged reads cannot be checked against the whole
//   digest, so the EROFS reader's own checks (and verity, where the image has it) apply;
// - authentication (auth.hpp): a 401's challenge is answered once per request. Basic sends
//   the auth file's credentials; Bearer fetches a token from the realm (with those
//   credentials as Basic, when there are any) for repository:<repo>:pull. A second 401 is
//   refused by name. The Authorization header then goes with every request to the registry,
//   blob sources included; libcurl does not forward it to another host on a redirect;
// - redirects are capped (http_options::max_redirects) and limited to http and https; a Bearer
//   realm on plain http is refused when the registry itself is https (the credentials would
//   travel in clear).
// Threads: a registry_client is used by one thread; the blob sources it returns are
// http_sources (thread-safe reads) that do not refer back to the client.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"
#include "../http_source.hpp"
#include "auth.hpp"
#include "digest.hpp"
#include "manifest.hpp"
#include "reference.hpp"

namespace erofsfs::oci {

struct registry_options {
  std::string scheme;       // "http" or "https"; empty: reference::default_scheme()
  std::string auth_file;    // empty: default_auth_file(); credentials for the reference's host
  bool anonymous = false;   // don't read any auth file
  platform want_platform;   // for an index
  std::size_t max_document_bytes = std::size_t{4} << 20;  // manifests, tokens, whole blobs
  std::uint32_t connect_timeout_ms = 10'000;
  std::uint32_t request_timeout_ms = 60'000;
  std::uint32_t max_redirects = 5;
  http_options blob_http;  // for open_blob (its headers get the Authorization added)
};

// A manifest as resolved: the image manifest, its digest and how big it was.
struct resolved_manifest {
  manifest image;
  std::string digest;
};

namespace detail {

struct oci_response {
  long status = 0;
  std::string content_type, www_authenticate, content_digest;
  std::string body;
  bool too_large = false;
};

struct oci_exchange {
  oci_response* r = nullptr;
  std::size_t cap = 0;

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto& x = *static_cast<oci_exchange*>(self);
    const std::size_t len = size * n;
    const std::string_view line = erofsfs::detail::http_trim(std::string_view(data, len));
    if (line.substr(0, 5) == "HTTP/") {  // a new response (after a redirect): start over
      const std::size_t sp = line.find(' ');
      x.r->status = 0;
      x.r->content_type.clear();
      x.r->www_authenticate.clear();
      x.r->content_digest.clear();
      x.r->body.clear();  // a redirect's page is not the answer
      if (sp != std::string_view::npos)
        if (auto code = erofsfs::detail::http_parse_u64(line.substr(sp + 1, 3))) x.r->status = static_cast<long>(*code);
      return len;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    const std::string_view name = erofsfs::detail::http_trim(line.substr(0, colon));
    const std::string_view value = erofsfs::detail::http_trim(line.substr(colon + 1));
    if (value.size() > 8192) return len;  // no header we read is that long
    if (erofsfs::detail::http_iequals(name, "content-type")) x.r->content_type = std::string(value);
    else if (erofsfs::detail::http_iequals(name, "www-authenticate") && x.r->www_authenticate.empty())
      x.r->www_authenticate = std::string(value);
    else if (erofsfs::detail::http_iequals(name, "docker-content-digest")) x.r->content_digest = std::string(value);
    return len;
  }
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto& x = *static_cast<oci_exchange*>(self);
    const std::size_t len = size * n;
    if (x.r->status >= 300) {  // an error page: keep a little for the message
      if (x.r->body.size() < 1024) x.r->body.append(data, std::min<std::size_t>(len, 1024));
      return len;
    }
    if (len > x.cap - x.r->body.size()) {
      x.r->too_large = true;
      return 0;
    }
    x.r->body.append(data, len);
    return len;
  }
};

}  // namespace detail

class registry_client {
 public:
  // Reads the credentials for the reference's host (unless anonymous); no request yet.
  static result<registry_client> connect(reference ref, registry_options opt = {}) {
    registry_client c;
    if (opt.scheme.empty()) opt.scheme = std::string(ref.default_scheme());
    if (opt.scheme != "http" && opt.scheme != "https")
      return make_error(errc::invalid_argument, what::http_url_is_not_http_or_https);
    if (!opt.anonymous) {
      EROFSFS_TRY_ASSIGN(c.creds_, load_credentials(ref.host, opt.auth_file));
    }
    c.base_ = opt.scheme + "://" + ref.api_host() + "/v2/" + ref.repository;
    c.ref_ = std::move(ref);
    c.opt_ = std::move(opt);
    c.init_ = std::make_shared<curl_init>();
    if (!c.init_->ok)
      return make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::http_cannot_create_a_curl_handle);
    return c;
  }

  const reference& ref() const noexcept { return ref_; }
  // The last failed request in words (URL without credentials, status, server text).
  const std::string& last_failure() const noexcept { return failure_; }

  // The image manifest of the reference: fetched with all four media types accepted, checked
  // against the pinned digest (or the registry's Docker-Content-Digest), and, for an index,
  // the entry for options().want_platform fetched by its digest and checked the same way.
  result<resolved_manifest> resolve() {
    EROFSFS_TRY_ASSIGN(fetched f, get_manifest(ref_.manifest_ref(), ref_.digest, 0));
    if (f.doc.kind == manifest::kind_t::index) {
      EROFSFS_TRY_ASSIGN(descriptor d, pick_platform(f.doc, opt_.want_platform));
      EROFSFS_TRY_ASSIGN(fetched g, get_manifest(d.digest, d.digest, d.size));
      if (g.doc.kind != manifest::kind_t::image)
        return make_error(errc::unsupported, what::oci_index_entry_is_not_an_image_manifest);
      return resolved_manifest{std::move(g.doc), std::move(g.digest)};
    }
    return resolved_manifest{std::move(f.doc), std::move(f.digest)};
  }

  // A blob read whole (at most max_document_bytes) and checked against its digest and size.
  result<std::vector<std::byte>> read_blob(const descriptor& d) {
    EROFSFS_TRY(check_digest(d.digest));
    if (d.size > opt_.max_document_bytes)
      return make_error(errc::limit_exceeded, what::oci_document_larger_than_the_cap, {.value = d.size});
    EROFSFS_TRY_ASSIGN(detail::oci_response r,
                       get(base_ + "/blobs/" + d.digest, {}, static_cast<std::size_t>(d.size)));
    EROFSFS_TRY(expect_ok(r, what::oci_blob_not_found));
    const auto bytes = std::as_bytes(std::span(r.body.data(), r.body.size()));
    if (r.body.size() != d.size)
      return make_error(errc::corrupted, what::oci_blob_size_differs_from_its_descriptor,
                        {.value = r.body.size()});
    EROFSFS_TRY(verify_digest(bytes, d.digest));
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  }

  // A blob for ranged reads, sized by the registry and checked against the descriptor.
  // Authenticates first (with a small manifest-free request) when no header is known yet.
  result<http_source> open_blob(const descriptor& d, std::string* failure = nullptr) {
    EROFSFS_TRY(check_digest(d.digest));
    const std::string url = base_ + "/blobs/" + d.digest;
    if (authorization_.empty()) EROFSFS_TRY(probe(url));
    http_options o = opt_.blob_http;
    if (!authorization_.empty()) o.headers.push_back(authorization_);
    auto s = http_source::open(url, o, failure);
    if (!s) return s.error();
    if (s->size() != d.size)
      return make_error(errc::corrupted, what::oci_blob_size_differs_from_its_descriptor,
                        {.value = s->size()});
    return s;
  }

 private:
  struct curl_init {
    bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    ~curl_init() {
      if (ok) curl_global_cleanup();
    }
  };
  struct fetched {
    manifest doc;
    std::string digest;
  };

  // GET `url` once with `headers`; a body above `cap` is refused.
  result<detail::oci_response> get_once(const std::string& url,
                                        const std::vector<std::string>& headers, std::size_t cap,
                                        const credentials* basic = nullptr) {
    detail::oci_response r;
    detail::oci_exchange x{&r, cap};
    CURL* c = curl_easy_init();
    if (!c)
      return make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::http_cannot_create_a_curl_handle);
    curl_slist* list = curl_slist_append(nullptr, "Accept-Encoding: identity");
    for (const std::string& h : headers)
      if (list) list = curl_slist_append(list, h.c_str());
    char err[CURL_ERROR_SIZE] = {};
    const std::string userpwd = basic ? basic->username + ":" + basic->password : std::string();
    bool ok = list != nullptr &&
        curl_easy_setopt(c, CURLOPT_URL, url.c_str()) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(opt_.max_redirects)) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt_.connect_timeout_ms)) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.request_timeout_ms)) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, opt_.blob_http.user_agent.c_str()) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &detail::oci_exchange::on_header) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &x) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &detail::oci_exchange::on_body) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) == CURLE_OK;
    if (ok && basic) {
      ok = curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC)) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str()) == CURLE_OK;
    }
    const CURLcode rc = ok ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    if (r.too_large) {
      note(url, r, "answer larger than " + std::to_string(cap) + " bytes");
      return make_error(errc::limit_exceeded, what::oci_document_larger_than_the_cap, {.value = cap});
    }
    if (rc != CURLE_OK) {
      note(url, r, std::string("curl: ") + (err[0] ? err : curl_easy_strerror(rc)));
      if (rc == CURLE_TOO_MANY_REDIRECTS)
        return make_error(errc::io_error, what::http_too_many_redirects);
      return make_error(errc::io_error, what::oci_registry_request_failed,
                        {.value = static_cast<std::uint64_t>(rc)});
    }
    return r;
  }

  // GET with the auth flow: one challenge answered, then the answer as it is.
  result<detail::oci_response> get(const std::string& url, std::vector<std::string> headers,
                                   std::size_t cap) {
    for (int round = 0;; ++round) {  // bounded: returns by round 1
      std::vector<std::string> h = headers;
      if (!authorization_.empty()) h.push_back(authorization_);
      EROFSFS_TRY_ASSIGN(detail::oci_response r, get_once(url, h, cap));
      if (r.status != 401) return r;
      if (round > 0 || !authorization_.empty()) {
        note(url, r, "credentials refused");
        return make_error(errc::io_error, what::oci_registry_refused_the_credentials, {.value = 401});
      }
      EROFSFS_TRY(authenticate(url, r));
    }
  }

  // Answers a 401's challenge: sets authorization_.
  status authenticate(const std::string& url, const detail::oci_response& r) {
    if (r.www_authenticate.empty()) {
      note(url, r, "401 without WWW-Authenticate");
      return make_error(errc::protocol_error, what::oci_www_authenticate_is_malformed);
    }
    EROFSFS_TRY_ASSIGN(challenge ch, parse_challenge(r.www_authenticate));
    if (ch.scheme == challenge::scheme_t::basic) {
      if (creds_.empty()) {
        note(url, r, "registry wants credentials; none in the auth file");
        return make_error(errc::io_error, what::oci_registry_requires_credentials, {.value = 401});
      }
      authorization_ = "Authorization: Basic " + base64_encode(creds_.username + ":" + creds_.password);
      return {};
    }
    if (opt_.scheme == "https" && ch.realm.substr(0, 7) == "http://")
      return make_error(errc::protocol_error, what::oci_token_realm_is_plain_http_for_an_https_registry);
    const std::string turl = token_url(ch, ref_.repository);
    EROFSFS_TRY_ASSIGN(detail::oci_response t,
                       get_once(turl, {}, std::size_t{1} << 20, creds_.empty() ? nullptr : &creds_));
    if (t.status == 401 || t.status == 403) {
      note(turl, t, "token service refused");
      return make_error(errc::io_error, what::oci_token_service_refused_the_credentials,
                        {.value = static_cast<std::uint64_t>(t.status)});
    }
    if (t.status != 200) {
      note(turl, t, "token service answer");
      return make_error(errc::io_error, what::oci_registry_unexpected_status,
                        {.value = static_cast<std::uint64_t>(t.status)});
    }
    EROFSFS_TRY_ASSIGN(std::string token, token_from_response(t.body));
    authorization_ = "Authorization: Bearer " + token;
    return {};
  }

  // A 1-byte ranged GET of a blob, only to learn the registry's challenge before handing the
  // URL to an http_source (which does not authenticate).
  status probe(const std::string& url) {
    EROFSFS_TRY_ASSIGN(detail::oci_response r, get(url, {"Range: bytes=0-0"}, 1));
    (void)r;  // the blob source judges the answer itself
    return {};
  }

  status expect_ok(const detail::oci_response& r, const char* missing) {
    if (r.status == 200) return {};
    if (r.status == 404) return make_error(errc::not_found, missing, {.value = 404});
    if (r.status == 403)
      return make_error(errc::io_error, what::oci_registry_refused_the_credentials, {.value = 403});
    return make_error(errc::io_error, what::oci_registry_unexpected_status,
                      {.value = static_cast<std::uint64_t>(r.status)});
  }

  // The manifest named `name` (tag or digest); `digest` (may be empty) and `size` (0: any)
  // are what it must hash to and weigh.
  result<fetched> get_manifest(const std::string& name, const std::string& digest, std::uint64_t size) {
    if (size > opt_.max_document_bytes)
      return make_error(errc::limit_exceeded, what::oci_document_larger_than_the_cap, {.value = size});
    const std::string url = base_ + "/manifests/" + name;
    EROFSFS_TRY_ASSIGN(detail::oci_response r,
                       get(url, {std::string("Accept: ") + manifest_accept}, opt_.max_document_bytes));
    if (r.status != 200) note(url, r, "manifest");
    EROFSFS_TRY(expect_ok(r, what::oci_manifest_not_found));
    const auto bytes = std::as_bytes(std::span(r.body.data(), r.body.size()));
    if (size && r.body.size() != size)
      return make_error(errc::corrupted, what::oci_manifest_size_differs_from_its_descriptor,
                        {.value = r.body.size()});
    const std::string actual = sha256_digest_of(bytes);
    if (!digest.empty() && actual != digest)
      return make_error(errc::corrupted, what::oci_content_does_not_match_its_digest,
                        {.value = r.body.size()});
    if (digest.empty() && !r.content_digest.empty() && r.content_digest != actual)
      return make_error(errc::corrupted, what::oci_content_does_not_match_its_digest,
                        {.value = r.body.size()});
    EROFSFS_TRY_ASSIGN(manifest m, parse_manifest(r.body, r.content_type));
    return fetched{std::move(m), actual};
  }

  void note(const std::string& url, const detail::oci_response& r, const std::string& what) {
    failure_ = "GET " + erofsfs::detail::http_redacted(url);
    if (r.status) failure_ += ": HTTP " + std::to_string(r.status);
    failure_ += ": " + what;
    if (r.status >= 300 && !r.body.empty()) {
      std::string text = r.body.substr(0, 200);
      for (char& ch : text)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7F) ch = ' ';
      failure_ += " (" + text + ")";
    }
  }

  reference ref_;
  registry_options opt_;
  credentials creds_;
  std::string base_;           // scheme://host/v2/<repository>
  std::string authorization_;  // "Authorization: ..." once authenticated
  std::string failure_;
  std::shared_ptr<curl_init> init_;
};

}  // namespace erofsfs::oci
