// READ handling throughput of the cachefiles daemon through the fake devnode (memfd cache
// files), against the floor: a plain memcpy + pwrite of the same bytes into the same kind of
// file. The ratio shows the daemon's per-request cost (parse, lookup, source read, complete).
//   bench_fscache --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <erofsfs/backends/fscache/daemon.hpp>
#include <vector>

#include "support/fake_cachefiles.hpp"

namespace fs = erofsfs::fscache;

namespace {

constexpr std::size_t blob_size = 8u << 20;

const std::vector<std::byte>& blob_bytes() {
  static const std::vector<std::byte> b = [] {
    std::vector<std::byte> v(blob_size);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>(i * 2654435761u >> 13);
    return v;
  }();
  return b;
}

// Daemon path: one READ of `len` bytes per iteration, cycling over the blob.
void BM_daemon_read(benchmark::State& state) {
  const auto len = static_cast<std::uint64_t>(state.range(0));
  static const erofsfs::memory_source src(blob_bytes().data(), blob_bytes().size());
  erofsfs::test::fake_cachefiles k;
  auto d = fs::basic_daemon<erofsfs::test::fake_cachefiles>::create(
      k, [](std::string_view, std::string_view) -> erofsfs::result<fs::blob> {
        fs::blob b;
        b.source = src;
        b.size = blob_size;
        return b;
      });
  if (!d) {
    state.SkipWithError("daemon");
    return;
  }
  const auto oid = k.queue_open("erofs,bench", "bench");
  (void)d->handle_ready();
  std::uint64_t off = 0;
  for (auto _ : state) {
    k.queue_read(oid, off, len);
    auto n = d->handle_ready();
    benchmark::DoNotOptimize(n);
    off = (off + len) % blob_size;
  }
  if (d->stats().read_failures != 0) state.SkipWithError("READ failed");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Floor: copy the same range into a buffer and pwrite it into a memfd.
void BM_memcpy_pwrite(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  int fd = ::memfd_create("bench-floor", MFD_CLOEXEC);
  std::vector<std::byte> buf(len);
  std::size_t off = 0;
  for (auto _ : state) {
    std::memcpy(buf.data(), blob_bytes().data() + off, len);
    if (::pwrite(fd, buf.data(), len, static_cast<off_t>(off)) != static_cast<ssize_t>(len))
      state.SkipWithError("pwrite");
    benchmark::ClobberMemory();
    off = (off + len) % blob_size;
  }
  ::close(fd);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

BENCHMARK(BM_daemon_read)->Arg(4096)->Arg(128 << 10)->Arg(1 << 20);
BENCHMARK(BM_memcpy_pwrite)->Arg(4096)->Arg(128 << 10)->Arg(1 << 20);

// Prints daemon/floor throughput ratios after the usual report.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end() && r.run_type == Run::RT_Iteration)
        rates_[r.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void print_ratios() const {
    for (const auto& [name, rate] : rates_) {
      if (name.rfind("BM_daemon_read/", 0) != 0) continue;
      const std::string arg = name.substr(std::strlen("BM_daemon_read/"));
      auto floor = rates_.find("BM_memcpy_pwrite/" + arg);
      if (floor == rates_.end() || floor->second <= 0) continue;
      std::printf("READ %s bytes: daemon %.1f MiB/s (%.0f req/s), memcpy+pwrite %.1f MiB/s, "
                  "ratio %.2f\n",
                  arg.c_str(), rate / 1048576.0, rate / std::stod(arg),
                  floor->second / 1048576.0, rate / floor->second);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
