// Concurrent fills of the fanotify daemon against a slow source: a cold read of a generated
// 1,000-file image by 8 reader threads through a real mount (root, Linux 6.14+, mkfs.erofs),
// with the worker's --fill-threads 8 against 1. The source adds 20 ms to every read request
// (a remote store's latency), so one fill thread serializes 1,000 x 20 ms while eight overlap.
//   sudo bench_fanotify --benchmark_counters_tabular=true
// One iteration per thread count (each is a whole cold read, seconds long).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <erofsfs/backends/fanotify/daemon.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fan = erofsfs::fanotify;

namespace {

constexpr int file_count = 1000;
constexpr int readers = 8;

// Reads from `inner`, but each request first sleeps 20 ms once `armed` (after the metadata
// prefetch, which is not what is measured).
struct slow_source {
  erofsfs::source_ref inner;
  const std::atomic<bool>* armed;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (armed->load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return inner.read_at(off, dst);
  }
  std::uint64_t size() const noexcept { return inner.size().value_or(0); }
};

struct generated {
  std::string dir, image;
  std::vector<std::string> files;  // inside the image, from '/'
  bool ok = false;
};

// A tree of 1,000 files of 3 to 24 KiB in 10 directories, and its image (host mkfs.erofs).
const generated& image() {
  static const generated g = [] {
    generated r;
    char tmpl[] = "/var/tmp/erofsfs-bench-fanotify-XXXXXX";
    if (!::mkdtemp(tmpl)) return r;
    r.dir = tmpl;
    const std::string src = r.dir + "/src";
    ::mkdir(src.c_str(), 0755);
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int d = 0; d < 10; ++d) {
      ::mkdir((src + "/d" + std::to_string(d)).c_str(), 0755);
      for (int f = 0; f < file_count / 10; ++f) {
        const std::string p = "/d" + std::to_string(d) + "/f" + std::to_string(f);
        std::string bytes(3072 + static_cast<std::size_t>((d * 100 + f) * 7919 % 21504), '\0');
        for (char& c : bytes) x ^= x << 13, x ^= x >> 7, x ^= x << 17, c = static_cast<char>(x);
        std::ofstream(src + p, std::ios::binary) << bytes;
        r.files.push_back(p);
      }
    }
    r.image = r.dir + "/bench.erofs";
    const std::string cmd = "mkfs.erofs --quiet " + r.image + " " + src + " >/dev/null 2>&1";
    r.ok = std::system(cmd.c_str()) == 0;
    return r;
  }();
  return g;
}

bool wait_for(const std::string& log, const char* text) {
  for (int i = 0; i < 1200; ++i) {  // about a minute
    std::ifstream in(log);
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (s.find(text) != std::string::npos) return true;
    ::usleep(50000);
  }
  return false;
}

void BM_cold_read_all(benchmark::State& state) {
  const generated& g = image();
  if (!g.ok) {
    state.SkipWithError("mkfs.erofs failed or missing");
    return;
  }
  const auto threads = static_cast<unsigned>(state.range(0));
  const std::string sparse = g.dir + "/sparse-" + std::to_string(threads);
  const std::string mnt = g.dir + "/mnt";
  const std::string log = g.dir + "/log-" + std::to_string(threads);
  ::mkdir(mnt.c_str(), 0755);
  for (auto _ : state) {
    ::unlink(sparse.c_str());
    ::unlink(log.c_str());
    const pid_t daemon = ::fork();
    if (daemon == 0) {
      auto file = erofsfs::fd_source::open(g.image.c_str());
      if (!file) ::_exit(1);
      std::atomic<bool> armed{false};
      const slow_source slow{*file, &armed};
      const fan::device_spec dev{slow, sparse};
      auto be = fan::backend::create(std::span(&dev, 1));
      if (!be) ::_exit(1);
      armed = true;
      fan::daemon_options o;
      o.mount_dir = mnt;
      o.fill_threads = threads;
      o.log = [&](const std::string& s) {
        std::ofstream(log, std::ios::app) << s << '\n';
      };
      ::_exit(fan::run_daemon(std::move(*be), o));
    }
    if (daemon < 0 || !wait_for(log, "mounted on")) {
      state.SkipWithError("the daemon did not mount");
      if (daemon > 0) ::kill(daemon, SIGKILL), ::waitpid(daemon, nullptr, 0);
      return;
    }
    std::atomic<unsigned> wrong{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int r = 0; r < readers; ++r)
      pool.emplace_back([&, r] {
        std::vector<char> got(1 << 16), want(1 << 16);
        for (std::size_t i = static_cast<std::size_t>(r); i < g.files.size(); i += readers) {
          const int a = ::open((mnt + g.files[i]).c_str(), O_RDONLY | O_CLOEXEC);
          const int b = ::open((g.dir + "/src" + g.files[i]).c_str(), O_RDONLY | O_CLOEXEC);
          const ssize_t n = a < 0 ? -1 : ::read(a, got.data(), got.size());
          const ssize_t m = b < 0 ? -2 : ::read(b, want.data(), want.size());
          if (n != m || std::memcmp(got.data(), want.data(), static_cast<std::size_t>(n < 0 ? 0 : n)))
            wrong.fetch_add(1);
          if (a >= 0) ::close(a);
          if (b >= 0) ::close(b);
        }
      });
    for (std::thread& t : pool) t.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    ::kill(daemon, SIGTERM);
    ::waitpid(daemon, nullptr, 0);
    if (wrong.load()) state.SkipWithError("a file read back wrong");
  }
  state.counters["files"] = file_count;
  state.counters["fill_threads"] = threads;
}

}  // namespace

BENCHMARK(BM_cold_read_all)->Arg(1)->Arg(8)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

BENCHMARK_MAIN();
