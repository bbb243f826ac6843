// A window of another source (L2): bytes [offset, offset + length) of `inner` seen as a source
// of their own, e.g. an EROFS image that starts at byte N of a partition dump or a container
// file. Every read is checked against the window before it is shifted, so no read reaches
// outside it and no position wraps around.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "../base/error_text.hpp"
#include "source.hpp"

namespace erofsfs {

class offset_source {
 public:
  offset_source() noexcept = default;

  // The window starts at `offset` of `inner` and runs for `length` bytes, or to the end of
  // `inner` when no length is given (then `inner` must have a size). The window must lie inside
  // `inner` when its size is known. `inner` is borrowed: its source must outlive this one.
  static result<offset_source> create(source_ref inner, std::uint64_t offset,
                                      std::optional<std::uint64_t> length = {}) noexcept {
    const std::optional<std::uint64_t> total = inner.size();
    if (!length && !total)
      return make_error(errc::invalid_argument,
                        what::offset_source_needs_a_sized_source_or_a_length, {.offset = offset});
    if (total && offset > *total)
      return make_error(errc::invalid_argument,
                        what::offset_source_window_past_the_end_of_its_source,
                        {.offset = offset, .value = *total});
    const std::uint64_t len = length ? *length : *total - offset;
    std::uint64_t end;
    if (!checked_add(offset, len, end) || (total && end > *total))
      return make_error(errc::invalid_argument,
                        what::offset_source_window_past_the_end_of_its_source,
                        {.offset = offset, .value = len});
    offset_source s;
    s.inner_ = inner;
    s.offset_ = offset;
    s.size_ = len;
    return s;
  }

  // Reads past the window are errc::truncated, like reads past the end of any source; inside
  // it, offset_ + off cannot overflow because offset_ + size_ did not (checked in create()).
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(off, dst.size(), size_)) return make_error_code(errc::truncated);
    return inner_.read_at(offset_ + off, dst);
  }
  std::uint64_t size() const noexcept { return size_; }
  // The window's bytes when the inner source is contiguous; empty otherwise (callers check
  // data() != nullptr, as source_ref::contiguous() does).
  std::span<const std::byte> bytes() const noexcept {
    const std::span<const std::byte> all = inner_.bytes();
    if (all.data() == nullptr || !in_bounds(offset_, size_, all.size())) return {};
    return all.subspan(static_cast<std::size_t>(offset_), static_cast<std::size_t>(size_));
  }
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  source_ref inner_;
  std::uint64_t offset_ = 0;
  std::uint64_t size_ = 0;
};

static_assert(contiguous_source<offset_source>);

}  // namespace erofsfs
