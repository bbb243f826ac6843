// Verity fuzz target: the input is both the data and the hash source (a tree appended to its
// data, as `veritysetup format --hash-offset` writes it); its last 8 bytes (little-endian) are
// the hash offset. The root hash is taken from the input's own top hash block, so reads get
// past the root into the lower levels and the data blocks. Whatever the bytes: no crash, no
// overflow, no unbounded work; a successful read returns exactly the source's bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <erofsfs/io/verity_source.hpp>

namespace {

using namespace erofsfs;

std::string hex_of(std::span<const std::uint8_t> d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t hash_offset = 0;
  std::memcpy(&hash_offset, data + size - 8, 8);
  const memory_source src(data, size - 8);
  verity_options opt;
  opt.hash_offset = hash_offset;
  opt.cache_blocks = 2;
  // First with any root, to learn the layout; then with the root the input itself implies.
  auto probe = verity_source::open(src, src, std::string(64, '0'), opt);
  if (!probe) return 0;
  const verity::tree& t = probe->tree();
  const verity::params& p = probe->params();
  std::vector<std::uint8_t> root(t.digest);
  if (t.levels == 0) {
    verity::block_digest(p, src.bytes().first(p.data_block_size), root);
  } else {
    const std::uint64_t top = t.level_start[t.levels - 1] * p.hash_block_size;
    verity::block_digest(p, src.bytes().subspan(top, p.hash_block_size), root);  // open() checked the size
  }
  auto v = verity_source::open(src, src, hex_of(root), opt);
  if (!v) std::abort();  // the same parameters opened a moment ago
  std::vector<std::byte> buf(3000);
  const std::uint64_t end = std::min<std::uint64_t>(v->size(), 1u << 20);
  for (std::uint64_t off = 0; off < end; off += 2999) {  // bounded: at most 1 MiB / 2999 reads
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - off));
    const auto part = std::span(buf).first(n);
    if (v->read(off, part) && std::memcmp(part.data(), src.bytes().data() + off, n) != 0)
      std::abort();
  }
  return 0;
}
