// The POSIX layer (erofsfs/io/posix.hpp) on real descriptors (memfds and the filesystem): full
// reads and writes, the range checks made before any system call, errno mapping, descriptor
// ownership, the chunked source-to-fd copy the backends serve with, and descriptor passing. EINTR cannot be forced
// reliably from a test; the retry loops share their structure with the short-transfer loops.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <erofsfs/io/posix.hpp>
#include <erofsfs/io/source.hpp>

namespace posix = erofsfs::posix;
using erofsfs::errc;
using erofsfs::make_error_code;

namespace {

constexpr std::uint64_t off_t_max = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());

posix::unique_fd memfd(const std::vector<std::byte>& contents = {}) {
  posix::unique_fd fd(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
  REQUIRE(fd);
  REQUIRE(posix::pwrite_full(fd.get(), contents, 0));
  return fd;
}

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + i / 251) & 0xff);
  return v;
}

std::vector<std::byte> contents(int fd) {
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  std::vector<std::byte> out(static_cast<std::size_t>(st.st_size));
  REQUIRE(posix::pread_full(fd, out, 0));
  return out;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Serves bytes from memory and records every read, so tests see how a copy was chunked.
class recording_source {
 public:
  explicit recording_source(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    reads_.push_back({off, dst.size()});
    return erofsfs::memory_source(bytes_).read_at(off, dst);
  }
  struct read {
    std::uint64_t off;
    std::size_t len;
  };
  const std::vector<read>& reads() const { return reads_; }

 private:
  std::vector<std::byte> bytes_;
  mutable std::vector<read> reads_;
};

// Fails every read from `fail_from` on, as a network source that drops mid-transfer.
struct failing_after {
  erofsfs::memory_source inner;
  std::uint64_t fail_from;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (off >= fail_from) return std::error_code(ECONNRESET, std::system_category());
    return inner.read_at(off, dst);
  }
};

}  // namespace

TEST_CASE("posix: sys_error keeps the errno as a system error code with its context") {
  const erofsfs::error e = posix::sys_error("fanotify_mark", ENOSPC, 3);
  CHECK(e.code == std::error_code(ENOSPC, std::system_category()));
  CHECK(erofsfs::to_errno(e.code) == ENOSPC);
  CHECK(std::string(e.what) == "fanotify_mark");
  CHECK(e.value == 3);
  CHECK(e.offset == erofsfs::error::unknown);
}

TEST_CASE("posix: a failing system call reports its errno") {
  std::byte b[4];
  const erofsfs::status r = posix::pread_full(-1, b, 0);
  REQUIRE(!r);
  CHECK(r.error().code == std::error_code(EBADF, std::system_category()));

  posix::unique_fd ro = posix::open_retry("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  REQUIRE(ro);
  const erofsfs::status w = posix::pwrite_full(ro.get(), b, 0);
  REQUIRE(!w);
  CHECK(w.error().code == std::error_code(EBADF, std::system_category()));
}

TEST_CASE("posix: open_retry of a missing path is empty with errno set") {
  errno = 0;
  posix::unique_fd fd = posix::open_retry("/nonexistent/erofsfs-test", O_RDONLY | O_CLOEXEC);
  CHECK(!fd);
  CHECK(errno == ENOENT);
}

TEST_CASE("posix: open_retry creates with the given mode") {
  char dir[] = "/tmp/erofsfs-posix-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/f";
  {
    posix::unique_fd fd =
        posix::open_retry(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd);
    struct stat st;
    REQUIRE(::fstat(fd.get(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("posix: unique_fd closes on destruction and on reset, not after release or move") {
  int raw;
  {
    posix::unique_fd fd(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
    raw = fd.get();
    REQUIRE(is_open(raw));
  }
  CHECK(!is_open(raw));

  posix::unique_fd a(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
  raw = a.get();
  posix::unique_fd b(std::move(a));
  CHECK(!a);
  CHECK(b.get() == raw);
  CHECK(is_open(raw));
  b.reset();
  CHECK(!b);
  CHECK(!is_open(raw));

  posix::unique_fd c(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
  raw = c.release();
  CHECK(!c);
  CHECK(is_open(raw));
  ::close(raw);
}

TEST_CASE("posix: moving a unique_fd onto another closes the one it held") {
  posix::unique_fd a(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
  posix::unique_fd b(::memfd_create("erofsfs-test-posix", MFD_CLOEXEC));
  const int old_b = b.get(), raw_a = a.get();
  b = std::move(a);
  CHECK(!is_open(old_b));
  CHECK(b.get() == raw_a);
  CHECK(is_open(raw_a));
}

TEST_CASE("posix: pread_full reads the whole span from the offset") {
  const std::vector<std::byte> data = pattern(10000);
  posix::unique_fd fd = memfd(data);
  std::vector<std::byte> out(5000);
  REQUIRE(posix::pread_full(fd.get(), out, 4000));
  CHECK(std::equal(out.begin(), out.end(), data.begin() + 4000));
}

TEST_CASE("posix: pread_full past the end of the file is truncated, at where the file ended") {
  posix::unique_fd fd = memfd(pattern(100));
  std::vector<std::byte> out(64);
  const erofsfs::status r = posix::pread_full(fd.get(), out, 60);
  REQUIRE(!r);
  CHECK(r.error().code == make_error_code(errc::truncated));
  CHECK(r.error().offset == 100);  // the short read got 40 bytes, then end of file
}

TEST_CASE("posix: pread_full of an empty span succeeds without a system call") {
  CHECK(posix::pread_full(-1, std::span<std::byte>(), 0));
  CHECK(posix::pwrite_full(-1, std::span<const std::byte>(), 0));
}

TEST_CASE("posix: offset + length that wraps around is refused before the call") {
  std::byte b[16];
  const std::uint64_t off = std::numeric_limits<std::uint64_t>::max() - 7;
  const erofsfs::status r = posix::pread_full(-1, b, off);  // -1: a call would say EBADF
  REQUIRE(!r);
  CHECK(r.error().code == make_error_code(errc::invalid_argument));
  CHECK(r.error().offset == off);
  const erofsfs::status w = posix::pwrite_full(-1, b, off);
  REQUIRE(!w);
  CHECK(w.error().code == make_error_code(errc::invalid_argument));
}

TEST_CASE("posix: a range ending past off_t's maximum is refused before the call") {
  std::byte b[16];
  const erofsfs::status r = posix::pread_full(-1, b, off_t_max - 8);
  REQUIRE(!r);
  CHECK(r.error().code == make_error_code(errc::invalid_argument));
  const erofsfs::status w = posix::pwrite_full(-1, b, off_t_max + 1);
  REQUIRE(!w);
  CHECK(w.error().code == make_error_code(errc::invalid_argument));
  CHECK(posix::in_off_t_range(off_t_max - 16, 16));
  CHECK(!posix::in_off_t_range(off_t_max - 15, 16));
}

TEST_CASE("posix: pwrite_full writes the whole span at the offset") {
  posix::unique_fd fd = memfd();
  const std::vector<std::byte> data = pattern(70000);
  REQUIRE(posix::pwrite_full(fd.get(), data, 100));
  const std::vector<std::byte> got = contents(fd.get());
  REQUIRE(got.size() == 70100);
  CHECK(std::equal(data.begin(), data.end(), got.begin() + 100));
}

TEST_CASE("posix: copy_source_to_fd copies across chunk boundaries, one read per chunk") {
  const std::vector<std::byte> data = pattern(20000);
  recording_source src(data);
  posix::unique_fd fd = memfd();
  std::vector<std::byte> buffer(4096);
  std::uint64_t copied = 0;
  REQUIRE(posix::copy_source_to_fd(src, 100, fd.get(), 50, 9000, buffer, copied));
  CHECK(copied == 9000);
  const std::vector<std::byte> got = contents(fd.get());
  REQUIRE(got.size() == 9050);
  CHECK(std::equal(got.begin() + 50, got.end(), data.begin() + 100));
  REQUIRE(src.reads().size() == 3);  // 4096 + 4096 + 808
  CHECK(src.reads()[0].off == 100);
  CHECK(src.reads()[0].len == 4096);
  CHECK(src.reads()[1].off == 4196);
  CHECK(src.reads()[1].len == 4096);
  CHECK(src.reads()[2].off == 8292);
  CHECK(src.reads()[2].len == 808);
}

TEST_CASE("posix: copy_source_to_fd writes the zero tail without reading it from the source") {
  const std::vector<std::byte> data = pattern(4000);
  recording_source src(data);
  // The destination starts as 0xff so the zeros are seen to be written, not left as holes.
  posix::unique_fd fd = memfd(std::vector<std::byte>(8192, std::byte{0xff}));
  std::vector<std::byte> buffer(3000);
  std::uint64_t copied = 0;
  REQUIRE(posix::copy_source_to_fd(src, 0, fd.get(), 0, 8192, buffer, copied, 8192 - 4000));
  CHECK(copied == 8192);
  const std::vector<std::byte> got = contents(fd.get());
  REQUIRE(got.size() == 8192);
  CHECK(std::equal(data.begin(), data.end(), got.begin()));
  CHECK(std::all_of(got.begin() + 4000, got.end(), [](std::byte b) { return b == std::byte{0}; }));
  REQUIRE(src.reads().size() == 2);  // chunk 2 holds the last 1000 data bytes, chunk 3 none
  CHECK(src.reads()[1].off == 3000);
  CHECK(src.reads()[1].len == 1000);
}

TEST_CASE("posix: copy_source_to_fd stops at a failing chunk and counts what it wrote") {
  const std::vector<std::byte> data = pattern(10000);
  const failing_after src{erofsfs::memory_source(data), 4096};
  posix::unique_fd fd = memfd();
  std::vector<std::byte> buffer(4096);
  std::uint64_t copied = 0;
  const erofsfs::status r = posix::copy_source_to_fd(src, 0, fd.get(), 0, 10000, buffer, copied);
  REQUIRE(!r);
  CHECK(r.error().code == std::error_code(ECONNRESET, std::system_category()));
  CHECK(r.error().offset == 4096);
  CHECK(copied == 4096);
  CHECK(contents(fd.get()).size() == 4096);  // nothing written past the failed chunk
}

TEST_CASE("posix: copy_source_to_fd refuses a destination past off_t before reading") {
  recording_source src(pattern(100));
  std::vector<std::byte> buffer(64);
  std::uint64_t copied = 7;
  const erofsfs::status r =
      posix::copy_source_to_fd(src, 0, -1, off_t_max - 10, 100, buffer, copied);
  REQUIRE(!r);
  CHECK(r.error().code == make_error_code(errc::invalid_argument));
  CHECK(copied == 0);
  CHECK(src.reads().empty());
}

TEST_CASE("posix: copy_source_to_fd refuses a source range that wraps around") {
  recording_source src(pattern(100));
  std::vector<std::byte> buffer(64);
  std::uint64_t copied = 0;
  const erofsfs::status r = posix::copy_source_to_fd(
      src, std::numeric_limits<std::uint64_t>::max() - 10, -1, 0, 100, buffer, copied);
  REQUIRE(!r);
  CHECK(r.error().code == make_error_code(errc::invalid_argument));
  CHECK(src.reads().empty());
}

TEST_CASE("posix: copy_source_to_fd refuses an empty buffer and a zero tail longer than the copy") {
  recording_source src(pattern(100));
  std::uint64_t copied = 0;
  std::vector<std::byte> buffer(64);
  CHECK(posix::copy_source_to_fd(src, 0, -1, 0, 100, std::span<std::byte>(), copied).error().code ==
        make_error_code(errc::invalid_argument));
  CHECK(posix::copy_source_to_fd(src, 0, -1, 0, 100, buffer, copied, 101).error().code ==
        make_error_code(errc::invalid_argument));
  CHECK(posix::copy_source_to_fd(src, 0, -1, 0, 0, std::span<std::byte>(), copied));  // nothing
  CHECK(src.reads().empty());
}

namespace {
// A connected SOCK_SEQPACKET pair, as the fanotify holder and worker use.
std::pair<posix::unique_fd, posix::unique_fd> seqpacket_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  return {posix::unique_fd(sv[0]), posix::unique_fd(sv[1])};
}
}  // namespace

TEST_CASE("posix: send_with_fd passes a descriptor that reads the same file") {
  auto [a, b] = seqpacket_pair();
  const auto data = pattern(64);
  posix::unique_fd file = memfd(data);
  const std::byte msg[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  REQUIRE(posix::send_with_fd(a.get(), msg, file.get()) == 3);
  std::byte buf[8];
  auto got = posix::recv_with_fds(b.get(), buf);
  REQUIRE(got);
  CHECK(got->bytes == 3);
  CHECK(buf[2] == std::byte{3});
  CHECK_FALSE(got->truncated);
  REQUIRE(got->fds.size() == 1);
  CHECK(got->fds[0].get() != file.get());
  CHECK(contents(got->fds[0].get()) == data);
  CHECK((::fcntl(got->fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("posix: recv_with_fds flags a message longer than the buffer as truncated") {
  auto [a, b] = seqpacket_pair();
  posix::unique_fd file = memfd();
  const auto msg = pattern(16);
  REQUIRE(posix::send_with_fd(a.get(), msg, file.get()) == 16);
  std::byte buf[4];
  auto got = posix::recv_with_fds(b.get(), buf);
  REQUIRE(got);
  CHECK(got->truncated);
  CHECK(got->fds.size() == 1);  // still owned, so it is closed, not leaked
}

TEST_CASE("posix: recv_with_fds reports a closed peer as a message of 0 bytes") {
  auto [a, b] = seqpacket_pair();
  a.reset();
  std::byte buf[4];
  auto got = posix::recv_with_fds(b.get(), buf);
  REQUIRE(got);
  CHECK(got->bytes == 0);
  CHECK(got->fds.empty());
}

TEST_CASE("posix: send_with_fd to a closed peer fails with EPIPE instead of raising SIGPIPE") {
  auto [a, b] = seqpacket_pair();
  b.reset();
  posix::unique_fd file = memfd();
  const std::byte msg[1] = {};
  errno = 0;
  CHECK(posix::send_with_fd(a.get(), msg, file.get()) == -1);
  CHECK(errno == EPIPE);
}
