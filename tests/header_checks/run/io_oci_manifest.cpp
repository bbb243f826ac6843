// erofsfs/io/oci/manifest.hpp alone: a manifest naming the image file as an EROFS layer.
#include <erofsfs/io/oci/manifest.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  namespace oci = erofsfs::oci;
  const std::string layer = oci::sha256_digest_of(in.bytes);
  const std::string text = std::string(R"({"schemaVersion":2,"mediaType":")") + oci::media_type::oci_manifest +
                           R"(","config":{"mediaType":"x","digest":")" + layer + R"(","size":1},"layers":[)" +
                           R"({"mediaType":")" + oci::media_type::erofs_layer + R"(","digest":")" + layer +
                           R"(","size":)" + std::to_string(in.bytes.size()) + "}]}";
  auto m = oci::parse_manifest(text);
  HEADER_EXPECT(m && m->kind == oci::manifest::kind_t::image);
  HEADER_EXPECT(oci::erofs_layers(*m).size() == 1 && m->layers[0].size == in.bytes.size());
  HEADER_EXPECT(oci::layer_by_digest(*m, layer));
  HEADER_EXPECT(!oci::pick_platform(*m));
  HEADER_EXPECT(oci::parse_platform("linux/arm64/v8").has_value());
  return 0;
}
