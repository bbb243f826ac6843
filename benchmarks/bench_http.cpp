// Reading a whole image over loopback HTTP against reading it from the local file:
//   readall_usr_include/file  walk + read() of every regular file, image mmapped (warm)
//   readall_usr_include/http  the same through http_source from Debian's nginx on 127.0.0.1,
//                             a fresh source (empty block cache) per iteration, default options
// The image is /tmp/erofsfs-bench/usr-include.erofs (the one bench_core builds, mkfs.erofs -T0
// of /usr/include). Wall time is the figure: the HTTP side waits for nginx. At the end:
// "http / file" (how many times slower HTTP is) and the bytes fetched per pass.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/http_source.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include "bench_support.hpp"
#include "support/http_servers.hpp"

namespace fs = std::filesystem;
using namespace erofsfs;

namespace {

const fs::path work = "/tmp/erofsfs-bench";

fs::path image_file() {
  const fs::path file = work / "usr-include.erofs";
  if (!fs::exists(file)) {
    fs::create_directories(work);
    bench::run("mkfs.erofs --quiet -T0 " + file.string() + " /usr/include");
  }
  return file;
}

test::nginx_server& nginx() {
  static test::nginx_server s;
  static const std::string why = s.start(work.string());
  if (!why.empty()) {
    std::fprintf(stderr, "bench: %s\n", why.c_str());
    std::exit(1);
  }
  return s;
}

// Every regular file's bytes, read in 128 KiB pieces; returns the byte count or an error.
result<std::uint64_t> read_everything(const image& img) {
  read_context ctx;
  std::vector<std::byte> buf(128 << 10);
  std::uint64_t bytes = 0;
  status st = walk(img, ctx, [&](const walk_entry& w) -> status {
    if (!w.ino.is_regular()) return {};
    for (std::uint64_t off = 0; off < w.ino.size;) {
      EROFSFS_TRY_ASSIGN(const std::size_t n, read(img, w.ino, off, buf, ctx));
      off += n;
      bytes += n;
    }
    return {};
  });
  if (!st) return st.error();
  return bytes;
}

std::uint64_t image_size = 0, fetched_per_pass = 0, requests_per_pass = 0;

void readall_file(benchmark::State& state) {
  std::unique_ptr<mmap_source> src;
  image img;
  bench::open_image(image_file(), src, img);
  image_size = src->size();
  (void)read_everything(img);  // warm: fault the pages in
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    auto n = read_everything(img);
    if (!n) return state.SkipWithError(n.error().message().c_str());
    bytes += *n;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void readall_http(benchmark::State& state) {
  const std::string url = nginx().url("/" + image_file().filename().string());
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    auto src = http_source::open(url);
    if (!src) return state.SkipWithError(src.error().message().c_str());
    auto img = open_image(*src);
    if (!img) return state.SkipWithError(img.error().message().c_str());
    auto n = read_everything(*img);
    if (!n) return state.SkipWithError((n.error().message() + "; " + src->last_failure()).c_str());
    bytes += *n;
    fetched_per_pass = src->counters().bytes_fetched;
    requests_per_pass = src->counters().requests;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

BENCHMARK(readall_file)->Name("readall_usr_include/file")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(readall_http)->Name("readall_usr_include/http")->Unit(benchmark::kMillisecond)->UseRealTime();

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // The median of --benchmark_repetitions when there are several, else the one run.
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Iteration && !median_.count(r.run_name.str()))
        real_[r.run_name.str()] = r.GetAdjustedRealTime();
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
        real_[r.run_name.str()] = median_[r.run_name.str()] = r.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const auto f = real_.find("readall_usr_include/file/real_time");
    const auto h = real_.find("readall_usr_include/http/real_time");
    if (f == real_.end() || h == real_.end()) return;
    std::printf("\nreadall_usr_include: http / file (wall) = %.2f\n", h->second / f->second);
    std::printf("  image %llu bytes; one HTTP pass fetched %llu bytes in %llu requests\n",
                static_cast<unsigned long long>(image_size),
                static_cast<unsigned long long>(fetched_per_pass),
                static_cast<unsigned long long>(requests_per_pass));
  }

 private:
  std::map<std::string, double> real_, median_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
