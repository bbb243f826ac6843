// Per-thread scratch state for reading (L5). Reads on a const image are thread-safe as long as
// each thread passes its own read_context. The buffers grow to the largest pcluster/extent met
// (bounded by the format: 1 MiB encoded, 12 MiB decoded) and are then reused, so steady-state
// reading does not allocate. With a shared_cache, decoded extents live in that cache instead
// (one buffer per decode) and this context holds only the one it last read from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "decoded_cache.hpp"

namespace erofsfs {

class read_context {
 public:
  read_context() = default;

  // Compressed reads: the pcluster bytes, and the decoded extent they last produced. The
  // decoded extent doubles as a one-entry cache, so sequential reads inside one extent decode
  // it once.
  std::vector<std::byte> encoded;
  std::vector<std::byte> decoded;
  struct decoded_key {
    // The identity token of the image the extent belongs to. Holding it keeps the token alive,
    // so no other image can ever compare equal to it, even one created at the same address.
    std::shared_ptr<const void> image;
    std::uint64_t nid = ~std::uint64_t{0};
    std::uint64_t logical = ~std::uint64_t{0};
    std::uint64_t length = 0;  // bytes of `decoded` that are valid (a prefix of the extent)
    std::uint64_t physical = ~std::uint64_t{0};  // where the pcluster was read from
  } decoded_for;

  // Optional, borrowed (it must outlive the context): the decoded-pcluster cache shared with
  // other readers. Null: only the one-extent cache above.
  decoded_cache* shared_cache = nullptr;
  // The shared cache's entry this context last read from, so reads inside one extent go
  // without a lookup (and the bytes stay valid even if the cache evicts them meanwhile), and
  // the identity token of its image: held here too, so that no later image can take the
  // token's address while the key still names it.
  decoded_ref shared_held;
  decoded_cache_key shared_held_key;
  std::shared_ptr<const void> shared_held_image;

  // Metadata blocks copied out of a non-contiguous source (directory blocks during lookups).
  std::vector<std::byte> scratch;

  // false: never serve a read from the previous decode (memory-tight callers that read each
  // extent once, or sources whose bytes change); every compressed read decodes afresh.
  bool keep_decoded = true;

  // Forget cached decoded data (e.g. after the underlying source changed).
  void invalidate() noexcept {
    decoded_for = {};
    shared_held = nullptr;
    shared_held_key = {};
    shared_held_image = nullptr;
  }
  // Forget it and give the buffers' memory back.
  void release() noexcept {
    invalidate();
    encoded = std::vector<std::byte>();
    decoded = std::vector<std::byte>();
    scratch = std::vector<std::byte>();
  }
};

}  // namespace erofsfs
