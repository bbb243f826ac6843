// cachefiles on-demand daemon against the fake kernel (tests/support/fake_cachefiles.hpp):
// protocol parsing and formatting, the OPEN/READ/CLOSE cycle with real fixture images as
// blobs, failures that must still be answered, and restore after a daemon restart.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <erofsfs/backends/fscache/daemon.hpp>
#include <erofsfs/backends/fscache/protocol.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <map>
#include <string>
#include <vector>

#include "support/fake_cachefiles.hpp"

namespace fs = erofsfs::fscache;
using erofsfs::test::fake_cachefiles;

namespace {

const std::string images = std::string(EROFSFS_TEST_DATA) + "/images/";

std::vector<std::byte> file_bytes(const std::string& path) {
  auto src = erofsfs::fd_source::open(path.c_str());
  REQUIRE(src);
  std::vector<std::byte> out(src->size());
  REQUIRE(!src->read_at(0, out));
  return out;
}

// Blobs by cookie key from fixture image files, as the CLI serves a directory.
fs::resolver fixture_resolver(std::map<std::string, std::string> names) {
  return [names = std::move(names)](std::string_view, std::string_view cookie)
             -> erofsfs::result<fs::blob> {
    auto it = names.find(std::string(cookie));
    if (it == names.end()) return erofsfs::make_error(erofsfs::errc::not_found, "no such blob");
    auto src = erofsfs::fd_source::open(it->second.c_str());
    if (!src) return src.error();
    return fs::make_blob(std::move(*src));
  };
}

const std::string plain_path = images + "plain-4k/plain-4k.erofs";

fs::resolver plain_resolver() { return fixture_resolver({{"plain.img", plain_path}}); }

// A source whose reads always fail, as a broken network backend would.
struct failing_source {
  std::error_code read_at(std::uint64_t, std::span<std::byte>) const noexcept {
    return std::error_code(EIO, std::system_category());
  }
};

struct event_log {
  std::vector<fs::event_kind> kinds;
  fs::event_sink sink() {
    return [this](const fs::event& e) { kinds.push_back(e.kind); };
  }
  bool saw(fs::event_kind k) const {
    for (auto x : kinds)
      if (x == k) return true;
    return false;
  }
};

std::vector<std::byte> header(std::uint32_t id, std::uint32_t op, std::uint32_t len,
                              std::uint32_t oid, std::size_t total) {
  std::vector<std::byte> b(total);
  std::uint32_t f[4] = {id, op, len, oid};
  std::memcpy(b.data(), f, total < 16 ? total : 16);
  return b;
}

}  // namespace

TEST_CASE("fscache: READ_COMPLETE ioctl number matches the UAPI _IOW(0x98, 1, int)") {
  // Generic ioctl encoding (x86, arm64, riscv...): write dir, 4-byte arg, type 0x98, nr 1.
  CHECK(fs::ioc_read_complete == 0x40049801ul);
}

TEST_CASE("fscache: copen replies are formatted as the kernel parses them") {
  CHECK(fs::format_copen(7, 532480).view() == "copen 7,532480");
  CHECK(fs::format_copen(4294967295u, 0).view() == "copen 4294967295,0");
  CHECK(fs::format_copen_error(3, ENOENT).view() == "copen 3,-2");
}

TEST_CASE("fscache: copen error outside the kernel's errno range becomes EIO") {
  CHECK(fs::format_copen_error(3, 0).view() == "copen 3,-5");
  CHECK(fs::format_copen_error(3, 5000).view() == "copen 3,-5");
}

TEST_CASE("fscache: OPEN message round-trips through encoder and parser") {
  std::byte buf[fs::max_msg_size];
  auto n = fs::encode_open(buf, 11, 22, "erofs,plain.img", "plain.img", 9);
  REQUIRE(n);
  CHECK(*n == 32 + 16 + 9);
  auto m = fs::parse_message(std::span<const std::byte>(buf, *n));
  REQUIRE(m);
  CHECK(m->op == fs::opcode::open);
  CHECK(m->header.msg_id == 11);
  CHECK(m->header.object_id == 22);
  CHECK(m->open.volume_key == "erofs,plain.img");
  CHECK(m->open.cookie_key == "plain.img");
  CHECK(m->open.fd == 9);
  CHECK(fs::erofs_volume_id(m->open.volume_key) == "plain.img");
}

TEST_CASE("fscache: message shorter than the header is a protocol error") {
  auto b = header(1, 2, 8, 1, 8);
  auto m = fs::parse_message(b);
  REQUIRE(!m);
  CHECK(m.error().code == erofsfs::errc::protocol_error);
  CHECK(std::string(m.error().what).find("shorter than its header") != std::string::npos);
}

TEST_CASE("fscache: header len differing from the bytes read is refused") {
  auto b = header(1, 2, 40, 1, 32);  // READ claiming 40 bytes, 32 read
  auto m = fs::parse_message(b);
  REQUIRE(!m);
  CHECK(std::string(m.error().what).find("len differs") != std::string::npos);
}

TEST_CASE("fscache: OPEN key sizes that overflow the message are refused") {
  std::byte buf[fs::max_msg_size];
  auto n = fs::encode_open(buf, 1, 1, "erofs,x", "x", 3);
  REQUIRE(n);
  SUBCASE("cookie key size beyond len") {
    std::uint32_t big = 0xffffffffu;  // vks + cks wraps in 32 bits; must not in the check
    std::memcpy(buf + 20, &big, 4);
  }
  SUBCASE("volume key size beyond len") {
    std::uint32_t big = 100;
    std::memcpy(buf + 16, &big, 4);
  }
  auto m = fs::parse_message(std::span<const std::byte>(buf, *n));
  REQUIRE(!m);
  CHECK(std::string(m.error().what).find("key sizes") != std::string::npos);
}

TEST_CASE("fscache: OPEN volume key without its NUL is refused") {
  std::byte buf[fs::max_msg_size];
  auto n = fs::encode_open(buf, 1, 1, "erofs,x", "x", 3);
  REQUIRE(n);
  buf[32 + 7] = std::byte{'!'};  // overwrite the volume key's NUL
  auto m = fs::parse_message(std::span<const std::byte>(buf, *n));
  REQUIRE(!m);
  CHECK(std::string(m.error().what).find("NUL-terminated") != std::string::npos);
}

TEST_CASE("fscache: unknown opcode is a named protocol error") {
  auto b = header(1, 3, 16, 1, 16);
  auto m = fs::parse_message(b);
  REQUIRE(!m);
  CHECK(m.error().code == erofsfs::errc::protocol_error);
  CHECK(std::string(m.error().what) == "cachefiles message has an unknown opcode");
  CHECK(m.error().value == 3);
}

TEST_CASE("fscache: READ range overflowing 64 bits is refused") {
  std::byte buf[fs::read_msg_size];
  REQUIRE(fs::encode_read(buf, 1, 1, ~std::uint64_t{0} - 10, 4096));
  auto m = fs::parse_message(buf);
  REQUIRE(!m);
  CHECK(std::string(m.error().what).find("overflows") != std::string::npos);
}

TEST_CASE("fscache: OPEN is answered with the blob size") {
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
  REQUIRE(d);
  k.queue_open("erofs,plain.img", "plain.img");
  auto n = d->handle_ready();
  REQUIRE(n);
  CHECK(*n == 1);
  REQUIRE(k.commands().size() == 1);
  CHECK(k.commands()[0] == "copen 1,532480");
  CHECK(d->open_objects() == 1);
}

TEST_CASE("fscache: OPEN/READ/CLOSE round trip puts the image bytes into the cache file") {
  fake_cachefiles k;
  event_log log;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), {}, log.sink());
  REQUIRE(d);
  const auto image = file_bytes(plain_path);
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  const auto r1 = k.queue_read(oid, 0, 4096);
  const auto r2 = k.queue_read(oid, 65536, 131072);
  REQUIRE(d->handle_ready());
  REQUIRE(k.completions().size() == 2);
  CHECK(k.completions()[0].msg_id == r1);
  CHECK(k.completions()[1].msg_id == r2);
  CHECK(k.cache_bytes(oid, 0, 4096) ==
        std::vector<std::byte>(image.begin(), image.begin() + 4096));
  CHECK(k.cache_bytes(oid, 65536, 131072) ==
        std::vector<std::byte>(image.begin() + 65536, image.begin() + 65536 + 131072));
  CHECK(d->stats().bytes_written == 4096 + 131072);

  k.queue_close(oid);
  REQUIRE(d->handle_ready());
  CHECK(d->open_objects() == 0);
  CHECK(!k.obj(oid).daemon_fd_open);
  CHECK(log.saw(fs::event_kind::closed));
  CHECK(k.in_flight() == 0);
}

TEST_CASE("fscache: READ larger than the copy buffer is copied in chunks") {
  fake_cachefiles k;
  fs::daemon_options opt;
  opt.buffer_size = 4096;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), opt);
  REQUIRE(d);
  const auto image = file_bytes(plain_path);
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  k.queue_read(oid, 0, image.size());
  REQUIRE(d->handle_ready());
  CHECK(k.completions().size() == 1);
  CHECK(k.cache_bytes(oid, 0, image.size()) == image);
}

TEST_CASE("fscache: blob device of a multi-device image is served under its own cookie") {
  const std::string dir = images + "chunk-4k-blobdev/";
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(
      k, fixture_resolver({{"meta", dir + "chunk-4k-blobdev.erofs"},
                           {"blob", dir + "chunk-4k-blobdev.blob"}}));
  REQUIRE(d);
  const auto blob = file_bytes(dir + "chunk-4k-blobdev.blob");
  k.queue_open("erofs,meta", "meta");
  const auto oid = k.queue_open("erofs,meta", "blob");
  k.queue_read(oid, 4096, 8192);
  REQUIRE(d->handle_ready());
  CHECK(k.commands()[1] == "copen 2," + std::to_string(blob.size()));
  CHECK(k.cache_bytes(oid, 4096, 8192) ==
        std::vector<std::byte>(blob.begin() + 4096, blob.begin() + 4096 + 8192));
}

TEST_CASE("fscache: unknown blob fails the OPEN with ENOENT and closes the fd") {
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
  REQUIRE(d);
  const auto oid = k.queue_open("erofs,nope", "nope");
  REQUIRE(d->handle_ready());
  REQUIRE(k.commands().size() == 1);
  CHECK(k.commands()[0] == "copen 1,-2");
  CHECK(!k.obj(oid).daemon_fd_open);
  CHECK(d->open_objects() == 0);
}

TEST_CASE("fscache: resolver I/O failure fails the OPEN with that errno") {
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(
      k, [](std::string_view, std::string_view) -> erofsfs::result<fs::blob> {
        return erofsfs::make_error(erofsfs::errc::io_error, "backend down");
      });
  REQUIRE(d);
  k.queue_open("erofs,x", "x");
  REQUIRE(d->handle_ready());
  CHECK(k.commands()[0] == "copen 1,-5");
}

TEST_CASE("fscache: READ from a failing source is still completed") {
  fake_cachefiles k;
  event_log log;
  auto d = fs::basic_daemon<fake_cachefiles>::create(
      k,
      [](std::string_view, std::string_view) -> erofsfs::result<fs::blob> {
        return fs::make_blob(failing_source{}, 1 << 20);
      },
      {}, log.sink());
  REQUIRE(d);
  const auto oid = k.queue_open("erofs,x", "x");
  const auto rid = k.queue_read(oid, 0, 8192);
  REQUIRE(d->handle_ready());
  REQUIRE(k.completions().size() == 1);
  CHECK(k.completions()[0].msg_id == rid);
  CHECK(log.saw(fs::event_kind::read_failed));
  CHECK(d->stats().read_failures == 1);
  CHECK(k.in_flight() == 0);
}

TEST_CASE("fscache: READ beyond the blob size is clipped and completed") {
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
  REQUIRE(d);
  const auto image = file_bytes(plain_path);
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  k.queue_read(oid, image.size() - 4096, 1 << 20);       // straddles the end
  k.queue_read(oid, image.size() + (1 << 20), 1 << 20);  // wholly past it
  k.queue_read(oid, 0, ~std::uint64_t{0} >> 1);          // absurd length
  REQUIRE(d->handle_ready());
  CHECK(k.completions().size() == 3);
  CHECK(k.cache_bytes(oid, image.size() - 4096, 1 << 20) ==
        std::vector<std::byte>(image.end() - 4096, image.end()));
}

TEST_CASE("fscache: malformed OPEN is refused with EPROTO so the kernel does not wait") {
  fake_cachefiles k;
  event_log log;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), {}, log.sink());
  REQUIRE(d);
  auto b = header(42, 0, 40, 5, 40);
  std::uint32_t sizes[2] = {100, 100};
  std::memcpy(b.data() + 16, sizes, 8);
  k.queue_raw(b);
  REQUIRE(d->handle_ready());
  REQUIRE(k.commands().size() == 1);
  CHECK(k.commands()[0] == "copen 42,-71");
  CHECK(log.saw(fs::event_kind::bad_message));
  CHECK(d->stats().bad_messages == 1);
}

TEST_CASE("fscache: malformed messages are reported and the loop keeps serving") {
  fake_cachefiles k;
  event_log log;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), {}, log.sink());
  REQUIRE(d);
  k.queue_raw(header(1, 2, 8, 1, 8));      // short
  k.queue_raw(header(1, 2, 99, 1, 32));    // len mismatch
  k.queue_raw(header(1, 7, 16, 1, 16));    // unknown opcode
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  k.queue_read(oid, 0, 4096);
  auto n = d->handle_ready();
  REQUIRE(n);
  CHECK(*n == 5);
  CHECK(d->stats().bad_messages == 3);
  CHECK(k.completions().size() == 1);
}

TEST_CASE("fscache: handle_ready stops after max_messages_per_call") {
  fake_cachefiles k;
  fs::daemon_options opt;
  opt.max_messages_per_call = 2;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), opt);
  REQUIRE(d);
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  for (int i = 0; i < 3; ++i) k.queue_read(oid, 0, 4096);
  CHECK(*d->handle_ready() == 2);
  CHECK(k.pending() == 2);
  CHECK(*d->run_once(0) == 2);
  CHECK(*d->run_once(0) == 0);
}

TEST_CASE("fscache: restore after a daemon restart re-opens the object and serves the READ") {
  fake_cachefiles k;
  const auto image = file_bytes(plain_path);
  std::uint32_t oid = 0, rid = 0;
  {
    auto d1 = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
    REQUIRE(d1);
    oid = k.queue_open("erofs,plain.img", "plain.img");
    REQUIRE(d1->handle_ready());
    rid = k.queue_read(oid, 8192, 8192);
    // The first daemon dies right after reading the READ: it stays in flight.
    std::byte buf[fs::max_msg_size];
    REQUIRE(*k.read_message(buf) == fs::read_msg_size);
  }  // its anon fds close with it
  CHECK(!k.obj(oid).daemon_fd_open);
  CHECK(k.in_flight() == 1);

  auto d2 = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
  REQUIRE(d2);
  REQUIRE(d2->restore());
  REQUIRE(d2->handle_ready());
  CHECK(k.restores() == 1);
  REQUIRE(k.completions().size() == 1);
  CHECK(k.completions()[0].msg_id == rid);
  const auto new_oid = k.completions()[0].object_id;
  CHECK(new_oid != oid);  // re-OPEN under a new object id
  CHECK(k.obj(new_oid).copen_size == static_cast<std::int64_t>(image.size()));
  CHECK(k.cache_bytes(new_oid, 8192, 8192) ==
        std::vector<std::byte>(image.begin() + 8192, image.begin() + 16384));
  CHECK(k.in_flight() == 0);
}

TEST_CASE("fscache: duplicate OPEN for a live object id is refused with EALREADY") {
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver());
  REQUIRE(d);
  const auto oid = k.queue_open("erofs,plain.img", "plain.img");
  REQUIRE(d->handle_ready());
  std::vector<std::byte> dup_open(fs::max_msg_size);
  auto n = fs::encode_open(dup_open, 77, oid, "erofs,plain.img", "plain.img", ::dup(0));
  REQUIRE(n);
  dup_open.resize(*n);
  k.queue_raw(dup_open);
  REQUIRE(d->handle_ready());
  REQUIRE(k.commands().size() == 2);
  CHECK(k.commands()[1] == "copen 77,-114");
  CHECK(d->open_objects() == 1);
  CHECK(k.obj(oid).daemon_fd_open);  // the live object keeps its fd
}

TEST_CASE("fscache: daemon options are validated") {
  fake_cachefiles k;
  fs::daemon_options opt;
  opt.buffer_size = 1000;
  CHECK(!fs::basic_daemon<fake_cachefiles>::create(k, plain_resolver(), opt));
  CHECK(!fs::basic_daemon<fake_cachefiles>::create(k, fs::resolver{}));
}

TEST_CASE("fscache: cachefiles_device sends dir, tag and bind ondemand as separate commands") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto dev = fs::cachefiles_device::adopt(p[1]);
  REQUIRE(dev.bind("/var/cache/fscache", "erofsfs"));
  REQUIRE(dev.restore());
  char buf[256];
  ssize_t n = ::read(p[0], buf, sizeof buf);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)) ==
        "dir /var/cache/fscachetag erofsfsbind ondemandrestore");
  ::close(p[0]);
  ::close(p[1]);  // adopt() borrows
}

TEST_CASE("fscache: cachefiles_device refuses a cache dir with a newline before writing") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto dev = fs::cachefiles_device::adopt(p[1]);
  auto r = dev.bind("/tmp/a\nbind", "");
  REQUIRE(!r);
  CHECK(r.error().code == erofsfs::errc::invalid_argument);
  CHECK(!dev.bind("/tmp/a", "two words"));
  ::close(p[1]);
  char buf[16];
  CHECK(::read(p[0], buf, sizeof buf) == 0);  // nothing was written
  ::close(p[0]);
}

TEST_CASE("fscache: the last page of a blob that is not page aligned is zero-padded") {
  static const std::vector<std::byte> data(5000, std::byte{0x7e});
  static const erofsfs::memory_source src(data.data(), data.size());
  fake_cachefiles k;
  auto d = fs::basic_daemon<fake_cachefiles>::create(
      k, [](std::string_view, std::string_view) -> erofsfs::result<fs::blob> {
        fs::blob b;
        b.source = src;
        b.size = data.size();
        return b;
      });
  REQUIRE(d);
  const auto oid = k.queue_open("erofs,odd", "odd");
  k.queue_read(oid, 4096, 65536);
  REQUIRE(d->handle_ready());
  CHECK(k.commands()[0] == "copen 1,5000");  // the kernel still sees the exact size
  REQUIRE(k.completions().size() == 1);
  auto page = k.cache_bytes(oid, 4096, 8192);
  REQUIRE(page.size() == 4096);  // nothing written past the padded page
  CHECK(std::all_of(page.begin(), page.begin() + 904, [](std::byte b) { return b == std::byte{0x7e}; }));
  CHECK(std::all_of(page.begin() + 904, page.end(), [](std::byte b) { return b == std::byte{0}; }));
}
