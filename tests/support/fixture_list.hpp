// The fixture images as a list (tests/data/images/index.json, in its order) and every decoder
// the tests can use on them. Test-only.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <erofsfs/erofsfs.hpp>

// Every decoder this build has (EROFSFS_HAVE_LZMA/ZLIB/ZSTD from tests/CMakeLists.txt).
#include <erofsfs/codecs/all.hpp>

namespace erofsfs::test {

namespace detail {
inline std::string slurp_file(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace detail

// The image names in tests/data/images/index.json, in its order.
inline std::vector<std::string> fixture_names() {
  const std::string text = detail::slurp_file(std::string(EROFSFS_TEST_DATA) + "/images/index.json");
  std::vector<std::string> out;
  static constexpr std::string_view key = "\"name\": \"";
  for (std::size_t p = text.find(key); p != std::string::npos; p = text.find(key, p)) {
    p += key.size();
    const std::size_t q = text.find('"', p);
    if (q == std::string::npos) break;
    out.push_back(text.substr(p, q - p));
  }
  return out;
}

// Every decoder this build has: the built-in LZ4 plus the codec adapters whose libraries were
// found (support/codecs.hpp says which are missing).
inline const decompressor_table* all_decoders() { return &all_decompressors(); }

}  // namespace erofsfs::test
