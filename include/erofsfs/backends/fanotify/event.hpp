// fanotify event buffers (L8): the kernel ABI constants a pre-content daemon needs, and a
// bounds-checked parser for what read(2) on a fanotify descriptor returns. The buffer comes
// from the kernel, but a daemon must not crash or loop on a malformed one (a kernel bug, an ABI
// change, a fuzzer), so every length is checked and a bad buffer is an errc::protocol_error
// naming the broken rule and the byte offset in the buffer.
//
// Layouts (include/uapi/linux/fanotify.h, native byte order): fanotify_event_metadata is
// {u32 event_len, u8 vers, u8 reserved, u16 metadata_len, u64 mask, s32 fd, s32 pid} (24
// bytes); info records follow up to event_len, each starting with {u8 info_type, u8 pad, u16
// len}; the range record (type 6) is {header, u32 pad, u64 offset, u64 count} (24 bytes).
// These constants are spelled here rather than taken from <sys/fanotify.h> because Debian 12's
// headers predate FAN_PRE_ACCESS and the range record (Linux 6.14).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "../../base/bytes.hpp"
#include "../../base/error.hpp"

namespace erofsfs::fanotify {

namespace abi {
inline constexpr std::uint64_t q_overflow = 0x00004000;  // FAN_Q_OVERFLOW
inline constexpr std::uint64_t access_perm = 0x00020000;  // FAN_ACCESS_PERM
inline constexpr std::uint64_t pre_access = 0x00100000;   // FAN_PRE_ACCESS (Linux 6.14)
inline constexpr unsigned class_pre_content = 0x00000008; // FAN_CLASS_PRE_CONTENT
inline constexpr unsigned init_cloexec = 0x00000001;      // FAN_CLOEXEC
inline constexpr unsigned init_nonblock = 0x00000002;     // FAN_NONBLOCK
inline constexpr unsigned mark_add = 0x00000001;          // FAN_MARK_ADD
inline constexpr unsigned mark_remove = 0x00000002;       // FAN_MARK_REMOVE
inline constexpr std::uint8_t metadata_version = 3;       // FANOTIFY_METADATA_VERSION
inline constexpr std::size_t metadata_size = 24;          // FAN_EVENT_METADATA_LEN
inline constexpr std::size_t info_header_size = 4;        // fanotify_event_info_header
inline constexpr std::uint8_t info_type_range = 6;        // FAN_EVENT_INFO_TYPE_RANGE
inline constexpr std::size_t range_info_size = 24;        // fanotify_event_info_range
inline constexpr std::int32_t no_fd = -1;                 // FAN_NOFD
inline constexpr std::uint32_t allow = 0x01;              // FAN_ALLOW
inline constexpr std::uint32_t deny = 0x02;               // FAN_DENY
inline constexpr unsigned errno_shift = 24;               // FAN_ERRNO_SHIFT (32 - 8 bits)
inline constexpr std::uint32_t errno_mask = 0xff;         // FAN_ERRNO_MASK
// FAN_DENY_ERRNO(err): the reader's syscall fails with `err` instead of EPERM (Linux 6.14,
// pre-content groups only; the kernel accepts a short list, EIO among them).
constexpr std::uint32_t deny_errno(int err) noexcept {
  return deny | ((static_cast<std::uint32_t>(err) & errno_mask) << errno_shift);
}
// struct fanotify_response {s32 fd; u32 response;}
inline constexpr std::size_t response_size = 8;
}  // namespace abi

// Info records one event may carry before the parser calls the event malformed. Linux sends at
// most a handful (fid, dfid+name, pidfd, error, range); the cap bounds work on hostile input
// even though progress is already strictly monotone.
inline constexpr unsigned max_info_records = 32;

struct event {
  std::uint64_t mask = 0;
  std::int32_t fd = abi::no_fd;
  std::int32_t pid = 0;
  bool has_range = false;   // a FAN_EVENT_INFO_TYPE_RANGE record was present
  std::uint64_t offset = 0; // the accessed range, when has_range (offset + count cannot wrap)
  std::uint64_t count = 0;
  unsigned skipped_records = 0;  // info records of other types (fid, pidfd, ...), ignored
};

namespace detail {
template <class T>
inline T load_native(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace detail

// Parses the event at the start of `buf`; on success `used` is its event_len. `base` is the
// buffer position of buf[0], reported in errors.
inline result<event> parse_event(bytes_view buf, std::size_t& used, std::uint64_t base = 0) {
  using namespace abi;
  if (buf.size() < metadata_size)
    return make_error(errc::protocol_error, what::fanotify_event_shorter_than_its_metadata,
                      {.offset = base, .value = buf.size()});
  const std::byte* p = buf.data();
  const std::uint32_t event_len = detail::load_native<std::uint32_t>(p);
  const std::uint8_t vers = load_u8(p + 4);
  const std::uint16_t metadata_len = detail::load_native<std::uint16_t>(p + 6);
  if (vers != metadata_version)
    return make_error(errc::protocol_error, what::fanotify_metadata_version_is_not_3,
                      {.offset = base + 4, .value = vers});
  if (metadata_len < metadata_size)
    return make_error(errc::protocol_error, what::fanotify_metadata_len_shorter_than_the_metadata,
                      {.offset = base + 6, .value = metadata_len});
  if (event_len < metadata_len)
    return make_error(errc::protocol_error, what::fanotify_event_len_shorter_than_metadata_len,
                      {.offset = base, .value = event_len});
  if (event_len > buf.size())
    return make_error(errc::protocol_error, what::fanotify_event_len_past_the_end_of_the_buffer,
                      {.offset = base, .value = event_len});

  event e;
  e.mask = detail::load_native<std::uint64_t>(p + 8);
  e.fd = detail::load_native<std::int32_t>(p + 16);
  e.pid = detail::load_native<std::int32_t>(p + 20);

  std::size_t pos = metadata_len;
  // Bounded: each record advances pos by len >= info_header_size, and at most
  // max_info_records records are accepted.
  for (unsigned n = 0; pos < event_len; ++n) {
    if (n == max_info_records)
      return make_error(errc::protocol_error, what::too_many_fanotify_info_records,
                        {.offset = base + pos, .value = n});
    if (event_len - pos < info_header_size)
      return make_error(errc::protocol_error, what::fanotify_info_record_header_truncated,
                        {.offset = base + pos, .value = event_len - pos});
    const std::uint8_t type = load_u8(p + pos);
    const std::uint16_t len = detail::load_native<std::uint16_t>(p + pos + 2);
    if (len < info_header_size)
      return make_error(errc::protocol_error, what::fanotify_info_record_shorter_than_its_header,
                        {.offset = base + pos, .value = len});
    if (len > event_len - pos)
      return make_error(errc::protocol_error, what::fanotify_info_record_past_the_end_of_its_event,
                        {.offset = base + pos, .value = len});
    if (type == info_type_range) {
      if (len < range_info_size)
        return make_error(errc::protocol_error, what::fanotify_range_record_too_short,
                          {.offset = base + pos, .value = len});
      if (e.has_range)
        return make_error(errc::protocol_error, what::fanotify_event_with_two_range_records,
                          {.offset = base + pos});
      e.offset = detail::load_native<std::uint64_t>(p + pos + 8);
      e.count = detail::load_native<std::uint64_t>(p + pos + 16);
      std::uint64_t end;
      if (!checked_add(e.offset, e.count, end))
        return make_error(errc::protocol_error, what::fanotify_range_offset_count_overflows,
                          {.offset = base + pos + 8, .value = e.offset});
      e.has_range = true;
    } else {
      ++e.skipped_records;
    }
    pos += len;
  }
  used = event_len;
  return e;
}

// Walks the events of one read(2) result in order.
class event_reader {
 public:
  explicit event_reader(bytes_view buf) noexcept : buf_(buf) {}

  // true and `e` filled: one more event; false: the buffer is used up. An error leaves the
  // reader at the malformed event (the rest of the buffer cannot be framed).
  result<bool> next(event& e) {
    if (pos_ == buf_.size()) return false;
    std::size_t used = 0;
    EROFSFS_TRY_ASSIGN(e, parse_event(buf_.subspan(pos_), used, pos_));
    pos_ += used;  // used >= metadata_size: strictly monotone, bounded by the buffer
    return true;
  }
  std::size_t position() const noexcept { return pos_; }

 private:
  bytes_view buf_;
  std::size_t pos_ = 0;
};

// Writes one fanotify_response for `fd` to out[0..8) (native order).
inline void encode_response(std::int32_t fd, std::uint32_t response, std::byte* out) noexcept {
  std::memcpy(out, &fd, 4);
  std::memcpy(out + 4, &response, 4);
}

}  // namespace erofsfs::fanotify
