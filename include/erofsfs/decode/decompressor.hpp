// Codec hooks (L5): the request a decoder receives, the decompressor concept, its type-erased
// reference, and the per-algorithm table an image is opened with (open_options::decompressors).
//
// A decoder turns one complete compressed stream (the pcluster with EROFS's leading zero
// padding already removed, compression.md §2.1) into the first out.size() bytes of the extent.
// Decoders must be callable concurrently on a const object and must never read or write
// outside the spans they are given.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <system_error>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../format/disk.hpp"
#include "../format/superblock.hpp"

namespace erofsfs {

struct decode_request {
  bytes_view in;       // the exact compressed stream
  mutable_bytes out;   // receives decoded bytes [0, out.size()) of the extent
  // false ("full"): the stream must decode to exactly out.size() bytes and end there.
  // true ("partial"): stop once out is full; the stream may go on.
  bool partial = false;
  std::uint8_t algorithm = 0;
  const compression_configs* config = nullptr;  // the image's per-algorithm settings
};

template <class D>
concept decompressor = requires(const D& d, const decode_request& r) {
  { d.decode(r) } noexcept -> std::same_as<std::error_code>;
};

// Non-owning handle to any decompressor; the decoder must outlive the images using it.
class decompressor_ref {
 public:
  decompressor_ref() noexcept = default;
  template <decompressor D>
    requires(!std::same_as<D, decompressor_ref>)
  decompressor_ref(const D& d) noexcept  // NOLINT: implicit, like source_ref
      : object_(&d), decode_(&thunk<D>) {}

  explicit operator bool() const noexcept { return decode_ != nullptr; }
  std::error_code decode(const decode_request& r) const noexcept {
    if (!decode_) return make_error_code(errc::unsupported);
    return decode_(object_, r);
  }

 private:
  using decode_fn = std::error_code (*)(const void*, const decode_request&) noexcept;
  template <class D>
  static std::error_code thunk(const void* o, const decode_request& r) noexcept {
    return static_cast<const D*>(o)->decode(r);
  }
  const void* object_ = nullptr;
  decode_fn decode_ = nullptr;
};

// Decoders by on-disk algorithm id (0 lz4, 1 lzma, 2 deflate, 3 zstd). An image that needs an
// empty slot fails with errc::unsupported naming the algorithm.
struct decompressor_table {
  std::array<decompressor_ref, disk::compression_max> by_algorithm{};

  decompressor_table& set(std::uint8_t algorithm, decompressor_ref d) noexcept {
    if (algorithm < by_algorithm.size()) by_algorithm[algorithm] = d;
    return *this;
  }
  decompressor_ref get(std::uint8_t algorithm) const noexcept {
    return algorithm < by_algorithm.size() ? by_algorithm[algorithm] : decompressor_ref{};
  }
};

}  // namespace erofsfs
