// I/O hooks (L3): the byte_source concept every device/blob reader satisfies, the type-erased
// source_ref the library stores, and memory_source.
//
// A source is anything with `std::error_code read_at(std::uint64_t, std::span<std::byte>) const
// noexcept` that fills the whole span or fails (no short reads). It must be callable
// concurrently on a const object: that is the library's whole thread-safety contract for I/O.
// Optional extras: `size()` (enables early range checks) and `bytes()` (all bytes addressable:
// metadata is then parsed in place, without copies).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>

#include "../base/bytes.hpp"
#include "../base/error.hpp"

namespace erofsfs {

template <class S>
concept byte_source = requires(const S& s, std::uint64_t offset, std::span<std::byte> dst) {
  { s.read_at(offset, dst) } noexcept -> std::same_as<std::error_code>;
};

template <class S>
concept sized_source = byte_source<S> && requires(const S& s) {
  { s.size() } noexcept -> std::same_as<std::uint64_t>;
};

template <class S>
concept contiguous_source = sized_source<S> && requires(const S& s) {
  { s.bytes() } noexcept -> std::same_as<std::span<const std::byte>>;
};

// Non-owning, trivially copyable handle to any byte_source. The source must outlive every
// source_ref (and every image) made from it.
class source_ref {
 public:
  source_ref() noexcept = default;

  template <byte_source S>
    requires(!std::same_as<S, source_ref>)
  source_ref(const S& s) noexcept  // NOLINT: implicit by design, sources are passed as-is
      : object_(&s), read_(&read_thunk<S>) {
    if constexpr (sized_source<S>) size_ = s.size();
    if constexpr (contiguous_source<S>) bytes_ = s.bytes();
  }

  explicit operator bool() const noexcept { return read_ != nullptr; }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!read_) return make_error_code(errc::no_device);
    return read_(object_, offset, dst);
  }
  std::optional<std::uint64_t> size() const noexcept { return size_; }
  // All bytes, when the source is contiguous; empty otherwise.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  bool contiguous() const noexcept { return bytes_.data() != nullptr; }

 private:
  using read_fn = std::error_code (*)(const void*, std::uint64_t, std::span<std::byte>) noexcept;
  template <class S>
  static std::error_code read_thunk(const void* o, std::uint64_t off,
                                    std::span<std::byte> dst) noexcept {
    return static_cast<const S*>(o)->read_at(off, dst);
  }

  const void* object_ = nullptr;
  read_fn read_ = nullptr;
  std::optional<std::uint64_t> size_;
  std::span<const std::byte> bytes_;
};

// Bytes already in memory (a loaded image, an mmap, a fuzzer input).
class memory_source {
 public:
  memory_source() noexcept = default;
  explicit memory_source(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}
  memory_source(const void* data, std::size_t size) noexcept
      : bytes_(static_cast<const std::byte*>(data), size) {}

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(offset, dst.size(), bytes_.size())) return make_error_code(errc::truncated);
    if (!dst.empty()) std::memcpy(dst.data(), bytes_.data() + offset, dst.size());
    return {};
  }
  std::uint64_t size() const noexcept { return bytes_.size(); }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  std::span<const std::byte> bytes_;
};

static_assert(contiguous_source<memory_source>);

}  // namespace erofsfs
