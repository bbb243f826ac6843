// dm-verity on-disk format (L1, hermetic: bytes in, values out): cryptsetup's 512-byte verity
// superblock, the parameters of a hash tree, the tree's layout and the salted digest.
//
// Facts, from the kernel's drivers/md/dm-verity-target.c and Documentation/admin-guide/
// device-mapper/verity.rst, and cryptsetup's lib/verity/verity.c and verity_hash.c:
// - The superblock (optional; `veritysetup format --no-superblock` omits it) sits at the hash
//   offset: "verity\0\0", version 1, hash_type, uuid, algorithm name, data and hash block sizes,
//   data block count, salt size and salt, little-endian. The kernel never reads it; cryptsetup
//   accepts block sizes that are powers of two in 512 B .. 512 KiB and salts up to 256 bytes.
// - The tree starts at the first hash block after the superblock (or at the hash offset without
//   one). Levels are stored top first: the single block of the highest level, then the next
//   level down, ..., level 0 last. Level 0 holds the digests of the data blocks, level i+1 the
//   digests of level i's hash blocks; the root hash is the digest of the top level's block.
// - levels = the smallest n with (data_blocks - 1) >> (n * bits) == 0, where bits =
//   floor(log2(hash_block_size / digest_size)) and a hash block holds 2^bits digests. So a
//   single data block has no tree at all: its digest is the root hash. At most 63 levels.
// - Format 1 (hash_type 1) stores each digest in a slot of hash_block_size >> bits bytes (the
//   digest rounded up to a power of two, zero padded) and hashes salt || block; format 0
//   (Chrome OS) packs digests back to back and hashes block || salt. Unused space is zeros;
//   every hash block is hashed whole, padding included.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../base/sha256.hpp"
#include "../base/sha512.hpp"

namespace erofsfs::verity {

inline constexpr std::size_t superblock_size = 512;
inline constexpr char signature[8] = {'v', 'e', 'r', 'i', 't', 'y', '\0', '\0'};
inline constexpr std::uint32_t superblock_version = 1;
inline constexpr std::uint32_t min_block_size = 512;
inline constexpr std::uint32_t max_block_size = 512u << 10;
inline constexpr std::size_t max_salt_size = 256;
inline constexpr unsigned max_levels = 63;  // DM_VERITY_MAX_LEVELS
inline constexpr std::size_t max_digest_size = 64;  // of the algorithms built in (sha512)

// Field offsets in the superblock (struct verity_sb, packed).
namespace sb {
inline constexpr std::size_t signature = 0, version = 8, hash_type = 12, uuid = 16,
                             algorithm = 32, data_block_size = 64, hash_block_size = 68,
                             data_blocks = 72, salt_size = 80, salt = 88;
inline constexpr std::size_t algorithm_size = 32, uuid_size = 16;
}  // namespace sb

// sha512 is what containerd's seekable EROFS layers embed (io/seekable_zstd_source.hpp).
enum class hash_algorithm { sha256, sha512 };

// The kernel's algorithm names; anything else is errc::unsupported.
inline result<hash_algorithm> algorithm_from_name(std::string_view name) noexcept {
  if (name == "sha256") return hash_algorithm::sha256;
  if (name == "sha512") return hash_algorithm::sha512;
  return unsupported(what::verity_hash_algorithm_not_supported);
}

constexpr std::size_t digest_size(hash_algorithm a) noexcept {
  switch (a) {
    case hash_algorithm::sha256: return sha256::digest_size;
    case hash_algorithm::sha512: return sha512::digest_size;
  }
  return 0;
}

// What describes a tree: from the superblock, or from the caller for --no-superblock trees.
struct params {
  std::uint32_t hash_type = 1;  // 1: salt prepended; 0: Chrome OS, salt appended
  hash_algorithm algorithm = hash_algorithm::sha256;
  std::uint32_t data_block_size = 4096;
  std::uint32_t hash_block_size = 4096;
  std::uint64_t data_blocks = 0;
  std::array<std::uint8_t, max_salt_size> salt{};
  std::size_t salt_size = 0;

  std::span<const std::uint8_t> salt_bytes() const noexcept {
    return std::span(salt).first(salt_size < max_salt_size ? salt_size : max_salt_size);
  }
  // Bytes of data the tree covers; only meaningful once check_params() passed.
  std::uint64_t data_size() const noexcept { return data_blocks * data_block_size; }
};

struct superblock {
  params p;
  std::array<std::uint8_t, sb::uuid_size> uuid{};
};

constexpr bool block_size_ok(std::uint32_t s) noexcept {
  return s >= min_block_size && s <= max_block_size && (s & (s - 1)) == 0;
}

// Every rule a tree's parameters must satisfy, whatever their origin.
inline status check_params(const params& p) noexcept {
  if (p.hash_type > 1) return corrupted(what::verity_hash_type_not_0_or_1, {.value = p.hash_type});
  if (!block_size_ok(p.data_block_size))
    return corrupted(what::verity_data_block_size_invalid, {.value = p.data_block_size});
  if (!block_size_ok(p.hash_block_size))
    return corrupted(what::verity_hash_block_size_invalid, {.value = p.hash_block_size});
  if (p.salt_size > max_salt_size)
    return corrupted(what::verity_salt_larger_than_256_bytes, {.value = p.salt_size});
  // The kernel's "Digest size too big": a hash block must hold two digests to make a tree.
  if (p.hash_block_size < 2 * digest_size(p.algorithm))
    return corrupted(what::verity_hash_block_size_below_two_digests, {.value = p.hash_block_size});
  if (p.data_blocks == 0) return corrupted(what::verity_data_block_count_is_zero);
  std::uint64_t bytes;
  if (!checked_mul(p.data_blocks, p.data_block_size, bytes))
    return corrupted(what::verity_data_area_overflows, {.value = p.data_blocks});
  return {};
}

// Parses and checks the 512-byte superblock.
inline result<superblock> parse_superblock(bytes_view raw) noexcept {
  if (raw.size() < superblock_size ||
      std::memcmp(raw.data() + sb::signature, signature, sizeof signature) != 0)
    return corrupted(what::verity_superblock_signature_missing);
  const std::byte* b = raw.data();
  const std::uint32_t version = load_le32(b + sb::version);
  if (version != superblock_version)
    return corrupted(what::verity_superblock_version_not_1, {.offset = sb::version, .value = version});
  superblock out;
  params& p = out.p;
  p.hash_type = load_le32(b + sb::hash_type);
  p.data_block_size = load_le32(b + sb::data_block_size);
  p.hash_block_size = load_le32(b + sb::hash_block_size);
  p.data_blocks = load_le64(b + sb::data_blocks);
  p.salt_size = load_le16(b + sb::salt_size);
  if (p.salt_size > max_salt_size)  // checked before the copy below
    return corrupted(what::verity_salt_larger_than_256_bytes,
                     {.offset = sb::salt_size, .value = p.salt_size});
  std::memcpy(p.salt.data(), b + sb::salt, p.salt_size);
  std::memcpy(out.uuid.data(), b + sb::uuid, sb::uuid_size);
  const char* name = reinterpret_cast<const char*>(b + sb::algorithm);
  const void* nul = std::memchr(name, 0, sb::algorithm_size);
  if (!nul) return corrupted(what::verity_algorithm_name_not_nul_terminated, {.offset = sb::algorithm});
  EROFSFS_TRY_ASSIGN(p.algorithm,
                     algorithm_from_name(std::string_view(name, static_cast<const char*>(nul) - name)));
  EROFSFS_TRY(check_params(p));
  return out;
}

// The first hash block of the tree (in hash blocks from the start of the hash source), for a
// tree whose superblock, or (without one) whose first block, is at byte `hash_offset`.
inline result<std::uint64_t> first_hash_block(std::uint64_t hash_offset, std::uint32_t hash_block_size,
                                              bool has_superblock) noexcept {
  if (!has_superblock) {
    if (hash_offset % hash_block_size != 0)
      return make_error(errc::invalid_argument, what::verity_hash_offset_not_aligned,
                        {.offset = hash_offset});
    return hash_offset / hash_block_size;
  }
  if (hash_offset % 512 != 0)
    return make_error(errc::invalid_argument, what::verity_hash_offset_not_aligned,
                      {.offset = hash_offset});
  std::uint64_t end, rounded;
  if (!checked_add(hash_offset, superblock_size, end) ||
      !checked_round_up(end, hash_block_size, rounded))
    return corrupted(what::verity_hash_area_overflows, {.offset = hash_offset});
  return rounded / hash_block_size;
}

// Where a digest sits in the tree.
struct digest_position {
  std::uint64_t hash_block;  // absolute, in hash blocks from the start of the hash source
  std::uint32_t offset;      // byte offset of the digest inside that block
};

// The layout of one tree, computed once from checked parameters.
struct tree {
  unsigned levels = 0;
  unsigned bits = 0;           // log2 of the digests per hash block
  std::size_t digest = 0;      // digest size in bytes
  std::uint32_t stride = 0;    // bytes between digests in a hash block
  std::array<std::uint64_t, max_levels> level_start{};   // first hash block of each level
  std::array<std::uint64_t, max_levels> level_blocks{};  // hash blocks in each level
  std::uint64_t end_block = 0;  // one past the tree's last hash block

  // The digest of data block `block` (level 0) or of the level-(level-1) hash block holding it.
  digest_position position(unsigned level, std::uint64_t block) const noexcept {
    const std::uint64_t at = block >> (level * bits);  // level * bits < 64: see make_tree
    const std::uint64_t index = at & ((std::uint64_t{1} << bits) - 1);
    return {level_start[level] + (at >> bits), static_cast<std::uint32_t>(index * stride)};
  }
};

inline result<tree> make_tree(const params& p, std::uint64_t first_block) noexcept {
  EROFSFS_TRY(check_params(p));
  tree t;
  t.digest = digest_size(p.algorithm);
  const std::uint32_t per_block = p.hash_block_size / static_cast<std::uint32_t>(t.digest);
  while ((per_block >> (t.bits + 1)) != 0) ++t.bits;  // floor(log2): bounded by 32 steps
  t.stride = p.hash_block_size >> t.bits;
  // Bounded: bits >= 1 (two digests per block), so at most 64 passes.
  while (t.bits * t.levels < 64 && ((p.data_blocks - 1) >> (t.bits * t.levels)) != 0) ++t.levels;
  if (t.levels > max_levels)
    return corrupted(what::verity_tree_deeper_than_63_levels, {.value = t.levels});
  std::uint64_t at = first_block;
  for (unsigned i = t.levels; i-- > 0;) {  // top level first
    const unsigned shift = (i + 1) * t.bits;
    // Blocks of level i: data_blocks / 2^shift rounded up (shift may reach 64 at the top).
    const std::uint64_t n = shift >= 64 ? 1
                                        : (p.data_blocks >> shift) +
                                              ((p.data_blocks & ((std::uint64_t{1} << shift) - 1)) != 0);
    t.level_start[i] = at;
    t.level_blocks[i] = n;
    if (!checked_add(at, n, at)) return corrupted(what::verity_hash_area_overflows, {.value = i});
  }
  std::uint64_t end_bytes;
  if (!checked_mul(at, p.hash_block_size, end_bytes))
    return corrupted(what::verity_hash_area_overflows, {.value = at});
  t.end_block = at;
  return t;
}

template <class Hash>
void salted_digest(const params& p, bytes_view block, std::span<std::uint8_t> out) noexcept {
  Hash h;
  const bytes_view salt = std::as_bytes(p.salt_bytes());
  if (p.hash_type == 1) h.update(salt);
  h.update(block);
  if (p.hash_type == 0) h.update(salt);
  const auto d = h.digest();
  std::memcpy(out.data(), d.data(), out.size() < d.size() ? out.size() : d.size());
}

// The tree's digest of one block (a data block, or a whole hash block): format 1 hashes
// salt || block, format 0 block || salt. `out` receives digest_size(p.algorithm) bytes.
inline void block_digest(const params& p, bytes_view block, std::span<std::uint8_t> out) noexcept {
  switch (p.algorithm) {
    case hash_algorithm::sha256: return salted_digest<sha256>(p, block, out);
    case hash_algorithm::sha512: return salted_digest<sha512>(p, block, out);
  }
}

}  // namespace erofsfs::verity
