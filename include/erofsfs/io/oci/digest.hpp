// OCI content digests (L2, OCI support): "sha256:" and 64 lowercase hex digits, the only
// algorithm registries are required to support and the only one accepted here (other
// algorithms are refused by name rather than passed through unchecked).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"
#include "../../base/sha256.hpp"

namespace erofsfs::oci {

inline constexpr std::string_view sha256_prefix = "sha256:";

// True for "sha256:<64 lowercase hex>", exactly.
inline bool is_sha256_digest(std::string_view d) noexcept {
  if (d.size() != sha256_prefix.size() + 64 || d.substr(0, sha256_prefix.size()) != sha256_prefix)
    return false;
  for (const char c : d.substr(sha256_prefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The digest string or its named refusal: another algorithm is unsupported, anything else
// malformed.
inline status check_digest(std::string_view d) noexcept {
  if (is_sha256_digest(d)) return {};
  const std::size_t colon = d.find(':');
  if (colon != std::string_view::npos && colon > 0 && d.substr(0, colon) != "sha256")
    return make_error(errc::unsupported, what::oci_digest_algorithm_is_not_sha256);
  return make_error(errc::invalid_argument, what::oci_digest_is_malformed);
}

inline std::string sha256_digest_of(std::span<const std::byte> data) {
  return std::string(sha256_prefix) + sha256::of(data);
}

// Whole content against the digest that names it.
inline status verify_digest(std::span<const std::byte> data, std::string_view digest) {
  EROFSFS_TRY(check_digest(digest));
  if (sha256_digest_of(data) != digest)
    return make_error(errc::corrupted, what::oci_content_does_not_match_its_digest,
                      {.value = data.size()});
  return {};
}

}  // namespace erofsfs::oci
