// oci:// sources of the erofsfs tool (with libcurl): `oci://HOST[:PORT]/REPO[:TAG][@DIGEST]`
// names an image in a registry (io/oci/), and one of its layers is read lazily as the EROFS
// image or as a device. Which layer: `#sha256:...` after the reference, else --layer DIGEST (for
// IMG), else the first EROFS layer (application/vnd.erofs.layer.v1 or application/vnd.erofs).
// The layers after it are the devices of a metadata image when no --device is given (see
// device_layers). Loopback registries are spoken to in plain http, others in https, as docker
// does; credentials come from $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or
// ~/.docker/config.json.
#pragma once

namespace erofsfs::cli {
struct oci_image;  // opened_image holds one (as nullptr when built without libcurl)
}

#ifdef EROFSFS_HAVE_CURL

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <erofsfs/io/oci/registry.hpp>

#include "options.hpp"

namespace erofsfs::cli {

inline constexpr std::string_view oci_scheme = "oci://";

inline bool is_oci_url(std::string_view p) noexcept { return p.substr(0, oci_scheme.size()) == oci_scheme; }

// A resolved oci:// URL: the client (it holds the registry's Authorization), the image
// manifest, and the chosen layer.
struct oci_image {
  std::unique_ptr<oci::registry_client> client;
  oci::manifest image;
  std::size_t layer = 0;  // index into image.layers
};

// Resolves `url`; `layer_digest` (may be empty) chooses the layer when the URL has no
// `#digest`. Empty on success, else what failed, in words.
inline std::string resolve_oci(std::string_view url, std::string_view layer_digest,
                               const oci::platform& want, oci_image& out) {
  std::string_view rest = url.substr(oci_scheme.size());
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
    layer_digest = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
  }
  auto ref = oci::parse_reference(rest);
  if (!ref) return ref.error().message();
  oci::registry_options opt;
  opt.want_platform = want;
  auto c = oci::registry_client::connect(*ref, opt);
  if (!c) return c.error().message();
  out.client = std::make_unique<oci::registry_client>(std::move(*c));
  auto m = out.client->resolve();
  auto failed = [&](const error& e) {
    std::string s = e.message();
    if (!out.client->last_failure().empty()) s += " (" + out.client->last_failure() + ")";
    return s;
  };
  if (!m) return failed(m.error());
  out.image = std::move(m->image);
  for (std::size_t i = 0; i < out.image.layers.size(); ++i) {
    const oci::descriptor& d = out.image.layers[i];
    if (layer_digest.empty() ? oci::is_erofs_layer(d.media_type) : d.digest == layer_digest) {
      out.layer = i;
      return {};
    }
  }
  if (!layer_digest.empty()) {
    if (status st = oci::check_digest(layer_digest); !st) return st.error().message();
    return make_error(errc::not_found, what::oci_manifest_has_no_layer_with_the_digest).message() +
           " " + std::string(layer_digest);
  }
  return make_error(errc::not_found, what::oci_manifest_has_no_erofs_layer).message() +
         " (layers of other media types are chosen with --layer DIGEST)";
}

// The layers that are the devices of a metadata image with `tags` (its device table, in
// order): a layer whose digest's hex (or the digest itself) is the tag, else the next EROFS
// layer after the chosen one, in manifest order. Fewer layers than devices: the rest stay
// unmapped (the caller reports it).
inline std::vector<std::size_t> device_layers(const oci_image& o, const std::vector<std::string>& tags) {
  std::vector<std::size_t> out;
  std::vector<bool> used(o.image.layers.size(), false);
  used[o.layer] = true;
  std::size_t next = o.layer + 1;
  for (const std::string& tag : tags) {
    std::size_t pick = o.image.layers.size();
    for (std::size_t i = 0; i < o.image.layers.size() && !tag.empty(); ++i) {
      const std::string& d = o.image.layers[i].digest;
      if (!used[i] && (d == tag || d.substr(oci::sha256_prefix.size()) == tag)) pick = i;
    }
    while (pick == o.image.layers.size() && next < o.image.layers.size()) {  // bounded by layers
      if (!used[next] && oci::is_erofs_layer(o.image.layers[next].media_type)) pick = next;
      ++next;
    }
    if (pick == o.image.layers.size()) break;
    used[pick] = true;
    out.push_back(pick);
  }
  return out;
}

}  // namespace erofsfs::cli

#endif  // EROFSFS_HAVE_CURL
