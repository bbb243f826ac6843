// cachefiles on-demand wire protocol (L8): the request messages the kernel hands out on
// /dev/cachefiles, a validating parser, the reply commands and an encoder for test kernels.
//
// Messages are kernel UAPI structs (include/uapi/linux/cachefiles.h), so host-endian, not
// little-endian like the image. Every field is untrusted: the parser checks the header length
// against the bytes actually read and every payload size against that length before a key is
// looked at. Parsed views borrow the message buffer.
#pragma once

#include <sys/ioctl.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "../../base/bytes.hpp"
#include "../../base/error.hpp"

namespace erofsfs::fscache {

enum class opcode : std::uint32_t { open = 0, close = 1, read = 2 };

inline constexpr std::size_t msg_header_size = 16;   // struct cachefiles_msg
inline constexpr std::size_t open_header_size = 16;  // struct cachefiles_open (before keys)
inline constexpr std::size_t read_payload_size = 16; // struct cachefiles_read
inline constexpr std::size_t close_msg_size = msg_header_size;
inline constexpr std::size_t read_msg_size = msg_header_size + read_payload_size;
inline constexpr std::size_t open_msg_min_size = msg_header_size + open_header_size;
// CACHEFILES_MSG_MAX_SIZE: the kernel never builds a larger message, so a read buffer of this
// size always receives a whole one.
inline constexpr std::size_t max_msg_size = 1024;

// CACHEFILES_IOC_READ_COMPLETE = _IOW(0x98, 1, int); its argument is the msg_id value itself.
inline constexpr unsigned long ioc_read_complete = _IOW(0x98, 1, int);

// The "erofs," volume key prefix EROFS puts before its fsid or domain_id.
inline constexpr std::string_view erofs_volume_prefix = "erofs,";

struct msg_header {
  std::uint32_t msg_id = 0;
  std::uint32_t opcode = 0;
  std::uint32_t len = 0;
  std::uint32_t object_id = 0;
};

struct open_request {
  std::string_view volume_key;  // without its terminating NUL
  std::string_view cookie_key;  // binary bytes, exactly cookie_key_size of them
  std::int32_t fd = -1;         // anon fd the kernel installed in the reader's fd table
  std::uint32_t flags = 0;
};

struct read_request {
  std::uint64_t off = 0;
  std::uint64_t len = 0;
};

struct message {
  msg_header header;
  fscache::opcode op = opcode::close;
  open_request open;  // meaningful for opcode::open
  read_request read;  // meaningful for opcode::read
};

inline const char* opcode_name(opcode op) noexcept {
  switch (op) {
    case opcode::open: return "OPEN";
    case opcode::close: return "CLOSE";
    case opcode::read: return "READ";
  }
  return "?";
}

namespace detail {
template <class T>
T load_host(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store_host(std::byte* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}
inline error proto_error(const char* what, std::uint64_t offset = error::unknown,
                         std::uint64_t value = error::unknown) noexcept {
  return make_error(errc::protocol_error, what, {.offset = offset, .value = value});
}
}  // namespace detail

// The header alone, for callers that must answer a message whose payload is malformed (an
// OPEN that would otherwise leave the kernel waiting for its copen).
inline result<msg_header> parse_header(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < msg_header_size)
    return detail::proto_error("cachefiles message shorter than its header", 0, bytes.size());
  msg_header h;
  h.msg_id = detail::load_host<std::uint32_t>(bytes.data());
  h.opcode = detail::load_host<std::uint32_t>(bytes.data() + 4);
  h.len = detail::load_host<std::uint32_t>(bytes.data() + 8);
  h.object_id = detail::load_host<std::uint32_t>(bytes.data() + 12);
  return h;
}

// `bytes` is exactly what one read(2) of the device returned.
inline result<message> parse_message(std::span<const std::byte> bytes) noexcept {
  EROFSFS_TRY_ASSIGN(msg_header h, parse_header(bytes));
  if (h.len != bytes.size())
    return detail::proto_error("cachefiles message len differs from the bytes read", 8, h.len);
  message m;
  m.header = h;
  const std::byte* p = bytes.data() + msg_header_size;
  const std::size_t payload = bytes.size() - msg_header_size;
  switch (h.opcode) {
    case static_cast<std::uint32_t>(opcode::close):
      if (payload != 0)
        return detail::proto_error("cachefiles CLOSE message carries a payload", 8, h.len);
      m.op = opcode::close;
      return m;
    case static_cast<std::uint32_t>(opcode::read): {
      if (payload != read_payload_size)
        return detail::proto_error("cachefiles READ message has the wrong size", 8, h.len);
      m.op = opcode::read;
      m.read.off = detail::load_host<std::uint64_t>(p);
      m.read.len = detail::load_host<std::uint64_t>(p + 8);
      std::uint64_t end;
      if (!checked_add(m.read.off, m.read.len, end))
        return detail::proto_error("cachefiles READ range overflows", 16, m.read.off);
      return m;
    }
    case static_cast<std::uint32_t>(opcode::open): {
      if (payload < open_header_size)
        return detail::proto_error("cachefiles OPEN message shorter than its payload header", 8,
                                   h.len);
      m.op = opcode::open;
      const std::uint32_t vks = detail::load_host<std::uint32_t>(p);
      const std::uint32_t cks = detail::load_host<std::uint32_t>(p + 4);
      m.open.fd = detail::load_host<std::int32_t>(p + 8);
      m.open.flags = detail::load_host<std::uint32_t>(p + 12);
      const std::size_t keys = payload - open_header_size;
      std::uint64_t want;
      if (!checked_add(vks, cks, want) || want != keys)
        return detail::proto_error("cachefiles OPEN key sizes do not match the message length",
                                   16, want);
      if (vks == 0)
        return detail::proto_error("cachefiles OPEN volume key lacks its NUL", 16, vks);
      const char* data = reinterpret_cast<const char*>(p + open_header_size);
      if (data[vks - 1] != '\0')
        return detail::proto_error("cachefiles OPEN volume key is not NUL-terminated",
                                   msg_header_size + open_header_size + vks - 1);
      if (std::memchr(data, '\0', vks - 1) != nullptr)
        return detail::proto_error("cachefiles OPEN volume key has an embedded NUL",
                                   msg_header_size + open_header_size);
      if (m.open.fd < 0)
        return detail::proto_error("cachefiles OPEN carries a negative fd", 24,
                                   static_cast<std::uint32_t>(m.open.fd));
      m.open.volume_key = std::string_view(data, vks - 1);
      m.open.cookie_key = std::string_view(data + vks, cks);
      return m;
    }
    default:
      return detail::proto_error("cachefiles message has an unknown opcode", 4, h.opcode);
  }
}

// A reply command for write(2) on the device; fixed storage so replying never allocates.
class command {
 public:
  std::string_view view() const noexcept { return {buf_.data(), len_}; }

 private:
  friend command format_copen(std::uint32_t, std::uint64_t) noexcept;
  friend command format_copen_error(std::uint32_t, int) noexcept;
  void append(std::string_view s) noexcept {
    std::memcpy(buf_.data() + len_, s.data(), s.size());
    len_ += s.size();
  }
  template <class T>
  void append_num(T v) noexcept {
    auto r = std::to_chars(buf_.data() + len_, buf_.data() + buf_.size(), v);
    len_ = static_cast<std::size_t>(r.ptr - buf_.data());
  }
  std::array<char, 64> buf_{};  // "copen " + u32 + "," + i64 fits in 38
  std::size_t len_ = 0;
};

// "copen <msg_id>,<size>": the OPEN succeeded and the object is `size` bytes long. The kernel
// parses size as a signed long, so sizes above INT64_MAX cannot be expressed (callers clamp).
inline command format_copen(std::uint32_t msg_id, std::uint64_t size) noexcept {
  command c;
  c.append("copen ");
  c.append_num(msg_id);
  c.append(",");
  c.append_num(size);
  return c;
}

// "copen <msg_id>,-<errno>": the OPEN fails with that errno. The kernel accepts only
// [-4095, -1]; anything else would make the write itself fail, so it becomes EIO.
inline command format_copen_error(std::uint32_t msg_id, int errno_value) noexcept {
  if (errno_value <= 0 || errno_value > 4095) errno_value = EIO;
  command c;
  c.append("copen ");
  c.append_num(msg_id);
  c.append(",-");
  c.append_num(errno_value);
  return c;
}

// Re-delivers every pending request after a daemon restart (kernel 6.8+ failover).
inline constexpr std::string_view restore_command = "restore";

// The fsid/domain id inside an EROFS volume key ("erofs,<id>"), or empty if it is not one.
inline std::string_view erofs_volume_id(std::string_view volume_key) noexcept {
  if (volume_key.substr(0, erofs_volume_prefix.size()) != erofs_volume_prefix) return {};
  return volume_key.substr(erofs_volume_prefix.size());
}

// --- encoders: what the kernel would send; used by fake kernels, tests and fuzz seeds ---

// Returns the message size written into `out`, or an error if it does not fit.
inline result<std::size_t> encode_open(std::span<std::byte> out, std::uint32_t msg_id,
                                       std::uint32_t object_id, std::string_view volume_key,
                                       std::string_view cookie_key, std::int32_t fd) noexcept {
  const std::uint64_t size = open_msg_min_size + volume_key.size() + 1 + cookie_key.size();
  if (size > out.size() || size > max_msg_size)
    return make_error(errc::invalid_argument, what::open_message_does_not_fit, {.value = size});
  std::byte* p = out.data();
  detail::store_host<std::uint32_t>(p, msg_id);
  detail::store_host<std::uint32_t>(p + 4, static_cast<std::uint32_t>(opcode::open));
  detail::store_host<std::uint32_t>(p + 8, static_cast<std::uint32_t>(size));
  detail::store_host<std::uint32_t>(p + 12, object_id);
  detail::store_host<std::uint32_t>(p + 16, static_cast<std::uint32_t>(volume_key.size() + 1));
  detail::store_host<std::uint32_t>(p + 20, static_cast<std::uint32_t>(cookie_key.size()));
  detail::store_host<std::int32_t>(p + 24, fd);
  detail::store_host<std::uint32_t>(p + 28, 0);
  std::byte* d = p + open_msg_min_size;
  if (!volume_key.empty()) std::memcpy(d, volume_key.data(), volume_key.size());
  d[volume_key.size()] = std::byte{0};
  if (!cookie_key.empty()) std::memcpy(d + volume_key.size() + 1, cookie_key.data(), cookie_key.size());
  return static_cast<std::size_t>(size);
}

inline result<std::size_t> encode_read(std::span<std::byte> out, std::uint32_t msg_id,
                                       std::uint32_t object_id, std::uint64_t off,
                                       std::uint64_t len) noexcept {
  if (out.size() < read_msg_size)
    return make_error(errc::invalid_argument, what::read_message_does_not_fit);
  std::byte* p = out.data();
  detail::store_host<std::uint32_t>(p, msg_id);
  detail::store_host<std::uint32_t>(p + 4, static_cast<std::uint32_t>(opcode::read));
  detail::store_host<std::uint32_t>(p + 8, static_cast<std::uint32_t>(read_msg_size));
  detail::store_host<std::uint32_t>(p + 12, object_id);
  detail::store_host<std::uint64_t>(p + 16, off);
  detail::store_host<std::uint64_t>(p + 24, len);
  return read_msg_size;
}

inline result<std::size_t> encode_close(std::span<std::byte> out, std::uint32_t msg_id,
                                        std::uint32_t object_id) noexcept {
  if (out.size() < close_msg_size)
    return make_error(errc::invalid_argument, what::close_message_does_not_fit);
  std::byte* p = out.data();
  detail::store_host<std::uint32_t>(p, msg_id);
  detail::store_host<std::uint32_t>(p + 4, static_cast<std::uint32_t>(opcode::close));
  detail::store_host<std::uint32_t>(p + 8, static_cast<std::uint32_t>(close_msg_size));
  detail::store_host<std::uint32_t>(p + 12, object_id);
  return close_msg_size;
}

}  // namespace erofsfs::fscache
