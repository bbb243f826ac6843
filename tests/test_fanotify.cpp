#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <erofsfs/backends/fanotify/backend.hpp>
#include <erofsfs/backends/fanotify/event.hpp>
#include <erofsfs/backends/fanotify/intervals.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/manifest.hpp"
#include "support/sha256.hpp"

extern char** environ;

using namespace erofsfs;
using namespace erofsfs::fanotify;

namespace {

// ---- hand-made event buffers -------------------------------------------------------------

// Grows then copies: g++ 12 -O3 reports a bogus -Wstringop-overflow inside
// vector::insert(end, p, p + n) once the buffer is inlined into range_body (GCC PR 106199).
template <class T>
void put(std::vector<std::byte>& b, T v) {
  const std::size_t at = b.size();
  b.resize(at + sizeof v);
  std::memcpy(b.data() + at, &v, sizeof v);
}

struct record {
  std::uint8_t type;
  std::uint16_t len;                // as written in the header
  std::vector<std::byte> body = {}; // bytes after the 4-byte header
};

std::vector<std::byte> range_body(std::uint64_t offset, std::uint64_t count) {
  std::vector<std::byte> b;
  put<std::uint32_t>(b, 0);
  put(b, offset);
  put(b, count);
  return b;
}

record range_record(std::uint64_t offset, std::uint64_t count) {
  return {abi::info_type_range, static_cast<std::uint16_t>(abi::range_info_size),
          range_body(offset, count)};
}

// An event whose event_len covers exactly what is written, unless `event_len` overrides it.
std::vector<std::byte> make_event(std::uint64_t mask, std::int32_t fd,
                                  const std::vector<record>& recs = {},
                                  std::uint32_t event_len = 0, std::uint8_t vers = 3,
                                  std::uint16_t metadata_len = 24) {
  std::vector<std::byte> b;
  put<std::uint32_t>(b, 0);
  put<std::uint8_t>(b, vers);
  put<std::uint8_t>(b, 0);
  put(b, metadata_len);
  put(b, mask);
  put(b, fd);
  put<std::int32_t>(b, 1234);
  for (const record& r : recs) {
    put(b, r.type);
    put<std::uint8_t>(b, 0);
    put(b, r.len);
    b.insert(b.end(), r.body.begin(), r.body.end());
  }
  const std::uint32_t len = event_len ? event_len : static_cast<std::uint32_t>(b.size());
  std::memcpy(b.data(), &len, 4);
  return b;
}

error parse_error(const std::vector<std::byte>& buf) {
  std::size_t used = 0;
  auto r = parse_event(buf, used);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::protocol_error);
  return r.error();
}

}  // namespace

TEST_CASE("a pre-access event with a range record parses into mask, fd, pid and range") {
  const auto buf = make_event(abi::pre_access, 7, {range_record(8192, 4096)});
  std::size_t used = 0;
  auto e = parse_event(buf, used);
  REQUIRE(e);
  CHECK(used == 48);
  CHECK(e->mask == abi::pre_access);
  CHECK(e->fd == 7);
  CHECK(e->pid == 1234);
  CHECK(e->has_range);
  CHECK(e->offset == 8192);
  CHECK(e->count == 4096);
}

TEST_CASE("an event without info records has no range") {
  const auto buf = make_event(abi::q_overflow, abi::no_fd);
  std::size_t used = 0;
  auto e = parse_event(buf, used);
  REQUIRE(e);
  CHECK(used == 24);
  CHECK_FALSE(e->has_range);
  CHECK(e->fd == abi::no_fd);
}

TEST_CASE("the event reader walks several events of one buffer in order") {
  auto buf = make_event(abi::pre_access, 3, {range_record(0, 100)});
  const auto second = make_event(abi::pre_access, 4, {range_record(4096, 1)});
  buf.insert(buf.end(), second.begin(), second.end());
  event_reader rd(buf);
  event e;
  auto more = rd.next(e);
  REQUIRE(more);
  REQUIRE(*more);
  CHECK(e.fd == 3);
  more = rd.next(e);
  REQUIRE(more);
  REQUIRE(*more);
  CHECK(e.fd == 4);
  CHECK(e.offset == 4096);
  more = rd.next(e);
  REQUIRE(more);
  CHECK_FALSE(*more);
}

TEST_CASE("unknown and non-range info records are skipped") {
  record pidfd{4, 8, {std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}}};
  record future{99, 12, std::vector<std::byte>(8, std::byte{0xee})};
  const auto buf = make_event(abi::pre_access, 5, {pidfd, future, range_record(12, 34)});
  std::size_t used = 0;
  auto e = parse_event(buf, used);
  REQUIRE(e);
  CHECK(e->skipped_records == 2);
  CHECK(e->has_range);
  CHECK(e->offset == 12);
  CHECK(e->count == 34);
}

TEST_CASE("a buffer shorter than the event metadata is a protocol error") {
  auto buf = make_event(abi::pre_access, 5);
  buf.resize(23);
  CHECK(std::string(parse_error(buf).what) == "fanotify event shorter than its metadata");
  event_reader rd(buf);
  event e;
  CHECK_FALSE(rd.next(e));
}

TEST_CASE("event_len past the end of the buffer is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {range_record(0, 1)}, 49);
  CHECK(std::string(parse_error(buf).what) == "fanotify event_len past the end of the buffer");
}

TEST_CASE("event_len shorter than the metadata is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {}, 16);
  CHECK(std::string(parse_error(buf).what) == "fanotify event_len shorter than metadata_len");
}

TEST_CASE("a zero event_len cannot make the reader loop") {
  auto buf = make_event(abi::pre_access, 5);
  std::memset(buf.data(), 0, 4);
  event_reader rd(buf);
  event e;
  auto r = rd.next(e);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::protocol_error);
}

TEST_CASE("a wrong metadata version or short metadata_len is a protocol error") {
  CHECK(std::string(parse_error(make_event(abi::pre_access, 5, {}, 0, 2)).what) ==
        "fanotify metadata version is not 3");
  CHECK(std::string(parse_error(make_event(abi::pre_access, 5, {}, 0, 3, 20)).what) ==
        "fanotify metadata_len shorter than the metadata");
}

TEST_CASE("an info record shorter than its header is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {record{4, 2, {}}});
  const error err = parse_error(buf);
  CHECK(std::string(err.what) == "fanotify info record shorter than its header");
  CHECK(err.offset == 24);
}

TEST_CASE("an info record running past its event is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {record{4, 64, std::vector<std::byte>(4)}});
  CHECK(std::string(parse_error(buf).what) == "fanotify info record past the end of its event");
}

TEST_CASE("a truncated info record header is a protocol error") {
  auto buf = make_event(abi::pre_access, 5);
  buf.push_back(std::byte{6});
  buf.push_back(std::byte{0});
  const std::uint32_t len = 26;
  std::memcpy(buf.data(), &len, 4);
  CHECK(std::string(parse_error(buf).what) == "fanotify info record header truncated");
}

TEST_CASE("a range record shorter than its structure is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5,
                              {record{abi::info_type_range, 16, std::vector<std::byte>(12)}});
  CHECK(std::string(parse_error(buf).what) == "fanotify range record too short");
}

TEST_CASE("a range whose end overflows 64 bits is a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {range_record(~std::uint64_t{0} - 10, 11)});
  CHECK(std::string(parse_error(buf).what) == "fanotify range offset + count overflows");
}

TEST_CASE("two range records in one event are a protocol error") {
  const auto buf = make_event(abi::pre_access, 5, {range_record(0, 1), range_record(2, 3)});
  CHECK(std::string(parse_error(buf).what) == "fanotify event with two range records");
}

TEST_CASE("more info records than the cap are a protocol error") {
  std::vector<record> recs(max_info_records + 1, record{99, 4, {}});
  CHECK(std::string(parse_error(make_event(abi::pre_access, 5, recs)).what) ==
        "too many fanotify info records");
}

TEST_CASE("a deny response carries the errno in its top byte") {
  CHECK(abi::deny_errno(EIO) == (0x02u | (5u << 24)));
  std::byte msg[abi::response_size];
  encode_response(9, abi::allow, msg);
  std::int32_t fd;
  std::uint32_t resp;
  std::memcpy(&fd, msg, 4);
  std::memcpy(&resp, msg + 4, 4);
  CHECK(fd == 9);
  CHECK(resp == abi::allow);
}

// ---- interval set ------------------------------------------------------------------------

namespace {
std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps(const interval_set& s, std::uint64_t a,
                                                          std::uint64_t b) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> g;
  s.for_each_gap(a, b, [&](std::uint64_t x, std::uint64_t y) { g.emplace_back(x, y); });
  return g;
}
using gap_list = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
}  // namespace

TEST_CASE("touching and overlapping ranges coalesce into one") {
  interval_set s;
  REQUIRE(s.insert(0, 10));
  REQUIRE(s.insert(10, 20));
  REQUIRE(s.insert(15, 30));
  CHECK(s.size() == 1);
  CHECK(s.bytes() == 30);
  CHECK(s.contains(0, 30));
  CHECK_FALSE(s.contains(0, 31));
}

TEST_CASE("a range bridging several entries absorbs them all") {
  interval_set s;
  REQUIRE(s.insert(0, 5));
  REQUIRE(s.insert(10, 15));
  REQUIRE(s.insert(20, 25));
  CHECK(s.size() == 3);
  REQUIRE(s.insert(3, 22));
  CHECK(s.size() == 1);
  CHECK(s.bytes() == 25);
  CHECK(s.contains(0, 25));
}

TEST_CASE("gaps list exactly the missing parts of a range") {
  interval_set s;
  REQUIRE(s.insert(10, 20));
  REQUIRE(s.insert(30, 40));
  CHECK(gaps(s, 0, 50) == gap_list{{0, 10}, {20, 30}, {40, 50}});
  CHECK(gaps(s, 12, 35) == gap_list{{20, 30}});
  CHECK(gaps(s, 10, 20).empty());
  CHECK(gaps(s, 5, 5).empty());
  CHECK_FALSE(s.contains(15, 35));
  CHECK(s.contains(7, 7));
}

TEST_CASE("the interval set refuses new entries past its cap but still merges") {
  interval_set s(2);
  REQUIRE(s.insert(0, 1));
  REQUIRE(s.insert(10, 11));
  const status st = s.insert(20, 21);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == errc::limit_exceeded);
  CHECK(s.size() == 2);
  CHECK(s.insert(1, 10));  // merging needs no new entry
  CHECK(s.size() == 1);
}

// ---- the real kernel ---------------------------------------------------------------------

namespace {

struct manifest_file {
  std::string path;
  std::uint64_t size = 0;
  std::string sha256;
};

std::vector<manifest_file> regular_files(const std::string& name) {
  std::string err;
  const auto m = test::load_manifest(test::fixture_dir(name) + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(m, err);
  std::vector<manifest_file> files;
  for (const auto& [path, e] : *m)
    if (e.type == "file") files.push_back({path, e.size, e.sha256});
  return files;
}

// A source that starts failing on demand, standing in for a network that goes away.
struct switchable_source {
  source_ref inner;
  const std::atomic<bool>* fail;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (fail->load()) return std::error_code(ECONNRESET, std::system_category());
    return inner.read_at(off, dst);
  }
  std::uint64_t size() const noexcept { return inner.size().value_or(0); }
};

struct hash_result {
  bool ok = false;
  int err = 0;
  std::string hex;
};

hash_result hash_file(const std::string& path) {
  hash_result r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.err = errno;
    return r;
  }
  test::sha256 h;
  std::vector<std::byte> buf(65536);
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      r.err = errno;
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    h.update(std::span(buf.data(), static_cast<std::size_t>(n)));
  }
  ::close(fd);
  r.ok = true;
  r.hex = h.hex();
  return r;
}

// A temporary directory with a mount point; serves a backend on a thread while alive and
// unmounts before stopping it (stopping first would leave readers of the mount waiting).
class kernel_fixture {
 public:
  kernel_fixture() {
    char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
  }
  ~kernel_fixture() {
    unmount();
    stop();
    if (!dir_.empty()) {
      for (const std::string& f : files_) ::unlink(f.c_str());
      ::rmdir((dir_ + "/mnt").c_str());
      ::rmdir(dir_.c_str());
    }
  }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }
  std::string mnt() const { return dir_ + "/mnt"; }

  // Why the kernel test cannot run here, or "" when it can.
  static std::string unavailable() {
    if (::geteuid() != 0) return "not root";
    struct stat st;
    if (::stat("/proc/filesystems", &st) != 0) return "no /proc";
    std::ifstream fs("/proc/filesystems");
    std::string all((std::istreambuf_iterator<char>(fs)), std::istreambuf_iterator<char>());
    if (all.find("erofs") == std::string::npos) return "kernel has no erofs";
    return "";
  }

  // Creates the backend; "" on success, else the reason to skip (kernel support missing).
  std::string start(std::span<const device_spec> devs, const backend_options& opt = {}) {
    auto b = backend::create(devs, opt);
    if (!b) {
      if (b.error().code == errc::unsupported ||
          b.error().code == std::error_code(EPERM, std::system_category()))
        return b.error().message();
      FAIL("backend::create: " << b.error().message());
    }
    backend_ = std::move(*b);
    backend* be = backend_.get();
    server_ = std::thread([this, be] {
      while (!stop_.load()) {
        auto r = be->run_once(50);
        if (!r) {
          serve_error_ = r.error().message();
          return;
        }
      }
    });
    return "";
  }

  // "" on success, else why mounting is not possible here (file-backed mounts need 6.12).
  std::string mount(std::span<const std::string> devices) {
    ::mkdir(mnt().c_str(), 0755);
    const status st = mount_erofs(backend_->sparse_path(0), devices, mnt());
    if (!st) return st.error().message();
    mounted_ = true;
    return "";
  }
  void unmount() {
    if (mounted_) CHECK(::umount2(mnt().c_str(), 0) == 0);
    mounted_ = false;
  }
  void stop() {
    stop_ = true;
    if (server_.joinable()) server_.join();
    CHECK(serve_error_ == "");
  }
  backend& be() { return *backend_; }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  std::unique_ptr<backend> backend_;
  std::thread server_;
  std::atomic<bool> stop_{false};
  std::string serve_error_;
  bool mounted_ = false;
};

#define SKIP_UNLESS_KERNEL(reason)                                       \
  do {                                                                   \
    const std::string why_ = (reason);                                   \
    if (!why_.empty()) {                                                 \
      MESSAGE("fanotify kernel test skipped: " << why_);                 \
      return;                                                            \
    }                                                                    \
  } while (0)

// Mounts fixture `name` (and its blobs) through the backend and compares every regular file
// with the manifest. False when the kernel cannot run the test (reason in a MESSAGE).
bool serve_and_compare(const std::string& name) {
  const std::string why = kernel_fixture::unavailable();
  if (!why.empty()) {
    MESSAGE("fanotify kernel test skipped: " << why);
    return false;
  }
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  auto fx = test::open_fixture(name);
  REQUIRE_MESSAGE(fx, name << ": " << fx.error().message());
  std::vector<device_spec> devs{{*(*fx)->primary, k.path("image.sparse")}};
  std::vector<std::string> blob_sparse;
  for (std::size_t i = 0; i < (*fx)->device_refs.size(); ++i) {
    devs.push_back({(*fx)->device_refs[i], k.path("blob" + std::to_string(i) + ".sparse")});
    blob_sparse.push_back(devs.back().sparse_path);
  }
  if (const std::string w = k.start(devs); !w.empty()) {
    MESSAGE("fanotify kernel test skipped: " << w);
    return false;
  }
  const backend_stats before = k.be().stats();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < k.be().device_count(); ++i) total += k.be().device_size(i);
  CHECK(before.metadata_bytes > 0);
  // Equal when every file lives in the packed inode (all-fragments images): its data is
  // prefetched with the metadata, so nothing is left to fetch on demand.
  CHECK(before.metadata_bytes <= total);
  if (const std::string w = k.mount(blob_sparse); !w.empty()) {
    MESSAGE("fanotify kernel test skipped: " << name << ": " << w);
    return false;
  }

  const auto files = regular_files(name);
  REQUIRE(files.size() > 10);
  // The kernel reads a file's data a page (folio) at a time, and a page of a small-block image
  // maps to at most a page of its device: no file costs more than its size rounded up to that.
  std::uint64_t data_bound = 0;
  const std::uint64_t bs = std::max<std::uint64_t>(k.be().fill_align(),
                                                   static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
  for (const manifest_file& f : files) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, name << ": " << f.path << ": " << std::strerror(h.err));
    CHECK_MESSAGE(h.hex == f.sha256, name << ": " << f.path);
    data_bound += (f.size + bs - 1) / bs * bs;
  }
  k.unmount();
  k.stop();
  const backend_stats s = k.be().stats();
  MESSAGE(name << ": metadata " << s.metadata_bytes << " B, fetched " << s.bytes_fetched
               << " B in " << s.events << " events, image+blobs " << total << " B");
  CHECK(s.denied == 0);
  CHECK(s.fill_errors == 0);
  CHECK(s.bytes_fetched <= data_bound);
  CHECK(s.metadata_bytes + s.bytes_fetched <= total);
  return true;
}

}  // namespace

TEST_CASE("kernel: every file of plain-4k reads correctly through fanotify pre-content") {
  serve_and_compare("plain-4k");
}

TEST_CASE("kernel: a blob-device image is served through two marked sparse files") {
  serve_and_compare("chunk-4k-blobdev");
}

TEST_CASE("kernel: LZ4 images (fragments, ztailpacking, dedupe, metabox) read correctly") {
  for (const char* name : {"lz4", "lz4-fragments", "lz4-legacy-index", "lz4hc-allfrag-dedupe",
                           "lz4hc-b1024-ztail", "lz4hc-pcluster16k", "lz4hc-ztailpacking",
                           "metabox-lz4", "dirs-compressed"})
    if (!serve_and_compare(name)) break;
}

TEST_CASE("kernel: uncompressed layouts (chunk maps, 48-bit, small blocks) read correctly") {
  for (const char* name : {"chunk-1m", "chunk-4k-blockmap", "chunk-8k-b1024-indexes",
                           "plain-48bit", "plain-b512", "plain-metazone", "tar-full",
                           "rebuild-two-layers"})
    if (!serve_and_compare(name)) break;
}

TEST_CASE("kernel: reading one file fetches only that file's blocks") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  auto img = fd_source::open((test::fixture_dir("plain-4k") + "/plain-4k.erofs").c_str());
  REQUIRE(img);
  const device_spec devs[] = {{*img, k.path("image.sparse")}};
  SKIP_UNLESS_KERNEL(k.start(devs));
  SKIP_UNLESS_KERNEL(k.mount({}));
  const auto files = regular_files("plain-4k");
  const manifest_file* pick = nullptr;
  for (const manifest_file& f : files)
    if (f.path == "/data/text-96k") pick = &f;
  REQUIRE(pick);
  const hash_result h = hash_file(k.mnt() + pick->path);
  REQUIRE(h.ok);
  CHECK(h.hex == pick->sha256);
  k.unmount();
  k.stop();
  const backend_stats s = k.be().stats();
  const std::uint64_t bs = k.be().fill_align();
  MESSAGE("one " << pick->size << "-byte file: fetched " << s.bytes_fetched << " B in "
                 << s.events << " events");
  CHECK(s.bytes_fetched > 0);
  CHECK(s.bytes_fetched <= (pick->size + bs - 1) / bs * bs);
  CHECK(s.denied == 0);
}

TEST_CASE("kernel: a failing source makes read() fail with EIO instead of hanging") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  auto img = fd_source::open((test::fixture_dir("plain-4k") + "/plain-4k.erofs").c_str());
  REQUIRE(img);
  std::atomic<bool> fail{false};
  const switchable_source flaky{*img, &fail};
  const device_spec devs[] = {{flaky, k.path("image.sparse")}};
  SKIP_UNLESS_KERNEL(k.start(devs));
  SKIP_UNLESS_KERNEL(k.mount({}));
  fail = true;
  const hash_result h = hash_file(k.mnt() + "/data/text-96k");
  CHECK_FALSE(h.ok);
  CHECK(h.err == EIO);
  // The source recovers: the same file now reads (nothing wrong was cached).
  fail = false;
  const hash_result again = hash_file(k.mnt() + "/data/text-96k");
  CHECK(again.ok);
  k.unmount();
  k.stop();
  const backend_stats s = k.be().stats();
  CHECK(s.denied >= 1);
  CHECK(s.fill_errors >= 1);
}

TEST_CASE("backend creation refuses a corrupted image before touching fanotify") {
  std::vector<std::byte> junk(8192, std::byte{0x5a});
  memory_source src(junk);
  char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string sparse = std::string(tmpl) + "/image.sparse";
  const device_spec devs[] = {{src, sparse}};
  auto b = backend::create(devs);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == errc::corrupted);
  struct stat st;
  CHECK(::stat(sparse.c_str(), &st) != 0);  // nothing created for an image that cannot open
  ::rmdir(tmpl);
}

TEST_CASE("backend creation refuses a blob image given without its blob") {
  auto img = fd_source::open((test::fixture_dir("plain-4k") + "/plain-4k.erofs").c_str());
  REQUIRE(img);
  const device_spec devs[] = {{*img, "/nonexistent-dir/a"}, {*img, "/nonexistent-dir/b"}};
  auto b = backend::create(devs);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == errc::invalid_argument);
}

TEST_CASE("backend creation refuses two devices sharing one sparse file") {
  auto fx = test::open_fixture("chunk-4k-blobdev");
  REQUIRE(fx);
  char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string sparse = std::string(tmpl) + "/same.sparse";
  const device_spec devs[] = {{*(*fx)->primary, sparse}, {(*fx)->device_refs[0], sparse}};
  auto b = backend::create(devs);
  ::unlink(sparse.c_str());
  ::rmdir(tmpl);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == errc::invalid_argument);
  CHECK(std::string(b.error().what) == "two devices share one sparse file");
}

TEST_CASE("kernel: the sparse file holds exactly the image's metadata after creation") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  auto fx = test::open_fixture("chunk-4k-blobdev");
  REQUIRE(fx);
  const device_spec devs[] = {{*(*fx)->primary, k.path("image.sparse")},
                              {(*fx)->device_refs[0], k.path("blob.sparse")}};
  SKIP_UNLESS_KERNEL(k.start(devs));
  // Reading the sparse file here raises events too (it is marked): the server must keep running,
  // and since every byte read is metadata, it must find them all present.
  read_context ctx;
  auto ranges = metadata_ranges((*fx)->img, ctx);
  REQUIRE(ranges);
  REQUIRE_FALSE(ranges->empty());
  int fd = ::open(k.be().sparse_path(0).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == (*fx)->primary->size());
  for (const metadata_range& r : *ranges) {
    REQUIRE(r.device == 0);
    std::vector<std::byte> want(r.length), got(r.length);
    REQUIRE(!(*fx)->primary->read_at(r.offset, want));
    REQUIRE(::pread(fd, got.data(), got.size(), static_cast<off_t>(r.offset)) ==
            static_cast<ssize_t>(got.size()));
    CHECK_MESSAGE(want == got, "metadata range at " << r.offset);
  }
  ::close(fd);
  // The blob holds only chunk data: nothing of it is prefetched.
  REQUIRE(::stat(k.be().sparse_path(1).c_str(), &st) == 0);
  CHECK(st.st_blocks == 0);
  k.stop();
  CHECK(k.be().stats().metadata_bytes % k.be().fill_align() == 0);
  CHECK(k.be().stats().bytes_fetched == 0);
  CHECK(k.be().stats().events >= 1);
}

namespace {
std::string slurp_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
bool mounted_at(const std::string& dir) {
  return slurp_file("/proc/self/mountinfo").find(" " + dir + " ") != std::string::npos;
}
}  // namespace

TEST_CASE("kernel: erofsfs serve-fanotify mounts a blob image, serves it and unmounts on SIGTERM") {
  if (std::string_view(EROFSFS_CLI).empty()) {
    MESSAGE("erofsfs tool not built: serve-fanotify test skipped");
    return;
  }
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  const std::string dir = test::fixture_dir("chunk-4k-blobdev");
  const std::string err_path = k.path("stderr");
  ::mkdir(k.mnt().c_str(), 0755);
  std::vector<std::string> args{EROFSFS_CLI,
                                "serve-fanotify",
                                dir + "/chunk-4k-blobdev.erofs",
                                k.path("image.sparse"),
                                "--device",
                                dir + "/chunk-4k-blobdev.blob",
                                k.path("blob.sparse"),
                                "--mount",
                                k.mnt()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  const int e = posix_spawn(&pid, EROFSFS_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(e == 0);

  // Wait for the tool to report the mount (or to exit); bounded at about a minute.
  bool up = false, exited = false;
  int status = 0;
  for (int i = 0; i < 1200 && !up && !exited; ++i) {
    up = slurp_file(err_path).find("mounted on") != std::string::npos;
    if (!up) {
      exited = ::waitpid(pid, &status, WNOHANG) == pid;
      ::usleep(50000);
    }
  }
  if (exited && slurp_file(err_path).find("not supported") != std::string::npos) {
    MESSAGE("fanotify kernel test skipped: " << slurp_file(err_path));
    return;
  }
  REQUIRE_MESSAGE(up, slurp_file(err_path));
  for (const manifest_file& f : regular_files("chunk-4k-blobdev")) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, f.path << ": " << std::strerror(h.err));
    CHECK_MESSAGE(h.hex == f.sha256, f.path);
  }
  REQUIRE(::kill(pid, SIGTERM) == 0);
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string log = slurp_file(err_path);
  CHECK_MESSAGE(log.find("exiting: metadata 32768 B, fetched 364544 B") != std::string::npos,
                log);
  CHECK_FALSE(mounted_at(k.mnt()));
}
