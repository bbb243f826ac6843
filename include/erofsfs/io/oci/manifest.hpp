// Image manifests and indexes (L2, OCI support): the OCI image manifest and index and their
// Docker v2 schema 2 twins (manifest, manifest list), parsed from the bytes a registry sent
// (json.hpp), with every descriptor checked: a media type, a sha256 digest (digest.hpp) and a
// size below 2^63. Then: the manifest of an index for a platform, and the EROFS layers of a
// manifest by media type or by digest. Format facts only, no network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../base/error.hpp"
#include "../../base/error_text.hpp"
#include "digest.hpp"
#include "json.hpp"

namespace erofsfs::oci {

namespace media_type {
inline constexpr char oci_manifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char oci_index[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char docker_manifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char docker_manifest_list[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char oci_config[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char oci_empty[] = "application/vnd.oci.empty.v1+json";
// EROFS layers: an uncompressed EROFS image (containerd's name and the short one), and
// containerd's seekable zstd layer (the image in independent zstd frames plus a chunk table).
inline constexpr char erofs_layer[] = "application/vnd.erofs.layer.v1";
inline constexpr char erofs[] = "application/vnd.erofs";
inline constexpr char erofs_layer_zstd[] = "application/vnd.erofs.layer.v1+zstd";
}  // namespace media_type

// The four manifest media types, comma-separated, for an Accept header.
inline constexpr char manifest_accept[] =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

// A layer whose bytes are an EROFS image as they are.
inline bool is_plain_erofs_layer(std::string_view mt) noexcept {
  return mt == media_type::erofs_layer || mt == media_type::erofs;
}
inline bool is_seekable_zstd_layer(std::string_view mt) noexcept {
  return mt == media_type::erofs_layer_zstd;
}
inline bool is_erofs_layer(std::string_view mt) noexcept {
  return is_plain_erofs_layer(mt) || is_seekable_zstd_layer(mt);
}

struct platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;  // empty: any
};

struct descriptor {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
  std::vector<std::pair<std::string, std::string>> annotations;
  std::optional<platform> for_platform;  // index entries only

  std::string_view annotation(std::string_view key) const noexcept {
    for (const auto& kv : annotations)
      if (kv.first == key) return kv.second;
    return {};
  }
};

// A manifest or an index, as `kind` says: an image has config and layers, an index manifests.
struct manifest {
  enum class kind_t { image, index } kind = kind_t::image;
  std::string media_type;
  descriptor config;
  std::vector<descriptor> layers;
  std::vector<descriptor> manifests;
};

inline bool is_index_media_type(std::string_view mt) noexcept {
  return mt == media_type::oci_index || mt == media_type::docker_manifest_list;
}
inline bool is_image_media_type(std::string_view mt) noexcept {
  return mt == media_type::oci_manifest || mt == media_type::docker_manifest;
}

namespace detail {

inline error manifest_malformed(const char* what) noexcept {
  return make_error(errc::protocol_error, what);
}

inline result<descriptor> parse_descriptor(json_ref j) {
  descriptor d;
  const auto mt = j["mediaType"].string();
  const auto dg = j["digest"].string();
  const auto size = j["size"].u64();
  if (!j.is(json_kind::object) || !mt || !dg || !size)
    return manifest_malformed(what::oci_descriptor_lacks_media_type_digest_or_size);
  if (mt->empty() || mt->size() > 255)
    return manifest_malformed(what::oci_descriptor_media_type_is_malformed);
  EROFSFS_TRY(check_digest(*dg));
  if (*size > (std::uint64_t{1} << 63))
    return make_error(errc::limit_exceeded, what::oci_descriptor_size_above_2_63, {.value = *size});
  d.media_type = std::string(*mt);
  d.digest = std::string(*dg);
  d.size = *size;
  const json_ref ann = j["annotations"];
  if (!ann.is(json_kind::missing)) {
    if (!ann.is(json_kind::object)) return manifest_malformed(what::oci_annotations_are_not_strings);
    for (const json_ref a : ann.items()) {
      const auto v = a.string();
      if (!v) return manifest_malformed(what::oci_annotations_are_not_strings);
      d.annotations.emplace_back(std::string(a.key()), std::string(*v));
    }
  }
  const json_ref p = j["platform"];
  if (!p.is(json_kind::missing)) {
    const auto os = p["os"].string();
    const auto arch = p["architecture"].string();
    if (!os || !arch) return manifest_malformed(what::oci_platform_lacks_os_or_architecture);
    platform pl{std::string(*os), std::string(*arch), {}};
    if (const auto v = p["variant"].string()) pl.variant = std::string(*v);
    d.for_platform = std::move(pl);
  }
  return d;
}

}  // namespace detail

// Parses a manifest or index. `content_type` is the registry's Content-Type (may be empty);
// the document's own mediaType wins, but when both are present they must agree.
inline result<manifest> parse_manifest(std::string_view bytes, std::string_view content_type = {}) {
  EROFSFS_TRY_ASSIGN(json_document doc, json_document::parse(bytes));
  const json_ref root = doc.root();
  if (!root.is(json_kind::object)) return detail::manifest_malformed(what::oci_manifest_is_not_an_object);
  if (root["schemaVersion"].u64() != std::optional<std::uint64_t>(2))
    return make_error(errc::unsupported, what::oci_manifest_schema_version_is_not_2);
  // Content-Type may carry parameters ("; charset=utf-8").
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  manifest m;
  const json_ref mtj = root["mediaType"];
  if (const auto mt = mtj.string()) {
    if (!content_type.empty() && (is_index_media_type(content_type) || is_image_media_type(content_type)) &&
        content_type != *mt)
      return detail::manifest_malformed(what::oci_manifest_media_type_differs_from_content_type);
    m.media_type = std::string(*mt);
  } else if (!mtj.is(json_kind::missing)) {
    return detail::manifest_malformed(what::oci_manifest_is_not_an_object);
  } else {
    m.media_type = std::string(content_type);
  }
  if (m.media_type.empty()) {  // OCI allows omitting it: tell by the fields
    m.media_type = root["manifests"].is(json_kind::array) ? media_type::oci_index : media_type::oci_manifest;
  }
  if (is_index_media_type(m.media_type)) {
    m.kind = manifest::kind_t::index;
    const json_ref list = root["manifests"];
    if (!list.is(json_kind::array)) return detail::manifest_malformed(what::oci_index_has_no_manifests_array);
    for (const json_ref e : list.items()) {
      EROFSFS_TRY_ASSIGN(descriptor d, detail::parse_descriptor(e));
      m.manifests.push_back(std::move(d));
    }
    return m;
  }
  if (!is_image_media_type(m.media_type))
    return make_error(errc::unsupported, what::oci_manifest_media_type_is_not_supported);
  const json_ref layers = root["layers"];
  if (!layers.is(json_kind::array)) return detail::manifest_malformed(what::oci_manifest_has_no_layers_array);
  EROFSFS_TRY_ASSIGN(m.config, detail::parse_descriptor(root["config"]));
  for (const json_ref e : layers.items()) {
    EROFSFS_TRY_ASSIGN(descriptor d, detail::parse_descriptor(e));
    m.layers.push_back(std::move(d));
  }
  return m;
}

// The first entry of an index for `want` (os and architecture equal; the variant too when
// `want` names one), as the registry listed them.
inline result<descriptor> pick_platform(const manifest& index, const platform& want = {}) {
  for (const descriptor& d : index.manifests) {
    if (!d.for_platform || !is_image_media_type(d.media_type)) continue;
    const platform& p = *d.for_platform;
    if (p.os == want.os && p.architecture == want.architecture &&
        (want.variant.empty() || p.variant == want.variant))
      return d;
  }
  return make_error(errc::not_found, what::oci_index_has_no_manifest_for_the_platform);
}

// "linux/amd64" or "linux/arm64/v8"; nullopt when malformed.
inline std::optional<platform> parse_platform(std::string_view s) {
  platform p;
  const std::size_t a = s.find('/');
  if (a == std::string_view::npos || a == 0) return std::nullopt;
  p.os = std::string(s.substr(0, a));
  s = s.substr(a + 1);
  const std::size_t b = s.find('/');
  p.architecture = std::string(s.substr(0, b));
  if (b != std::string_view::npos) p.variant = std::string(s.substr(b + 1));
  if (p.architecture.empty() || (b != std::string_view::npos && p.variant.empty()) ||
      p.variant.find('/') != std::string::npos)
    return std::nullopt;
  return p;
}

// The image's EROFS layers (by media type) in manifest order.
inline std::vector<descriptor> erofs_layers(const manifest& m) {
  std::vector<descriptor> out;
  for (const descriptor& d : m.layers)
    if (is_erofs_layer(d.media_type)) out.push_back(d);
  return out;
}

// The layer with `digest`, whatever its media type (the caller chose it).
inline result<descriptor> layer_by_digest(const manifest& m, std::string_view digest) {
  EROFSFS_TRY(check_digest(digest));
  for (const descriptor& d : m.layers)
    if (d.digest == digest) return d;
  return make_error(errc::not_found, what::oci_manifest_has_no_layer_with_the_digest);
}

}  // namespace erofsfs::oci
