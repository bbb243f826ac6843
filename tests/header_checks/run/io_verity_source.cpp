// erofsfs/io/verity_source.hpp alone: its entry points link and work on a tree built here for
// the image's first two blocks.
#include <erofsfs/io/verity_source.hpp>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"

namespace {
std::string hex(std::span<const std::uint8_t> d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}
}  // namespace

int header_check(const header_check_input& in) {
  namespace v = erofsfs::verity;
  constexpr std::size_t bs = 4096;
  HEADER_EXPECT(in.bytes.size() >= 2 * bs);
  std::vector<std::byte> data(in.bytes.begin(), in.bytes.begin() + 2 * bs);
  erofsfs::verity_options opt;
  opt.superblock = false;
  opt.params.data_blocks = 2;
  opt.params.salt_size = 2;
  opt.params.salt[0] = 0x12;
  opt.params.salt[1] = 0x34;
  // Two data blocks: one level-0 hash block with their digests, the root its digest.
  std::vector<std::byte> hash(bs);
  std::array<std::uint8_t, 32> d{};
  for (std::size_t b = 0; b < 2; ++b) {
    v::block_digest(opt.params, std::span<const std::byte>(data).subspan(b * bs, bs), d);
    std::memcpy(hash.data() + 32 * b, d.data(), 32);
  }
  v::block_digest(opt.params, hash, d);
  const std::string root = hex(d);
  std::array<std::uint8_t, 32> parsed{};
  HEADER_EXPECT(erofsfs::parse_hex(root, parsed) && parsed == d);
  HEADER_EXPECT(!erofsfs::parse_hex("zz", std::span(parsed).first(1)));

  const erofsfs::memory_source data_src(data), hash_src(hash);
  auto vs = erofsfs::verity_source::open(data_src, hash_src, root, opt);
  HEADER_EXPECT(vs && vs->size() == 2 * bs && vs->tree().levels == 1);
  HEADER_EXPECT(vs->params().data_blocks == 2);
  std::vector<std::byte> out(2 * bs);
  HEADER_EXPECT(!vs->read_at(0, out) && std::memcmp(out.data(), data.data(), out.size()) == 0);
  std::byte magic[4];
  HEADER_EXPECT(vs->read(1024, magic) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(vs->read_at(2 * bs - 1, magic));  // past the data area
  HEADER_EXPECT(vs->stats().data_blocks_verified == 3 && vs->stats().failures == 1);

  // A flipped data byte is caught and nothing unverified escapes.
  data[bs + 5] ^= std::byte{1};
  std::byte got[8];
  auto st = vs->read(bs, got);
  HEADER_EXPECT(!st && st.error().value == 1 && got[5] == std::byte{0});
  // A wrong root hash is caught at the tree.
  std::string bad = root;
  bad[0] = bad[0] == '0' ? '1' : '0';
  auto wrong = erofsfs::verity_source::open(data_src, hash_src, bad, opt);
  HEADER_EXPECT(wrong && wrong->read_at(0, got));
  HEADER_EXPECT(!erofsfs::verity_source::open(data_src, hash_src, "abc", opt));
  return 0;
}
