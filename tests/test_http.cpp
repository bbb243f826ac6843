// The HTTP range source (erofsfs/io/http_source.hpp) against real servers started here on
// 127.0.0.1: Debian's nginx serving tests/data/images, and tests/support/http_fault_proxy.py
// in front of it injecting one fault each. Every fault gives either a retry that returns the
// right bytes or its named error with the caller's buffer untouched.
//
// Built only when libcurl is found; cases print "http skipped: <why>" where nginx or python3 is
// missing (ctest reports them as skipped).
#include <doctest/doctest.h>

#ifndef EROFSFS_HAVE_CURL

TEST_CASE("http: the HTTP source tests") {
  MESSAGE("http skipped: libcurl not found at build time (Debian libcurl4-openssl-dev)");
}

#else

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/http_source.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/fixture_list.hpp"
#include "support/http_servers.hpp"
#include "support/manifest.hpp"
#include "support/run_program.hpp"


namespace {

using erofsfs::http_options;
using erofsfs::http_source;
using erofsfs::test::fault_proxy;
using erofsfs::test::nginx_server;
namespace what = erofsfs::what;

const std::string images_dir = std::string(EROFSFS_TEST_DATA) + "/images";

std::string image_path(const std::string& name) { return "/" + name + "/" + name + ".erofs"; }

std::vector<std::byte> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), path);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  std::memcpy(out.data(), c.data(), c.size());
  return out;
}

// nginx on the fixture images, or the reason it could not run (then the case skips).
std::unique_ptr<nginx_server> start_nginx(std::string& why) {
  auto s = std::make_unique<nginx_server>();
  why = s->start(images_dir);
  if (!why.empty()) return nullptr;
  return s;
}

#define EROFSFS_NEED_NGINX(srv)                   \
  std::string why_;                               \
  auto srv = start_nginx(why_);                   \
  if (!srv) {                                     \
    MESSAGE("http skipped: " << why_);            \
    return;                                       \
  }

// Short delays so retried faults finish quickly; timeouts far above loopback latency.
http_options fast_retries() {
  http_options o;
  o.backoff_initial_ms = 5;
  o.backoff_max_ms = 50;
  o.max_retries = 3;
  o.request_timeout_ms = 10'000;
  return o;
}

// A source through a fault proxy, uncached so every read is a request: the fault hits the
// requests from `skip` on (request 0 is open()'s first block), `count` of them (-1: all).
struct faulty {
  std::unique_ptr<nginx_server> nginx;
  fault_proxy proxy;
  std::string why;
  erofsfs::result<http_source> src = erofsfs::make_error(erofsfs::errc::internal, "not opened");

  faulty(const std::string& fault, int skip, int count, http_options opt,
         std::vector<std::string> extra = {}) {
    nginx = start_nginx(why);
    if (!nginx) return;
    std::vector<std::string> args{"--fault", fault, "--skip", std::to_string(skip), "--count",
                                  std::to_string(count)};
    args.insert(args.end(), extra.begin(), extra.end());
    why = proxy.start(nginx->port(), args);
    if (!why.empty()) return;
    opt.cache_bytes = 0;
    src = http_source::open(proxy.url(image_path("plain-4k")), opt);
  }
};

#define EROFSFS_NEED_PROXY(f)            \
  if (!f.why.empty()) {                  \
    MESSAGE("http skipped: " << f.why);  \
    return;                              \
  }                                      \
  REQUIRE_MESSAGE(f.src, (f.src ? std::string() : f.src.error().message()));

const std::vector<std::byte>& plain_4k() {
  static const std::vector<std::byte> bytes = file_bytes(images_dir + image_path("plain-4k"));
  return bytes;
}

// A read of 6000 bytes at 10000 (two blocks of 4 KiB, misaligned) that must equal the file.
void check_read_ok(const http_source& src) {
  std::vector<std::byte> got(6000);
  const erofsfs::status st = src.read(10000, got);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message() + "; " + src.last_failure()));
  CHECK(std::equal(got.begin(), got.end(), plain_4k().begin() + 10000));
}

// The same read must fail with `expected`, leaving the buffer as it was.
void check_read_fails(const http_source& src, const char* expected) {
  std::vector<std::byte> got(6000, std::byte{0xA5});
  const erofsfs::status st = src.read(10000, got);
  REQUIRE_FALSE(st);
  CHECK(std::string_view(st.error().what) == std::string_view(expected));
  CHECK(st.error().offset == 10000);
  CHECK(std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0xA5}; }));
  const std::string text = src.last_failure();
  CAPTURE(text);
  CHECK(text.find("bytes=10000-15999") != std::string::npos);
  CHECK(text.find("/plain-4k/plain-4k.erofs") != std::string::npos);
  CHECK(text.find(expected) != std::string::npos);
}

// --- header parsing -----------------------------------------------------------------------

TEST_CASE("http: Content-Range parsing accepts only bytes FIRST-LAST/TOTAL in order") {
  using erofsfs::detail::http_parse_content_range;
  const auto ok = http_parse_content_range("bytes 10-19/100");
  REQUIRE(ok);
  CHECK(ok->first == 10);
  CHECK(ok->last == 19);
  CHECK(ok->total == 100);
  CHECK(http_parse_content_range("Bytes 0-0/1"));
  for (const char* bad : {"bytes 10-19/*", "bytes */100", "bytes 19-10/100", "bytes 0-100/100",
                          "bytes 0-1/0", "items 0-1/2", "bytes -1-2/3", "bytes 0-1/2x",
                          "bytes 0--1/2", "bytes 0-18446744073709551616/1", "bytes ", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(http_parse_content_range(bad));
  }
}

// --- against nginx ------------------------------------------------------------------------

TEST_CASE("http: every fixture image read over HTTP equals its local read") {
  EROFSFS_NEED_NGINX(srv);
  for (const std::string& name : erofsfs::test::fixture_names()) {
    CAPTURE(name);
    auto local = erofsfs::test::open_fixture(name, erofsfs::test::all_decoders());
    REQUIRE(local);
    auto want = erofsfs::test::entries_from_image((*local)->img);
    REQUIRE(want);

    http_options opt;
    opt.block_size = 16 * 1024;  // several blocks even in small images
    auto primary = http_source::open(srv->url(image_path(name)), opt);
    REQUIRE_MESSAGE(primary, (primary ? std::string() : primary.error().message()));
    CHECK(primary->size() == std::filesystem::file_size(images_dir + image_path(name)));
    std::vector<std::unique_ptr<http_source>> devices;
    std::vector<erofsfs::source_ref> refs;
    for (const std::string& file : (*local)->device_files) {
      const std::string rel = file.substr(images_dir.size());
      auto d = http_source::open(srv->url(rel), opt);
      REQUIRE(d);
      devices.push_back(std::make_unique<http_source>(std::move(*d)));
      refs.emplace_back(*devices.back());
    }
    erofsfs::open_options oo;
    oo.devices = refs;
    oo.decompressors = erofsfs::test::all_decoders();
    auto img = erofsfs::open_image(*primary, oo);
    REQUIRE_MESSAGE(img, (img ? std::string() : img.error().message()));
    auto got = erofsfs::test::entries_from_image(*img);
    REQUIRE_MESSAGE(got, (got ? std::string() : got.error().message()));
    const auto diffs = erofsfs::test::compare_manifests(*want, *got);
    for (const std::string& d : diffs) FAIL_CHECK(d);
    CHECK(diffs.empty());
    CHECK(primary->counters().retries == 0);
  }
}

TEST_CASE("http: open learns the size from the first block's Content-Range") {
  EROFSFS_NEED_NGINX(srv);
  auto src = http_source::open(srv->url(image_path("plain-4k")));
  REQUIRE(src);
  CHECK(src->size() == plain_4k().size());
  CHECK(src->counters().requests == 1);
  CHECK(erofsfs::source_ref(*src).size() == plain_4k().size());
}

TEST_CASE("http: an object smaller than a block is read whole") {
  EROFSFS_NEED_NGINX(srv);
  const std::string path = "/plain-4k/info.json";
  const std::vector<std::byte> want = file_bytes(images_dir + path);
  REQUIRE(want.size() < 64 * 1024);
  auto src = http_source::open(srv->url(path));
  REQUIRE(src);
  CHECK(src->size() == want.size());
  std::vector<std::byte> got(want.size());
  REQUIRE(src->read(0, got));
  CHECK(got == want);
  CHECK(src->counters().requests == 1);  // served from the block open() fetched
}

TEST_CASE("http: cached blocks are not fetched again") {
  EROFSFS_NEED_NGINX(srv);
  http_options opt;
  opt.block_size = 4096;
  opt.readahead_blocks = 0;
  auto src = http_source::open(srv->url(image_path("plain-4k")), opt);
  REQUIRE(src);
  check_read_ok(*src);
  const auto before = src->counters();
  check_read_ok(*src);
  const auto after = src->counters();
  CHECK(after.requests == before.requests);
  CHECK(after.cache_hits == before.cache_hits + 2);
}

TEST_CASE("http: small sequential reads are merged into block runs with read-ahead") {
  EROFSFS_NEED_NGINX(srv);
  http_options opt;
  opt.block_size = 4096;
  opt.readahead_blocks = 7;  // a miss fetches 8 blocks
  auto src = http_source::open(srv->url(image_path("plain-4k")), opt);
  REQUIRE(src);
  REQUIRE(plain_4k().size() >= 4096 * 33);
  const auto before = src->counters().requests;
  std::vector<std::byte> piece(512);
  for (std::uint64_t off = 4096; off < 4096 * 33; off += piece.size()) {  // 256 reads
    REQUIRE(src->read(off, piece));
    CHECK(std::equal(piece.begin(), piece.end(), plain_4k().begin() + static_cast<long>(off)));
  }
  CHECK(src->counters().requests - before == 4);  // 32 blocks in runs of 8
}

TEST_CASE("http: the block cache evicts the least recently used block at its byte bound") {
  EROFSFS_NEED_NGINX(srv);
  http_options opt;
  opt.block_size = 4096;
  opt.readahead_blocks = 0;
  opt.cache_bytes = 2 * 4096;  // two blocks; block 0 from open() is the first victim
  auto src = http_source::open(srv->url(image_path("plain-4k")), opt);
  REQUIRE(src);
  std::vector<std::byte> b(4096);
  REQUIRE(src->read(1 * 4096, b));
  REQUIRE(src->read(2 * 4096, b));  // evicts block 0
  const auto n = src->counters().requests;
  REQUIRE(src->read(2 * 4096, b));  // cached
  CHECK(src->counters().requests == n);
  REQUIRE(src->read(0, b));  // evicted: fetched again
  CHECK(src->counters().requests == n + 1);
  CHECK(std::equal(b.begin(), b.end(), plain_4k().begin()));
}

TEST_CASE("http: threads sharing one source read the object's bytes") {
  EROFSFS_NEED_NGINX(srv);
  http_options opt;
  opt.block_size = 4096;
  opt.cache_bytes = 64 * 1024;  // small, so blocks are evicted and refetched under contention
  auto src = http_source::open(srv->url(image_path("real-doc")), opt);
  REQUIRE(src);
  const std::vector<std::byte> want = file_bytes(images_dir + image_path("real-doc"));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t x = 0x9E3779B97F4A7C15ull * (t + 1);
      std::vector<std::byte> buf;
      for (int i = 0; i < 200; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint64_t len = 1 + x % 20000;
        const std::uint64_t off = (x >> 20) % (want.size() - len);
        buf.assign(len, std::byte{0});
        if (!src->read(off, buf) ||
            !std::equal(buf.begin(), buf.end(), want.begin() + static_cast<long>(off)))
          ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0);
}

TEST_CASE("http: redirects are followed") {
  EROFSFS_NEED_NGINX(srv);
  auto src = http_source::open(srv->url("/redirect" + image_path("plain-4k")));
  REQUIRE(src);
  CHECK(src->size() == plain_4k().size());
  check_read_ok(*src);
}

TEST_CASE("http: a redirect loop ends in too_many_redirects") {
  EROFSFS_NEED_NGINX(srv);
  http_options opt;
  opt.max_redirects = 3;
  auto src = http_source::open(srv->url("/loop"), opt);
  REQUIRE_FALSE(src);
  CHECK(std::string_view(src.error().what) == what::http_too_many_redirects);
}

TEST_CASE("http: a missing object is not_found") {
  EROFSFS_NEED_NGINX(srv);
  auto src = http_source::open(srv->url("/no-such-image.erofs"));
  REQUIRE_FALSE(src);
  CHECK(src.error().code == erofsfs::errc::not_found);
  CHECK(std::string_view(src.error().what) == what::http_object_not_found);
  CHECK(src.error().value == 404);
}

TEST_CASE("http: a read past the end is truncated without a request") {
  EROFSFS_NEED_NGINX(srv);
  auto src = http_source::open(srv->url(image_path("plain-4k")));
  REQUIRE(src);
  std::vector<std::byte> b(16);
  const auto st = src->read(src->size() - 8, b);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == erofsfs::errc::truncated);
  CHECK(std::string_view(st.error().what) == what::http_read_past_the_end_of_the_object);
  CHECK(src->counters().requests == 1);
}

TEST_CASE("http: a connection refused is retried, then connection_failed") {
  http_options opt = fast_retries();
  opt.max_retries = 2;
  const int port = erofsfs::test::free_port();  // nobody listens there
  auto src = http_source::open("http://127.0.0.1:" + std::to_string(port) + "/x.erofs", opt);
  REQUIRE_FALSE(src);
  CHECK(std::string_view(src.error().what) == what::http_connection_failed);
}

TEST_CASE("http: URLs other than http:// and https:// are refused") {
  for (const char* url : {"ftp://127.0.0.1/x", "file:///etc/passwd", "/tmp/x.erofs", "http://"}) {
    CAPTURE(url);
    auto src = http_source::open(url);
    REQUIRE_FALSE(src);
    CHECK(std::string_view(src.error().what) == what::http_url_is_not_http_or_https);
  }
}

TEST_CASE("http: a block size that is not a power of two is refused") {
  http_options opt;
  opt.block_size = 3000;
  auto src = http_source::open("http://127.0.0.1:1/x", opt);
  REQUIRE_FALSE(src);
  CHECK(std::string_view(src.error().what) == what::http_option_out_of_range);
}

// --- through the fault proxy ----------------------------------------------------------------

TEST_CASE("http fault: reads from several threads run concurrently") {
  http_options opt = fast_retries();
  opt.max_retries = 0;  // a serialised client would see the gate's 503
  // The gate answers only once 4 requests are in flight together (waiting 20 s at most).
  faulty f("gate", 1, -1, opt, {"--gate", "4", "--stall", "20"});
  EROFSFS_NEED_PROXY(f);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<std::byte> b(4096);
      const std::uint64_t off = 4096 * (2 + t);
      if (f.src->read(off, b) &&
          std::equal(b.begin(), b.end(), plain_4k().begin() + static_cast<long>(off)))
        ++ok;
    });
  for (auto& th : threads) th.join();
  CHECK(ok.load() == 4);
}

TEST_CASE("http fault: a connection dropped mid-body is retried") {
  faulty f("drop", 1, 1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_ok(*f.src);
  CHECK(f.src->counters().retries == 1);
}

TEST_CASE("http fault: a connection dropped on every try ends in connection_closed_mid_body") {
  faulty f("drop", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_connection_closed_mid_body);
  CHECK(f.src->counters().retries == 3);
  CHECK(f.src->last_failure().find("after 3 retries") != std::string::npos);
}

TEST_CASE("http fault: 500 then OK is retried") {
  faulty f("status500", 1, 2, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_ok(*f.src);
  CHECK(f.src->counters().retries == 2);
}

TEST_CASE("http fault: 500 on every try ends in server_error_status naming the status") {
  faulty f("status500", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_server_error_status);
  std::vector<std::byte> b(10);
  CHECK(f.src->read(10000, b).error().value == 500);
  CHECK(f.src->last_failure().find("HTTP 500") != std::string::npos);
}

TEST_CASE("http fault: 429 with Retry-After is retried, waiting at most the cap") {
  http_options opt = fast_retries();
  opt.retry_after_cap_ms = 20;  // the proxy asks for an hour
  faulty f("status429", 1, 1, opt, {"--retry-after", "3600"});
  EROFSFS_NEED_PROXY(f);
  check_read_ok(*f.src);
  CHECK(f.src->counters().retries == 1);
}

TEST_CASE("http fault: a stall past the timeout is retried") {
  http_options opt = fast_retries();
  opt.request_timeout_ms = 2000;  // far above a loopback answer even on a loaded machine
  faulty f("stall", 1, 1, opt);
  EROFSFS_NEED_PROXY(f);
  check_read_ok(*f.src);
  CHECK(f.src->counters().retries == 1);
}

TEST_CASE("http fault: a stall on every try ends in request_timed_out") {
  http_options opt = fast_retries();
  opt.request_timeout_ms = 1000;
  opt.max_retries = 1;
  faulty f("stall", 1, -1, opt);
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_request_timed_out);
}

TEST_CASE("http fault: a wrong Content-Range is refused, not retried") {
  faulty f("wrong-range", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_content_range_differs_from_the_request);
  CHECK(f.src->counters().retries == 0);
}

TEST_CASE("http fault: a truncated body is refused by its Content-Length") {
  faulty f("truncate", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_content_length_differs_from_the_range);
  CHECK(f.src->counters().retries == 0);
}

TEST_CASE("http fault: a close-delimited body cut short is retried, then body_shorter") {
  faulty f("truncate-close", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_body_shorter_than_the_range);
  CHECK(f.src->counters().retries == 3);
}

TEST_CASE("http fault: extra body bytes are refused by their Content-Length") {
  faulty f("extra", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_content_length_differs_from_the_range);
}

TEST_CASE("http fault: extra bytes in a close-delimited body are refused as body_longer") {
  faulty f("extra-close", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_body_longer_than_the_range);
  CHECK(f.src->counters().retries == 0);
}

TEST_CASE("http fault: 200 instead of 206 is refused by name") {
  faulty f("ok200", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_server_ignored_the_range_request);
  std::vector<std::byte> b(10);
  CHECK(f.src->read(10000, b).error().code == erofsfs::errc::unsupported);
}

TEST_CASE("http fault: 200 instead of 206 at open is refused by name") {
  faulty f("ok200", 0, -1, fast_retries());
  if (!f.why.empty()) {
    MESSAGE("http skipped: " << f.why);
    return;
  }
  REQUIRE_FALSE(f.src);
  CHECK(std::string_view(f.src.error().what) == what::http_server_ignored_the_range_request);
}

TEST_CASE("http fault: a changed object size is refused") {
  faulty f("size", 1, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  check_read_fails(*f.src, what::http_object_size_changed);
}

TEST_CASE("http fault: an image opened through a failing server gives the source's error") {
  faulty f("status500", 2, -1, fast_retries());
  EROFSFS_NEED_PROXY(f);
  // open_image reads past the first block (cache off: every read is a request) and fails
  // with the source's code; nothing but an error comes back.
  auto img = erofsfs::open_image(*f.src);
  if (img) {  // the superblock and root fit the first requests: walking must fail then
    auto m = erofsfs::test::entries_from_image(*img);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == erofsfs::errc::io_error);
  } else {
    CHECK(img.error().code == erofsfs::errc::io_error);
  }
}

// --- the erofsfs tool -----------------------------------------------------------------------

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using erofsfs::test::run_result;

// Runs argv with stdout and stderr captured (`tmp` is no longer needed for the capture).
run_result run(const std::vector<std::string>& args, const std::string& /*tmp*/) {
  run_result r = erofsfs::test::run_program(args);
  REQUIRE_MESSAGE(r.spawned, args[0] << ": " << r.err);
  return r;
}

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string t = (std::filesystem::temp_directory_path() / "erofsfs-http-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST_CASE("http: the erofsfs tool lists, reads, extracts and checks an image over HTTP") {
  if (std::string_view(EROFSFS_CLI).empty()) {
    MESSAGE("http skipped: the erofsfs tool is not built");
    return;
  }
  EROFSFS_NEED_NGINX(srv);
  temp_dir tmp;
  const std::string name = "real-doc";
  const std::string url = srv->url(image_path(name));
  const std::string local = images_dir + image_path(name);

  // ls -lR and cat print what they print for the local file.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", "-lR"}, std::vector<std::string>{"fsck"}}) {
    std::vector<std::string> remote{EROFSFS_CLI}, here{EROFSFS_CLI};
    remote.insert(remote.end(), args.begin(), args.end());
    here.insert(here.end(), args.begin(), args.end());
    remote.push_back(url);
    here.push_back(local);
    const run_result r = run(remote, tmp.path), l = run(here, tmp.path);
    CAPTURE(r.err);
    CHECK(r.rc == 0);
    CHECK(r.rc == l.rc);
    CHECK(r.out == l.out);
  }
  std::string err;
  auto m = erofsfs::test::load_manifest(images_dir + "/" + name + "/manifest.jsonl", err);
  REQUIRE(m);
  std::string file;
  for (const auto& kv : *m)
    if (kv.second.type == "file" && kv.second.size > 10000) {
      file = kv.first;
      break;
    }
  REQUIRE(!file.empty());
  const run_result cat = run({EROFSFS_CLI, "cat", url, file}, tmp.path);
  CHECK(cat.rc == 0);
  CHECK(erofsfs::test::sha256::of(std::as_bytes(std::span(cat.out.data(), cat.out.size()))) ==
        m->at(file).sha256);

  // extract recreates every file with its content.
  const std::string dir = tmp.path + "/x";
  const run_result ex = run({EROFSFS_CLI, "extract", url, dir}, tmp.path);
  CAPTURE(ex.err);
  REQUIRE(ex.rc == 0);
  for (const auto& kv : *m) {
    if (kv.second.type != "file") continue;
    const std::string got = slurp(dir + kv.first);
    CHECK_MESSAGE(erofsfs::test::sha256::of(std::as_bytes(std::span(got.data(), got.size()))) ==
                      kv.second.sha256,
                  kv.first);
  }

  // Not a terminal: no summary line. A missing object: the status, URL and range in words.
  CHECK(ex.err.find("fetched") == std::string::npos);
  const run_result missing = run({EROFSFS_CLI, "ls", srv->url("/nope.erofs")}, tmp.path);
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("/nope.erofs") != std::string::npos);
  CHECK(missing.err.find("HTTP 404") != std::string::npos);
}

TEST_CASE("http: the erofsfs tool prints a summary of bytes fetched on a terminal") {
  if (std::string_view(EROFSFS_CLI).empty() || ::access("/usr/bin/script", X_OK) != 0) {
    MESSAGE("http skipped: the erofsfs tool or script(1) is missing");
    return;
  }
  EROFSFS_NEED_NGINX(srv);
  temp_dir tmp;
  // script(1) gives the tool a pseudo-terminal as stdout and stderr.
  const std::string cmd = std::string(EROFSFS_CLI) + " ls " + srv->url(image_path("plain-4k"));
  const run_result r = run({"/usr/bin/script", "-qec", cmd, "/dev/null"}, tmp.path);
  CAPTURE(r.out);
  CHECK(r.rc == 0);
  CHECK(r.out.find("fetched ") != std::string::npos);
  CHECK(r.out.find(" bytes in ") != std::string::npos);
}

}  // namespace

#endif  // EROFSFS_HAVE_CURL
