// erofsfs/format/verity.hpp alone: its entry points link and work on a hand-made superblock.
#include <erofsfs/format/verity.hpp>

#include <array>
#include <cstring>

#include "check.hpp"

namespace {
void put32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
}  // namespace

int header_check(const header_check_input& in) {
  namespace v = erofsfs::verity;
  std::array<std::byte, v::superblock_size> raw{};
  std::memcpy(raw.data(), v::signature, sizeof v::signature);
  put32(raw.data() + v::sb::version, 1);
  put32(raw.data() + v::sb::hash_type, 1);
  std::memcpy(raw.data() + v::sb::algorithm, "sha256", 6);
  put32(raw.data() + v::sb::data_block_size, 4096);
  put32(raw.data() + v::sb::hash_block_size, 4096);
  const std::uint64_t blocks = 300;  // 3 level-0 hash blocks of 128 digests, one on top
  put32(raw.data() + v::sb::data_blocks, static_cast<std::uint32_t>(blocks));
  raw[v::sb::salt_size] = std::byte{2};
  raw[v::sb::salt] = std::byte{0xab};
  raw[v::sb::salt + 1] = std::byte{0xcd};
  raw[v::sb::uuid] = std::byte{0x42};
  auto sb = v::parse_superblock(raw);
  HEADER_EXPECT(sb && sb->p.hash_type == 1 && sb->p.data_blocks == blocks);
  HEADER_EXPECT(sb->p.salt_bytes().size() == 2 && sb->p.salt_bytes()[1] == 0xcd);
  HEADER_EXPECT(sb->uuid[0] == 0x42 && sb->p.data_size() == blocks * 4096);
  HEADER_EXPECT(v::check_params(sb->p));
  HEADER_EXPECT(v::algorithm_from_name("sha256") && !v::algorithm_from_name("md5"));
  HEADER_EXPECT(v::digest_size(v::hash_algorithm::sha256) == 32);
  HEADER_EXPECT(v::block_size_ok(512) && !v::block_size_ok(1000) && !v::block_size_ok(256));

  // The tree after the superblock at 0 starts at hash block 1: top level first, level 0 last.
  auto first = v::first_hash_block(0, 4096, true);
  HEADER_EXPECT(first && *first == 1);
  HEADER_EXPECT(!v::first_hash_block(100, 4096, false));
  auto t = v::make_tree(sb->p, *first);
  HEADER_EXPECT(t && t->levels == 2 && t->bits == 7 && t->stride == 32 && t->digest == 32);
  HEADER_EXPECT(t->level_start[1] == 1 && t->level_blocks[1] == 1);
  HEADER_EXPECT(t->level_start[0] == 2 && t->level_blocks[0] == 3 && t->end_block == 5);
  const v::digest_position p = t->position(0, 129);
  HEADER_EXPECT(p.hash_block == 3 && p.offset == 32);
  HEADER_EXPECT(t->position(1, 129).hash_block == 1 && t->position(1, 129).offset == 32);

  // Salted digests: format 1 prepends the salt, format 0 appends it.
  std::array<std::uint8_t, 32> d1{}, d0{};
  v::block_digest(sb->p, in.bytes.first(4096), d1);
  v::params p0 = sb->p;
  p0.hash_type = 0;
  v::block_digest(p0, in.bytes.first(4096), d0);
  HEADER_EXPECT(d1 != d0);
  erofsfs::sha256 h;
  h.update(std::as_bytes(sb->p.salt_bytes()));
  h.update(in.bytes.first(4096));
  HEADER_EXPECT(h.digest() == d1);

  // Damaged superblocks are refused.
  raw[0] = std::byte{'x'};
  HEADER_EXPECT(!v::parse_superblock(raw));
  raw[0] = std::byte{'v'};
  put32(raw.data() + v::sb::hash_block_size, 1000);
  HEADER_EXPECT(!v::parse_superblock(raw));
  return 0;
}
