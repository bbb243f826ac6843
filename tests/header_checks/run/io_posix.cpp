// erofsfs/io/posix.hpp alone: its entry points link and work on a real image.
#include <erofsfs/io/posix.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::posix::unique_fd fd = erofsfs::posix::open_retry(in.path, O_RDONLY | O_CLOEXEC);
  HEADER_EXPECT(fd.get() >= 0);
  std::byte magic[4];
  HEADER_EXPECT(erofsfs::posix::pread_full(fd.get(), magic, 1024) && magic[0] == std::byte{0xE2});
  HEADER_EXPECT(erofsfs::posix::in_off_t_range(0, 4096) && !erofsfs::posix::in_off_t_range(~0ull, 1));
  erofsfs::posix::unique_fd out(::memfd_create("header-check", MFD_CLOEXEC));
  HEADER_EXPECT(out.get() >= 0);
  HEADER_EXPECT(erofsfs::posix::pwrite_full(out.get(), magic, 0));
  const erofsfs::memory_source mem(in.bytes);
  std::byte chunk[4096];
  std::uint64_t copied = 0;
  HEADER_EXPECT(erofsfs::posix::copy_source_to_fd(mem, 0, out.get(), 0, 8192, chunk, copied) && copied == 8192);
  HEADER_EXPECT(erofsfs::posix::sys_error("check", EIO).code.value() == EIO);
  int sv[2];
  HEADER_EXPECT(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  erofsfs::posix::unique_fd a(sv[0]), b(sv[1]);
  HEADER_EXPECT(erofsfs::posix::send_with_fd(a.get(), magic, fd.get()) == 4);
  std::byte back[8];
  auto got = erofsfs::posix::recv_with_fds(b.get(), back);
  HEADER_EXPECT(got && got->bytes == 4 && got->fds.size() == 1 && !got->truncated);
  fd.reset();
  HEADER_EXPECT(fd.get() < 0 && out.release() >= 0);
  return 0;
}
