// erofsfs/backends/fanotify/event.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fanotify/event.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  // A FAN_PRE_ACCESS event without info records, in the kernel's layout (host byte order).
  std::byte buf[erofsfs::fanotify::abi::metadata_size] = {};
  const std::uint32_t len = erofsfs::fanotify::abi::metadata_size;
  const std::uint64_t mask = erofsfs::fanotify::abi::pre_access;
  const std::int32_t fd = 5, pid = 1;
  std::memcpy(buf, &len, 4);
  buf[4] = std::byte{erofsfs::fanotify::abi::metadata_version};
  const std::uint16_t metadata_len = erofsfs::fanotify::abi::metadata_size;
  std::memcpy(buf + 6, &metadata_len, 2);
  std::memcpy(buf + 8, &mask, 8);
  std::memcpy(buf + 16, &fd, 4);
  std::memcpy(buf + 20, &pid, 4);
  std::size_t used = 0;
  auto e = erofsfs::fanotify::parse_event(buf, used);
  HEADER_EXPECT(e && used == sizeof buf && e->fd == 5);
  erofsfs::fanotify::event_reader r(buf);
  erofsfs::fanotify::event again;
  auto more = r.next(again);
  HEADER_EXPECT(more && *more && r.position() == sizeof buf);
  std::byte response[erofsfs::fanotify::abi::response_size];
  erofsfs::fanotify::encode_response(5, erofsfs::fanotify::abi::deny_errno(EIO), response);
  return 0;
}
