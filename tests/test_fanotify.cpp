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
#include <erofsfs/backends/fanotify/relay.hpp>
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

std::vector<manifest_file> regular_files_of(const std::string& manifest_path) {
  std::string err;
  const auto m = test::load_manifest(manifest_path, err);
  REQUIRE_MESSAGE(m, err);
  std::vector<manifest_file> files;
  for (const auto& [path, e] : *m)
    if (e.type == "file") files.push_back({path, e.size, e.sha256});
  return files;
}

std::vector<manifest_file> regular_files(const std::string& name) {
  return regular_files_of(test::fixture_dir(name) + "/manifest.jsonl");
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
  // Unmounts, stops and destroys the backend (releasing its lock); stats are gone after.
  void close() {
    unmount();
    stop();
    backend_.reset();
  }

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

// Why a kernel test that runs the erofsfs tool cannot run here (empty when it can).
std::string tool_kernel_unavailable() {
  if (std::string_view(EROFSFS_CLI).empty()) return "the erofsfs tool is not built";
  return kernel_fixture::unavailable();
}

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


// Runs `erofsfs serve-fanotify` on `image` (a --sparse file for it and for each of `blobs`),
// waits for its mount, compares every regular file with the manifest, stops it with SIGTERM and
// returns its log. Empty when the kernel cannot run it (reason in a MESSAGE).
std::string serve_with_cli(const std::string& image, const std::vector<std::string>& blobs,
                           const std::string& manifest_path) {
  if (const std::string why = tool_kernel_unavailable(); !why.empty()) {
    MESSAGE("fanotify kernel test skipped: " << why);
    return {};
  }
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  const std::string err_path = k.path("stderr");
  ::mkdir(k.mnt().c_str(), 0755);
  std::vector<std::string> args{EROFSFS_CLI, "serve-fanotify", image, "--sparse",
                                k.path("image.sparse")};
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    args.insert(args.end(), {"--device", blobs[i], "--sparse",
                             k.path("blob" + std::to_string(i) + ".sparse")});
  }
  args.insert(args.end(), {"--mount", k.mnt()});
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
    return {};
  }
  if (!up && !exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  REQUIRE_MESSAGE(up, image << ": " << slurp_file(err_path));
  const auto files = regular_files_of(manifest_path);
  REQUIRE(!files.empty());
  for (const manifest_file& f : files) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, image << ": " << f.path << ": " << std::strerror(h.err));
    CHECK_MESSAGE(h.hex == f.sha256, image << ": " << f.path);
  }
  REQUIRE(::kill(pid, SIGTERM) == 0);
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(mounted_at(k.mnt()));
  const std::string log = slurp_file(err_path);
  // The worker's last words (the holder only relays; the worker counted the fills).
  const std::size_t exiting = log.find(" exiting: metadata ");
  REQUIRE_MESSAGE(exiting != std::string::npos, log);
  CHECK_MESSAGE(log.find("denied 0), fill errors 0\n", exiting) != std::string::npos, log);
  return log;
}

std::string serve_fixture_with_cli(const std::string& name) {
  const std::string dir = test::fixture_dir(name);
  return serve_with_cli(dir + "/" + name + ".erofs", test::fixture_device_files(dir),
                        dir + "/manifest.jsonl");
}

}  // namespace

TEST_CASE("kernel: erofsfs serve-fanotify mounts a blob image, serves it and unmounts on SIGTERM") {
  const std::string log = serve_fixture_with_cli("chunk-4k-blobdev");
  if (log.empty()) return;
  CHECK_MESSAGE(log.find("exiting: metadata 32768 B, fetched 364544 B") != std::string::npos,
                log);
}

TEST_CASE("kernel: erofsfs serve-fanotify serves LZMA and Zstandard images") {
  serve_fixture_with_cli("lzma-ztail-frag-dedupe");
  serve_fixture_with_cli("zstd-ztail-frag-dedupe");
}

TEST_CASE("kernel: erofsfs serve-fanotify opens a zstd metabox image (it has every decoder)") {
  // Opening this image decodes the zstd-compressed metabox: without the tool's decoder table
  // the backend refuses it ("no zstd decompressor configured").
  const std::string regressions = std::string(EROFSFS_TEST_DATA) + "/regressions/";
  serve_with_cli(regressions + "metabox-zstd.erofs", {},
                 regressions + "metabox-zstd.manifest.jsonl");
}

TEST_CASE("kernel: erofsfs serve-fanotify opens an LZMA metabox image") {
  // The same tree with its inodes in a MicroLZMA-compressed metabox.
  const std::string regressions = std::string(EROFSFS_TEST_DATA) + "/regressions/";
  serve_with_cli(regressions + "metabox-lzma.erofs", {},
                 regressions + "metabox-lzma.manifest.jsonl");
}

// ---- one owner, persistent cache -----------------------------------------------------------

namespace {

// A source that counts the bytes read from it: what "fetched nothing" is measured with.
struct counting_source {
  source_ref inner;
  std::atomic<std::uint64_t>* bytes;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    bytes->fetch_add(dst.size());
    return inner.read_at(off, dst);
  }
  std::uint64_t size() const noexcept { return inner.size().value_or(0); }
};

// What a file is, without reading a marked sparse file (a read would make the backend fill it).
struct file_state {
  off_t size = -1;
  blkcnt_t blocks = -1;
  long mtime_ns = -1;
  std::string bytes;
  bool operator==(const file_state&) const = default;
};
file_state state_of(const std::string& path, bool with_bytes) {
  file_state f;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return f;
  f.size = st.st_size;
  f.blocks = st.st_blocks;
  f.mtime_ns = st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec;
  if (with_bytes) f.bytes = slurp_file(path);
  return f;
}

// A fresh cache root under the fixture's directory, removed with it.
struct cache_root {
  std::string dir;
  explicit cache_root(const std::string& parent) : dir(parent + "/cache") {}
  ~cache_root() {
    if (auto l = list_caches(dir))
      for (const cache_info& c : *l) (void)remove_cache(dir, c.id);
    ::rmdir(dir.c_str());
  }
};

backend_options cache_options(const cache_root& root, const char* id = "plain-4k") {
  backend_options o;
  o.cache_root = root.dir;
  o.cache_id = id;
  return o;
}

// Mounts the backend's image, checks every file of `fixture` against the manifest, unmounts.
void read_all_and_check(kernel_fixture& k, const std::string& fixture) {
  REQUIRE(k.mount({}) == "");
  for (const manifest_file& f : regular_files(fixture)) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, f.path << ": " << std::strerror(h.err));
    CHECK_MESSAGE(h.hex == f.sha256, f.path);
  }
  k.unmount();
  k.stop();
}

std::string plain_4k_image() { return test::fixture_dir("plain-4k") + "/plain-4k.erofs"; }

}  // namespace

TEST_CASE("kernel: a second backend on a locked cache is refused and leaves its files alone") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  cache_root root(k.dir());
  auto img = fd_source::open(plain_4k_image().c_str());
  REQUIRE(img);
  const device_spec devs[] = {{*img, ""}};
  SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root)));
  const std::string dir = k.be().cache_dir();
  const std::vector<std::string> names{"lock", "devices", "device-0.sparse", "filled.journal"};
  std::vector<file_state> before;
  for (const std::string& n : names)
    before.push_back(state_of(dir + "/" + n, n.find("sparse") == std::string::npos));
  CHECK(before[2].size > 0);

  auto second = backend::create(devs, cache_options(root));
  REQUIRE_FALSE(second);
  CHECK(second.error().code == std::error_code(EBUSY, std::system_category()));
  CHECK(std::string(second.error().what) == what::cache_is_locked_by_another_daemon);
  CHECK(second.error().value == static_cast<std::uint64_t>(::getpid()));  // the owner's pid
  for (std::size_t i = 0; i < names.size(); ++i)
    CHECK_MESSAGE(state_of(dir + "/" + names[i], names[i].find("sparse") == std::string::npos) ==
                      before[i],
                  names[i]);
  read_all_and_check(k, "plain-4k");  // the first one still serves every file right
  k.close();
}

TEST_CASE("kernel: a second backend on locked sparse files is refused and leaves them alone") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  auto img = fd_source::open(plain_4k_image().c_str());
  REQUIRE(img);
  const std::string sparse = k.path("image.sparse");
  const device_spec devs[] = {{*img, sparse}};
  SKIP_UNLESS_KERNEL(k.start(devs));
  const file_state before = state_of(sparse, false);
  auto second = backend::create(devs);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == std::error_code(EBUSY, std::system_category()));
  CHECK(std::string(second.error().what) == what::sparse_file_is_locked_by_another_daemon);
  CHECK(state_of(sparse, false) == before);
  read_all_and_check(k, "plain-4k");
}

TEST_CASE("kernel: a backend restarted over a complete cache reads nothing from its source") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string base = tmpl;
  {
    cache_root root(base);
    auto img = fd_source::open(plain_4k_image().c_str());
    REQUIRE(img);
    std::uint64_t first_total = 0;
    {
      kernel_fixture k;
      const device_spec devs[] = {{*img, ""}};
      SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root)));
      read_all_and_check(k, "plain-4k");
      first_total = k.be().stats().metadata_bytes + k.be().stats().bytes_fetched;
      CHECK(k.be().stats().reused_bytes == 0);
    }
    std::atomic<std::uint64_t> read{0};
    const counting_source counted{*img, &read};
    kernel_fixture k;
    const device_spec devs[] = {{counted, ""}};
    SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root)));
    CHECK(read.load() == 0);  // opening the image and its metadata came from the cache
    read_all_and_check(k, "plain-4k");
    const backend_stats s = k.be().stats();
    MESSAGE("first run filled " << first_total << " B; restart reused " << s.reused_bytes
                                << " B, read " << read.load() << " B from the source");
    CHECK(read.load() == 0);
    CHECK(s.metadata_bytes == 0);
    CHECK(s.bytes_fetched == 0);
    CHECK(s.reused_bytes == first_total);
    CHECK(s.denied == 0);
  }
  ::rmdir(base.c_str());
}

TEST_CASE("kernel: after a crash mid-fill a restart refetches exactly what the journal lacks") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string base = tmpl;
  {
    cache_root root(base);
    auto img = fd_source::open(plain_4k_image().c_str());
    REQUIRE(img);
    std::uint64_t first_total = 0;
    std::string journal;
    {
      kernel_fixture k;
      const device_spec devs[] = {{*img, ""}};
      SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root)));
      read_all_and_check(k, "plain-4k");
      first_total = k.be().stats().metadata_bytes + k.be().stats().bytes_fetched;
      journal = k.be().cache_dir() + "/filled.journal";
    }
    // The crash: only the first half of the records reached the journal, and the record being
    // written then is torn (a short write) - its range, and every later one, is not durable.
    struct stat st;
    REQUIRE(::stat(journal.c_str(), &st) == 0);
    const std::uint64_t records = static_cast<std::uint64_t>(st.st_size) / journal_record_size;
    REQUIRE(records >= 4);
    const std::uint64_t kept = records / 2;
    const std::string all = slurp_file(journal);
    interval_set durable;
    for (std::uint64_t i = 0; i < kept; ++i) {
      const auto* r = reinterpret_cast<const std::byte*>(all.data() + i * journal_record_size);
      REQUIRE(durable.insert(load_le64(r + 8), load_le64(r + 16)));
    }
    REQUIRE(::truncate(journal.c_str(),
                       static_cast<off_t>(kept * journal_record_size + journal_record_size / 2)) == 0);

    std::atomic<std::uint64_t> read{0};
    const counting_source counted{*img, &read};
    kernel_fixture k;
    const device_spec devs[] = {{counted, ""}};
    SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root)));
    read_all_and_check(k, "plain-4k");
    const backend_stats s = k.be().stats();
    MESSAGE("filled " << first_total << " B, durable after the crash " << durable.bytes()
                      << " B, refetched " << s.metadata_bytes + s.bytes_fetched << " B");
    CHECK(s.reused_bytes == durable.bytes());
    CHECK(s.metadata_bytes + s.bytes_fetched == first_total - durable.bytes());
    CHECK(read.load() >= first_total - durable.bytes());
    // The torn record was cut: the journal is whole records again.
    REQUIRE(::stat(journal.c_str(), &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) % journal_record_size == 0);
  }
  ::rmdir(base.c_str());
}

TEST_CASE("kernel: caches are listed with their fill state and removed only when unused") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  cache_root root(k.dir());
  auto img = fd_source::open(plain_4k_image().c_str());
  REQUIRE(img);
  const device_spec devs[] = {{*img, ""}};
  SKIP_UNLESS_KERNEL(k.start(devs, cache_options(root, "img-a")));
  auto busy = remove_cache(root.dir, "img-a");
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == std::error_code(EBUSY, std::system_category()));
  auto listed = list_caches(root.dir);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  const cache_info& c = (*listed)[0];
  CHECK(c.id == "img-a");
  CHECK(c.in_use);
  CHECK(c.owner_pid == static_cast<std::uint64_t>(::getpid()));
  REQUIRE(c.device_sizes.size() == 1);
  CHECK(c.device_sizes[0] == img->size());
  REQUIRE(c.filled_bytes.size() == 1);
  CHECK(c.filled_bytes[0] == k.be().stats().metadata_bytes);
  read_all_and_check(k, "plain-4k");
  auto after = list_caches(root.dir);
  REQUIRE(after);
  CHECK((*after)[0].filled_bytes[0] ==
        k.be().stats().metadata_bytes + k.be().stats().bytes_fetched);
  CHECK_FALSE(remove_cache(root.dir, "nope"));
  CHECK_FALSE(remove_cache(root.dir, "../etc"));
  k.close();
  REQUIRE(remove_cache(root.dir, "img-a"));
  auto none = list_caches(root.dir);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("a cache id that is not a plain name is refused") {
  CHECK(valid_cache_id("0123abcdef"));
  CHECK(valid_cache_id("my-image_v1.2"));
  CHECK_FALSE(valid_cache_id(""));
  CHECK_FALSE(valid_cache_id(".."));
  CHECK_FALSE(valid_cache_id("a/b"));
  CHECK_FALSE(valid_cache_id(".hidden"));
  CHECK_FALSE(valid_cache_id(std::string(max_cache_id_length + 1, 'a')));
  auto s = sparse_store::open_cache("/tmp", "a/b", 1);
  REQUIRE_FALSE(s);
  CHECK(std::string(s.error().what) == what::cache_id_is_not_valid);
}

TEST_CASE("journal replay stops at a corrupted record and keeps the ones before it") {
  char tmpl[] = "/tmp/erofsfs-journal-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string path = std::string(tmpl) + "/filled.journal";
  const std::uint64_t sizes[] = {1 << 20, 4096};
  {
    std::vector<interval_set> present(2);
    auto j = fill_journal::open(path, sizes, present);
    REQUIRE(j);
    REQUIRE(j->append(0, 0, 4096));
    REQUIRE(j->append(1, 0, 4096));
    REQUIRE(j->append(0, 8192, 12288));
    REQUIRE(j->append(0, 20480, 24576));
  }
  // Flip one bit of the third record's range: its checksum no longer matches.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * journal_record_size + 9);
    f.put('\x7f');
  }
  std::vector<interval_set> present(2);
  auto j = fill_journal::open(path, sizes, present);
  REQUIRE(j);
  CHECK(present[0].bytes() == 4096);
  CHECK(present[1].bytes() == 4096);
  CHECK(j->records() == 2);
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_size == static_cast<off_t>(2 * journal_record_size));
  // A range past its device's size (a journal of another image) is not trusted either.
  REQUIRE(j->append(1, 0, 8192));
  std::vector<interval_set> again(2);
  REQUIRE(fill_journal::open(path, sizes, again));
  CHECK(again[1].bytes() == 4096);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

// ---- fail closed: SIGKILL of the worker at random points -----------------------------------

namespace {

struct generated_file {
  std::string path;  // inside the image, starting with '/'
  std::string sha256;
};

// Writes `size` bytes of a xorshift stream seeded by `seed` to `path`; returns their sha256.
std::string write_pseudo_random(const std::string& path, std::uint64_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary);
  test::sha256 h;
  std::vector<std::byte> buf(1 << 16);
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (std::uint64_t done = 0; done < size;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, buf.size()));
    for (std::size_t i = 0; i < n; i += 8) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      for (std::size_t b = 0; b < 8 && i + b < n; ++b) buf[i + b] = std::byte(x >> (8 * b));
    }
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    h.update(std::span(buf.data(), n));
    done += n;
  }
  return h.hex();
}

// A generated image: one large file and a tree of small ones. Empty when mkfs.erofs is missing.
struct generated_image {
  std::string image;
  generated_file big;
  std::vector<generated_file> tree;
};

generated_image make_kill_test_image(const std::string& dir) {
  generated_image g;
  const std::string src = dir + "/src";
  ::mkdir(src.c_str(), 0755);
  g.big = {"/big", write_pseudo_random(src + "/big", 48ull << 20, 1)};
  for (int d = 0; d < 8; ++d) {
    const std::string sub = "/d" + std::to_string(d);
    ::mkdir((src + sub).c_str(), 0755);
    for (int f = 0; f < 40; ++f) {
      const std::string p = sub + "/f" + std::to_string(f);
      const std::uint64_t size = 1000 + static_cast<std::uint64_t>((d * 40 + f) * 7919 % 200000);
      g.tree.push_back({p, write_pseudo_random(src + p, size, 100 + d * 40 + f)});
    }
  }
  g.image = dir + "/gen.erofs";
  const std::string cmd = "mkfs.erofs --quiet " + g.image + " " + src + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) g.image.clear();
  return g;
}

struct spawned {
  pid_t pid = -1;
  std::string log;
};

spawned spawn_cli(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  spawned s;
  s.log = log;
  const int e = posix_spawn(&s.pid, EROFSFS_CLI, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(e == 0);
  return s;
}

// Waits (about a minute at most) for `text` in the log; false if the process exited first.
bool wait_for_log(const spawned& s, const std::string& text) {
  for (int i = 0; i < 1200; ++i) {
    if (slurp_file(s.log).find(text) != std::string::npos) return true;
    int st;
    if (::waitpid(s.pid, &st, WNOHANG) == s.pid) return false;
    ::usleep(50000);
  }
  return false;
}

// The pid of the daemon's current worker (the last one it reported), if it is alive and still
// the daemon's child (a pid read from the log is never killed after being reused).
pid_t current_worker(const spawned& s) {
  const std::string log = slurp_file(s.log);
  const std::string key = "worker pid ";
  const std::size_t at = log.rfind(key);
  if (at == std::string::npos) return -1;
  const pid_t pid = static_cast<pid_t>(std::atol(log.c_str() + at + key.size()));
  const std::string status = slurp_file("/proc/" + std::to_string(pid) + "/status");
  if (status.find("PPid:\t" + std::to_string(s.pid) + "\n") == std::string::npos) return -1;
  return pid;
}

struct kill_round {
  unsigned kills = 0;
  unsigned files = 0;
  unsigned wrong = 0;
  unsigned failed = 0;
  bool stuck = false;
};

// One cold read of `files` through a fresh cache while the worker is SIGKILLed every 10 to 250
// ms (random); every file's sha256 is compared. A reader not done two minutes in is stuck.
kill_round cold_read_under_kills(const std::string& image, const std::string& root,
                                 const std::string& id, const std::string& mnt,
                                 const std::string& log, const std::vector<generated_file>& files,
                                 std::uint32_t seed) {
  kill_round r;
  spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", image, "--cache-dir", root, "--id", id,
                         "--mount", mnt},
                        log);
  REQUIRE_MESSAGE(wait_for_log(d, "mounted on"), slurp_file(log));
  std::atomic<bool> done{false};
  std::vector<hash_result> got(files.size());
  std::thread reader([&] {
    for (std::size_t i = 0; i < files.size(); ++i) got[i] = hash_file(mnt + files[i].path);
    done = true;
  });
  std::uint32_t x = seed | 1;
  // Bounded: kills while the reader runs, for at most about two minutes.
  for (int waited_ms = 0; !done.load() && waited_ms < 120000;) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    // Long enough on average for a new worker to fill something, so the read moves on.
    const int pause_ms = 10 + static_cast<int>(x % 240);
    ::usleep(static_cast<useconds_t>(pause_ms) * 1000);
    waited_ms += pause_ms;
    if (done.load()) break;
    const pid_t w = current_worker(d);
    if (w > 0 && ::kill(w, SIGKILL) == 0) ++r.kills;
  }
  if (!done.load()) {
    // Stuck: kill the whole daemon so the reader returns (with whatever it gets), and fail.
    r.stuck = true;
    ::kill(d.pid, SIGKILL);
  }
  reader.join();
  for (std::size_t i = 0; i < files.size(); ++i) {
    ++r.files;
    if (!got[i].ok) ++r.failed;
    else if (got[i].hex != files[i].sha256) ++r.wrong;
  }
  if (!r.stuck) ::kill(d.pid, SIGTERM);
  int st = 0;
  REQUIRE(::waitpid(d.pid, &st, 0) == d.pid);
  if (!r.stuck) {
    CHECK_MESSAGE(WIFEXITED(st), slurp_file(log));
    CHECK_MESSAGE(WEXITSTATUS(st) == 0, slurp_file(log));
    CHECK_FALSE(mounted_at(mnt));
  } else {
    ::umount2(mnt.c_str(), MNT_DETACH);  // the killed daemon could not: leave no mount behind
  }
  return r;
}

}  // namespace

TEST_CASE("kernel: SIGKILL of the worker at random points never lets a reader see wrong bytes") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  const generated_image g = make_kill_test_image(k.dir());
  if (g.image.empty()) {
    MESSAGE("mkfs.erofs not available: kill test skipped");
    return;
  }
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  // Each phase runs cold rounds (a new cache id each) until it has seen 20 kills.
  struct phase {
    const char* name;
    std::vector<generated_file> files;
    kill_round total{};
    std::uint64_t bytes = 0;  // of the files, per cold read
    unsigned rounds = 0;
  } phases[] = {{"large file", {g.big}, {}, 48ull << 20}, {"whole tree", g.tree, {}, 0}};
  for (const generated_file& f : g.tree) {
    struct stat st;
    REQUIRE(::stat((k.dir() + "/src" + f.path).c_str(), &st) == 0);
    phases[1].bytes += static_cast<std::uint64_t>(st.st_size);
  }
  unsigned round = 0;
  for (phase& p : phases) {
    for (int n = 0; n < 20 && p.total.kills < 25; ++n, ++round) {
      const kill_round r =
          cold_read_under_kills(g.image, root, "round" + std::to_string(round), k.mnt(),
                                k.dir() + "/log" + std::to_string(round), p.files,
                                0x5eed0000u + round);
      p.total.kills += r.kills;
      p.total.files += r.files;
      p.total.wrong += r.wrong;
      p.total.failed += r.failed;
      p.total.stuck = p.total.stuck || r.stuck;
      ++p.rounds;
      if (r.stuck) break;
    }
    MESSAGE(std::string(p.name) << ": " << p.total.kills << " worker kills, " << p.total.files
                   << " files checked, " << p.total.wrong << " wrong, " << p.total.failed
                   << " failed reads" << std::string(p.total.stuck ? ", a reader was STUCK" : "")
                   << " in " << p.rounds << " cold reads of " << p.bytes << " B");
    CHECK(p.total.kills >= 25);
    CHECK(p.total.wrong == 0);
    CHECK(p.total.failed == 0);
    CHECK_FALSE(p.total.stuck);
  }
  // The cache the last round's killed workers filled is whole: a new daemon over it reads
  // every file of that round right without fetching a byte.
  {
    const std::string log = k.dir() + "/log-restart";
    spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", g.image, "--cache-dir", root, "--id",
                           "round" + std::to_string(round - 1), "--mount", k.mnt()},
                          log);
    REQUIRE_MESSAGE(wait_for_log(d, "mounted on"), slurp_file(log));
    for (const generated_file& f : g.tree) {
      const hash_result h = hash_file(k.mnt() + f.path);
      REQUIRE(h.ok);
      CHECK_MESSAGE(h.hex == f.sha256, f.path);
    }
    REQUIRE(::kill(d.pid, SIGTERM) == 0);
    int st = 0;
    REQUIRE(::waitpid(d.pid, &st, 0) == d.pid);
    CHECK(WEXITSTATUS(st) == 0);
    const std::string text = slurp_file(log);
    MESSAGE("restart over the cache of a killed round: " << text);
    CHECK(text.find("metadata prefetched: metadata 0 B") != std::string::npos);
    CHECK(text.find("exiting: metadata 0 B, fetched 0 B") != std::string::npos);
  }
  // Leave nothing behind: the caches, the logs, the generated tree.
  if (auto l = list_caches(root))
    for (const cache_info& c : *l) (void)remove_cache(root, c.id);
  ::rmdir(root.c_str());
  std::system(("rm -rf " + k.dir() + "/src " + k.dir() + "/log* " + g.image).c_str());
}

TEST_CASE("kernel: SIGTERM on a busy mount keeps serving it and unmounts once it is idle") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  const std::string log = k.path("stderr");
  spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", plain_4k_image(), "--cache-dir", root,
                         "--id", "busy", "--mount", k.mnt()},
                        log);
  REQUIRE_MESSAGE(wait_for_log(d, "mounted on"), slurp_file(log));
  const int busy = ::open((k.mnt() + "/data/text-96k").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(busy >= 0);
  REQUIRE(::kill(d.pid, SIGTERM) == 0);
  REQUIRE_MESSAGE(wait_for_log(d, "is busy; still serving"), slurp_file(log));
  // Still served after the stop request: the open file reads right, cold.
  for (const manifest_file& f : regular_files("plain-4k"))
    if (f.path == "/data/text-96k") {
      test::sha256 h;
      std::vector<std::byte> buf(f.size);
      REQUIRE(::pread(busy, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()));
      h.update(buf);
      CHECK(h.hex() == f.sha256);
    }
  CHECK(mounted_at(k.mnt()));
  ::close(busy);
  int st = 0;
  pid_t got = 0;
  for (int i = 0; i < 600 && got == 0; ++i) {  // retried every second: about a minute at most
    got = ::waitpid(d.pid, &st, WNOHANG);
    if (got == 0) ::usleep(100000);
  }
  if (got == 0) ::kill(d.pid, SIGKILL), ::waitpid(d.pid, &st, 0);
  REQUIRE_MESSAGE(got == d.pid, slurp_file(log));
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_FALSE(mounted_at(k.mnt()));
  REQUIRE(remove_cache(root, "busy"));
  ::rmdir(root.c_str());
}

TEST_CASE("kernel: serve-fanotify refuses a second daemon on the same cache with the owner's pid") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  spawned first = spawn_cli({EROFSFS_CLI, "serve-fanotify", plain_4k_image(), "--cache-dir",
                             root, "--mount", k.mnt()},
                            k.path("first"));
  REQUIRE_MESSAGE(wait_for_log(first, "mounted on"), slurp_file(first.log));
  spawned second = spawn_cli({EROFSFS_CLI, "serve-fanotify", plain_4k_image(), "--cache-dir",
                              root},
                             k.path("second"));
  int st = 0;
  REQUIRE(::waitpid(second.pid, &st, 0) == second.pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 1);
  const std::string why = slurp_file(second.log);
  CHECK_MESSAGE(why.find("cache is locked by another daemon") != std::string::npos, why);
  CHECK_MESSAGE(why.find(std::to_string(first.pid)) != std::string::npos, why);
  for (const manifest_file& f : regular_files("plain-4k")) {  // the first one is unharmed
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE(h.ok);
    CHECK_MESSAGE(h.hex == f.sha256, f.path);
  }
  REQUIRE(::kill(first.pid, SIGTERM) == 0);
  REQUIRE(::waitpid(first.pid, &st, 0) == first.pid);
  CHECK(WEXITSTATUS(st) == 0);
  if (auto l = list_caches(root))
    for (const cache_info& c : *l) CHECK(remove_cache(root, c.id));
  ::rmdir(root.c_str());
}

TEST_CASE("relay messages: malformed events and answers are protocol errors") {
  std::byte msg[relay::event_size];
  event e;
  e.mask = abi::pre_access;
  e.offset = 4096;
  e.count = 8192;
  e.has_range = true;
  e.pid = 77;
  relay::encode_event(12, e, msg);
  std::int32_t id = -1;
  auto back = relay::decode_event(msg, id);
  REQUIRE(back);
  CHECK(id == 12);
  CHECK(back->offset == 4096);
  CHECK(back->count == 8192);
  CHECK(back->has_range);
  CHECK(back->pid == 77);
  CHECK_FALSE(relay::decode_event(std::span(msg, relay::event_size - 1), id));
  const std::uint64_t huge = ~std::uint64_t{0};
  std::memcpy(msg + 24, &huge, 8);  // offset + count overflows
  CHECK(std::string(relay::decode_event(msg, id).error().what) == what::relay_event_is_malformed);

  std::byte ans[relay::answer_size];
  relay::encode_answer(5, abi::deny_errno(EIO), ans);
  auto r = relay::decode_answer(ans, id);
  REQUIRE(r);
  CHECK(*r == abi::deny_errno(EIO));
  CHECK(id == 5);
  relay::encode_answer(5, 0x10, ans);  // neither allow nor deny
  CHECK_FALSE(relay::decode_answer(ans, id));
  relay::encode_answer(5, abi::allow | abi::deny, ans);
  CHECK_FALSE(relay::decode_answer(ans, id));
}

TEST_CASE("a journal with many more records than ranges is compacted when it is replayed") {
  char tmpl[] = "/tmp/erofsfs-journal-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string path = std::string(tmpl) + "/filled.journal";
  const std::uint64_t sizes[] = {1 << 20};
  {
    std::vector<interval_set> present(1);
    auto j = fill_journal::open(path, sizes, present);
    REQUIRE(j);
    for (std::uint64_t i = 0; i < 2000; ++i) REQUIRE(j->append(0, i * 256, i * 256 + 512));
    CHECK(j->records() == 2000);
  }
  std::vector<interval_set> present(1);
  auto j = fill_journal::open(path, sizes, present);
  REQUIRE(j);
  CHECK(present[0].bytes() == 1999 * 256 + 512);
  CHECK(j->records() == 1);  // one coalesced range
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_size == static_cast<off_t>(journal_record_size));
  CHECK(::stat((path + ".tmp").c_str(), &st) != 0);
  // Appends go to the new file.
  REQUIRE(j->append(0, 1 << 19, (1 << 19) + 4096));
  std::vector<interval_set> again(1);
  REQUIRE(fill_journal::open(path, sizes, again));
  CHECK(again[0].bytes() == present[0].bytes() + 4096);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

TEST_CASE("kernel: with no worker the holder denies readers with EIO after its timeout, never zeros") {
  SKIP_UNLESS_KERNEL(kernel_fixture::unavailable());
  char tmpl[] = "/tmp/erofsfs-fanotify-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string dir = tmpl, mnt = dir + "/mnt", sparse = dir + "/image.sparse";
  ::mkdir(mnt.c_str(), 0755);
  auto img = fd_source::open(plain_4k_image().c_str());
  REQUIRE(img);
  const device_spec devs[] = {{*img, sparse}};
  auto b = backend::create(devs);
  if (!b) {
    ::unlink(sparse.c_str());
    ::rmdir(mnt.c_str());
    ::rmdir(dir.c_str());
    SKIP_UNLESS_KERNEL(b.error().message());
  }
  holder::options ho;
  ho.orphan_timeout_ms = 300;
  holder h((*b)->release_group(), ho);
  std::atomic<bool> stop{false}, relay_ok{true};
  std::thread relay_thread([&] {
    while (!stop.load())
      if (!h.run_once(50)) relay_ok = false;
  });
  REQUIRE(mount_erofs(sparse, {}, mnt));
  const hash_result r = hash_file(mnt + "/data/text-96k");  // its data was never filled
  CHECK_FALSE(r.ok);
  CHECK(r.err == EIO);
  CHECK(h.pending() == 0);
  CHECK(::umount2(mnt.c_str(), 0) == 0);
  stop = true;
  relay_thread.join();
  CHECK(relay_ok.load());
  ::unlink(sparse.c_str());
  ::rmdir(mnt.c_str());
  ::rmdir(dir.c_str());
}

// ---- prefetch ---------------------------------------------------------------------------------

namespace {

// Where `text` first occurs in `log` at or after `from` (npos: nowhere).
std::size_t find_in(const std::string& log, const std::string& text, std::size_t from = 0) {
  return from > log.size() ? std::string::npos : log.find(text, from);
}

// Stops a daemon with SIGTERM and checks it exited cleanly.
void stop_daemon(const spawned& d) {
  REQUIRE(::kill(d.pid, SIGTERM) == 0);
  int st = 0;
  REQUIRE(::waitpid(d.pid, &st, 0) == d.pid);
  CHECK_MESSAGE(WIFEXITED(st), slurp_file(d.log));
  CHECK_MESSAGE(WEXITSTATUS(st) == 0, slurp_file(d.log));
}

}  // namespace

TEST_CASE("kernel: after --prefetch of two files completes, reading them fetches nothing") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  std::vector<manifest_file> wanted;
  for (const manifest_file& f : regular_files("plain-4k"))
    if (f.size > 4096 && wanted.size() < 2) wanted.push_back(f);
  REQUIRE(wanted.size() == 2);
  spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", plain_4k_image(), "--cache-dir", root,
                         "--id", "prefetch", "--mount", k.mnt(), "--prefetch", wanted[0].path,
                         "--prefetch", wanted[1].path, "--log-fills"},
                        k.path("stderr"));
  REQUIRE_MESSAGE(wait_for_log(d, "prefetch done"), slurp_file(d.log));
  const std::string at_done = slurp_file(d.log);
  CHECK_MESSAGE(at_done.find("prefetch done: 2 files, ") != std::string::npos, at_done);
  CHECK_MESSAGE(at_done.find(" 0 failed") != std::string::npos, at_done);
  CHECK_MESSAGE(at_done.find("fill for pid") != std::string::npos, at_done);  // it filled
  for (const manifest_file& f : wanted) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, f.path);
    CHECK_MESSAGE(h.hex == f.sha256, f.path);
  }
  stop_daemon(d);
  const std::string log = slurp_file(d.log);
  const std::size_t done = log.find("prefetch done");
  CHECK_MESSAGE(find_in(log, "fill for pid", done) == std::string::npos, log);
  REQUIRE(remove_cache(root, "prefetch"));
  ::rmdir(root.c_str());
}

TEST_CASE("kernel: a reader during --prefetch-all is answered before the prefetch finishes") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  const generated_image g = make_kill_test_image(k.dir());
  if (g.image.empty()) {
    MESSAGE("mkfs.erofs not available: prefetch test skipped");
    return;
  }
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", g.image, "--cache-dir", root, "--id",
                         "all", "--mount", k.mnt(), "--prefetch-all", "--log-fills"},
                        k.path("stderr"));
  REQUIRE_MESSAGE(wait_for_log(d, "mounted on"), slurp_file(d.log));
  // The tree's files, last first: the prefetch walks the image from its start, so the first of
  // them to be read is very likely still missing, and its reader's fill is then in the log.
  const std::string reader_fill = "fill for pid " + std::to_string(::getpid()) + ":";
  bool read_while_prefetching = false;
  for (std::size_t i = g.tree.size(); i-- > 0;) {
    const hash_result h = hash_file(k.mnt() + g.tree[i].path);
    REQUIRE_MESSAGE(h.ok, g.tree[i].path);
    CHECK_MESSAGE(h.hex == g.tree[i].sha256, g.tree[i].path);
    const std::string log = slurp_file(d.log);
    if (log.find(reader_fill) != std::string::npos) {
      // Answered, and the prefetcher has not said it is done: the reader went first.
      read_while_prefetching = log.find("prefetch done") == std::string::npos;
      break;
    }
  }
  REQUIRE_MESSAGE(wait_for_log(d, "prefetch done"), slurp_file(d.log));
  const std::string log = slurp_file(d.log);
  if (log.find(reader_fill) == std::string::npos) {
    MESSAGE("the prefetch filled every file before it was read: ordering not observed");
  } else {
    CHECK_MESSAGE(read_while_prefetching, log);
    CHECK(log.find(reader_fill) < log.find("prefetch done"));
  }
  CHECK_MESSAGE(log.find("and all devices, ") != std::string::npos, log);
  CHECK_MESSAGE(log.find(" 0 failed") != std::string::npos, log);
  // Everything is present now: a full read fetches nothing.
  const std::size_t done = log.find("prefetch done");
  for (const generated_file& f : g.tree) {
    const hash_result h = hash_file(k.mnt() + f.path);
    REQUIRE_MESSAGE(h.ok, f.path);
    CHECK_MESSAGE(h.hex == f.sha256, f.path);
  }
  const hash_result big = hash_file(k.mnt() + g.big.path);
  REQUIRE(big.ok);
  CHECK(big.hex == g.big.sha256);
  stop_daemon(d);
  const std::string end = slurp_file(d.log);
  CHECK_MESSAGE(find_in(end, "fill for pid", done) == std::string::npos, end);
  REQUIRE(remove_cache(root, "all"));
  ::rmdir(root.c_str());
}

// ---- concurrent fills -------------------------------------------------------------------------

TEST_CASE("kernel: 8 readers on 8 fill threads read the right bytes and fetch no byte twice") {
  SKIP_UNLESS_KERNEL(tool_kernel_unavailable());
  kernel_fixture k;
  REQUIRE(!k.dir().empty());
  const generated_image g = make_kill_test_image(k.dir());
  if (g.image.empty()) {
    MESSAGE("mkfs.erofs not available: concurrent fill test skipped");
    return;
  }
  ::mkdir(k.mnt().c_str(), 0755);
  const std::string root = k.dir() + "/cache";
  spawned d = spawn_cli({EROFSFS_CLI, "serve-fanotify", g.image, "--cache-dir", root, "--id",
                         "threads", "--mount", k.mnt(), "--fill-threads", "8", "--log-fills"},
                        k.path("stderr"));
  REQUIRE_MESSAGE(wait_for_log(d, "mounted on"), slurp_file(d.log));
  // Every reader reads every file, each from a different starting point, so the same ranges are
  // asked for by several readers at once.
  std::vector<generated_file> all = g.tree;
  all.push_back(g.big);
  std::atomic<unsigned> wrong{0}, failed{0};
  std::vector<std::thread> readers;
  for (std::size_t r = 0; r < 8; ++r)
    readers.emplace_back([&, r] {
      for (std::size_t n = 0; n < all.size(); ++n) {
        const generated_file& f = all[(r * all.size() / 8 + n) % all.size()];
        const hash_result h = hash_file(k.mnt() + f.path);
        if (!h.ok) failed.fetch_add(1);
        else if (h.hex != f.sha256) wrong.fetch_add(1);
      }
    });
  for (std::thread& t : readers) t.join();
  CHECK(failed.load() == 0);
  CHECK(wrong.load() == 0);
  stop_daemon(d);
  // A byte is fetched at most once: the fills' bytes add up to no more than the image.
  const std::string log = slurp_file(d.log);
  std::uint64_t fetched = 0;
  unsigned fills = 0;
  for (std::size_t at = log.find("fill for pid"); at != std::string::npos;
       at = log.find("fill for pid", at + 1)) {
    const std::size_t f = log.find(", fetched ", at);
    REQUIRE(f != std::string::npos);
    fetched += std::strtoull(log.c_str() + f + 10, nullptr, 10);
    ++fills;
  }
  struct stat st;
  REQUIRE(::stat(g.image.c_str(), &st) == 0);
  CHECK(fills > 0);
  CHECK_MESSAGE(fetched <= static_cast<std::uint64_t>(st.st_size), log);
  REQUIRE(remove_cache(root, "threads"));
  ::rmdir(root.c_str());
}
