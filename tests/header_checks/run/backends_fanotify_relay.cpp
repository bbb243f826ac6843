// erofsfs/backends/fanotify/relay.hpp alone: its message codec, the worker's receive side and
// the holder's bookkeeping link and work over a socketpair (no fanotify group needed).
#include <erofsfs/backends/fanotify/relay.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "check.hpp"

namespace {
namespace fa = erofsfs::fanotify;

int check(const header_check_input& in, int a, int b) {
  fa::event e;
  e.mask = 0x100000;
  e.pid = 42;
  e.has_range = true;
  e.offset = 4096;
  e.count = 8192;
  std::byte msg[fa::relay::event_size];
  fa::relay::encode_event(7, e, msg);
  std::int32_t id = -1;
  auto back = fa::relay::decode_event(msg, id);
  HEADER_EXPECT(back && id == 7 && back->mask == e.mask && back->pid == 42 && back->has_range);
  HEADER_EXPECT(back->offset == 4096 && back->count == 8192);
  HEADER_EXPECT(!fa::relay::decode_event(std::span(msg, 12), id));
  std::byte answer[fa::relay::answer_size];
  const std::uint32_t eio = fa::abi::deny | (std::uint32_t{EIO} << fa::abi::errno_shift);
  fa::relay::encode_answer(9, eio, answer);
  auto resp = fa::relay::decode_answer(answer, id);
  HEADER_EXPECT(resp && *resp == eio && id == 9);
  HEADER_EXPECT(fa::relay::valid_response(fa::abi::allow) && !fa::relay::valid_response(0x7));
  fa::relay::encode_answer(9, 0x7, answer);
  HEADER_EXPECT(!fa::relay::decode_answer(answer, id));

  // The worker's side receives an event with the image's descriptor.
  const int fd = ::open(in.path, O_RDONLY | O_CLOEXEC);
  HEADER_EXPECT(fd >= 0);
  const bool sent = erofsfs::posix::send_with_fd(a, msg, fd) == static_cast<ssize_t>(sizeof msg);
  ::close(fd);
  HEADER_EXPECT(sent);
  fa::detail::relayed_event r;
  auto got = fa::detail::receive_relayed(b, r);
  HEADER_EXPECT(got && *got && r.id == 7 && r.e.offset == 4096 && r.e.fd == r.fd.get());
  std::byte magic[4];
  HEADER_EXPECT(::pread(r.fd.get(), magic, 4, 1024) == 4 && magic[0] == std::byte{0xE2});

  // The holder, over a stand-in group with no events: a worker attaches and detaches.
  int p[2];
  HEADER_EXPECT(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
  ::close(p[1]);
  fa::holder h{erofsfs::posix::unique_fd(p[0]), fa::holder::options{}};
  HEADER_EXPECT(h.group_fd() == p[0] && !h.has_worker() && h.pending() == 0 && h.resent() == 0);
  int s[2];
  HEADER_EXPECT(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) == 0);
  h.attach(erofsfs::posix::unique_fd(s[0]));
  HEADER_EXPECT(h.has_worker());
  h.deny_all();
  h.detach();
  HEADER_EXPECT(!h.has_worker() && h.pending() == 0);
  // The worker sees the holder close the socket as the end.
  fa::detail::relayed_event end;
  auto closed = fa::detail::receive_relayed(s[1], end);
  ::close(s[1]);
  HEADER_EXPECT(closed && !*closed);
  return 0;
}
}  // namespace

int header_check(const header_check_input& in) {
  int sv[2];
  HEADER_EXPECT(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  const int rc = check(in, sv[0], sv[1]);
  ::close(sv[0]);
  ::close(sv[1]);
  return rc;
}
