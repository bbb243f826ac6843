// erofsfs/io/oci/json.hpp alone: a document parsed and read, a bad one refused.
#include <erofsfs/io/oci/json.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  auto d = erofsfs::oci::json_document::parse(R"({"size":)" + std::to_string(in.bytes.size()) +
                                              R"(,"list":["a",true,null]})");
  HEADER_EXPECT(d);
  HEADER_EXPECT(d->root()["size"].u64() == std::optional<std::uint64_t>(in.bytes.size()));
  HEADER_EXPECT(d->root()["list"].items().size() == 3);
  HEADER_EXPECT(d->root()["list"].items()[0].string() == std::optional<std::string_view>("a"));
  HEADER_EXPECT(!erofsfs::oci::json_document::parse("{\"a\":1,\"a\":2}"));
  return 0;
}
