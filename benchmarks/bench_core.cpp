// Core reader benchmarks, erofsfs side by side with the Linux kernel on the same image:
//   map/*      random-offset extent lookups in a chunk-based and a flat 64 MiB file
//              (reference: FS_IOC_FIEMAP for one byte on the kernel mount)
//   lookup/*   path lookup in a 10,000-entry directory (reference: lstat on the mount, dcache warm)
//   readdir/*  listing that directory (reference: opendir/readdir on the mount)
//   readall/*  reading every file of an uncompressed image of /usr/include (reference: the
//              same files through the mount, page cache warm)
// Images are built once per run with mkfs.erofs into /tmp/erofsfs-bench. Kernel references need
// root (mount); without it only the erofsfs side runs. At the end every pair is printed as a
// ratio kernel_time / erofsfs_time (> 1: erofsfs is faster).
#include <benchmark/benchmark.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include "bench_support.hpp"

namespace fs = std::filesystem;
using namespace erofsfs;
using bench::open_image;
using bench::run;

namespace {

const fs::path work = "/tmp/erofsfs-bench";

// One image: built on first use, opened with erofsfs, and mounted when we are root.
struct bench_image {
  fs::path file;
  fs::path mnt;
  std::unique_ptr<mmap_source> src;
  image img;
  bool mounted = false;

  bench_image(const std::string& name, const fs::path& tree, const std::string& mkfs_opts) {
    fs::create_directories(work);
    file = work / (name + ".erofs");
    mnt = work / ("mnt-" + name);
    if (!fs::exists(file))
      run("mkfs.erofs --quiet " + mkfs_opts + " " + file.string() + " " + tree.string());
    open_image(file, src, img);
    if (geteuid() == 0) {
      fs::create_directories(mnt);
      (void)umount2(mnt.c_str(), MNT_DETACH);
      mounted = std::system(("mount -t erofs -o ro " + file.string() + " " + mnt.string() +
                             " 2>/dev/null").c_str()) == 0;
    }
  }
  ~bench_image() {
    if (mounted) (void)umount2(mnt.c_str(), MNT_DETACH);
  }
};

// --- fixtures -----------------------------------------------------------------------------------

constexpr std::uint64_t big_file_size = 64u << 20;

fs::path big_file_tree() {
  const fs::path tree = work / "tree-bigfile";
  if (!fs::exists(tree / "big")) {
    fs::create_directories(tree);
    std::ofstream out(tree / "big", std::ios::binary);
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> buf(1 << 16);
    for (std::uint64_t done = 0; done < big_file_size; done += buf.size() * 8) {
      for (auto& w : buf) w = rng();
      out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size() * 8));
    }
  }
  return tree;
}

bench_image& chunked() {
  static bench_image i("chunked", big_file_tree(), "-T0 --chunksize=4096 -Eforce-chunk-indexes");
  return i;
}
bench_image& flat() {
  static bench_image i("flat", big_file_tree(), "-T0");
  return i;
}

constexpr int bigdir_entries = 10000;
std::string bigdir_name(int i) {
  char b[64];
  std::snprintf(b, sizeof b, "entry-%05d-%08x", i, static_cast<unsigned>(i * 2654435761u));
  return b;
}
bench_image& bigdir() {
  static bench_image i("bigdir", [] {
    const fs::path tree = work / "tree-bigdir";
    if (!fs::exists(tree / "d")) {
      fs::create_directories(tree / "d");
      for (int k = 0; k < bigdir_entries; ++k) std::ofstream(tree / "d" / bigdir_name(k)) << k;
    }
    return tree;
  }(), "-T0");
  return i;
}

bench_image& usr_include() {
  static bench_image i("usr-include", "/usr/include", "-T0");
  return i;
}

std::vector<std::uint64_t> random_offsets() {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> v(4096);
  for (auto& o : v) o = rng() % big_file_size;
  return v;
}

// --- map lookup ---------------------------------------------------------------------------------

void map_erofsfs(benchmark::State& state, bench_image& (*which)()) {
  bench_image& b = which();
  read_context ctx;
  auto ino = resolve_path(b.img, "/big", ctx);
  if (!ino) return state.SkipWithError(ino.error().message().c_str());
  const auto offs = random_offsets();
  std::size_t k = 0;
  for (auto _ : state) {
    auto e = map_extent(b.img, *ino, offs[k++ & 4095]);
    benchmark::DoNotOptimize(e);
  }
}

void map_kernel(benchmark::State& state, bench_image& (*which)()) {
  bench_image& b = which();
  if (!b.mounted) return state.SkipWithError("kernel mount unavailable (needs root)");
  const int fd = open((b.mnt / "big").c_str(), O_RDONLY);
  if (fd < 0) return state.SkipWithError("open failed");
  // struct fiemap ends in a flexible array: room for one extent after it.
  alignas(fiemap) unsigned char raw[sizeof(fiemap) + sizeof(fiemap_extent)];
  auto* fm = reinterpret_cast<fiemap*>(raw);
  const auto offs = random_offsets();
  std::size_t k = 0;
  for (auto _ : state) {
    std::memset(raw, 0, sizeof raw);
    fm->fm_start = offs[k++ & 4095];
    fm->fm_length = 1;
    fm->fm_extent_count = 1;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
      state.SkipWithError("FS_IOC_FIEMAP failed");
      break;
    }
    benchmark::DoNotOptimize(raw);
  }
  close(fd);
}

BENCHMARK_CAPTURE(map_erofsfs, chunked, chunked)->Name("map_chunked/erofsfs");
BENCHMARK_CAPTURE(map_kernel, chunked, chunked)->Name("map_chunked/kernel");
BENCHMARK_CAPTURE(map_erofsfs, flat, flat)->Name("map_flat/erofsfs");
BENCHMARK_CAPTURE(map_kernel, flat, flat)->Name("map_flat/kernel");

// --- path lookup and readdir in a 10k-entry directory -------------------------------------------

void lookup_erofsfs(benchmark::State& state) {
  bench_image& b = bigdir();
  read_context ctx;
  int k = 0;
  for (auto _ : state) {
    const std::string p = "/d/" + bigdir_name((k++ * 7919) % bigdir_entries);
    auto ino = resolve_path(b.img, p, ctx);
    if (!ino) {
      state.SkipWithError(ino.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(ino);
  }
}
void lookup_kernel(benchmark::State& state) {
  bench_image& b = bigdir();
  if (!b.mounted) return state.SkipWithError("kernel mount unavailable (needs root)");
  const std::string base = (b.mnt / "d").string() + "/";
  int k = 0;
  struct stat st;
  for (auto _ : state) {
    const std::string p = base + bigdir_name((k++ * 7919) % bigdir_entries);
    if (lstat(p.c_str(), &st) != 0) {
      state.SkipWithError("lstat failed");
      break;
    }
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(lookup_erofsfs)->Name("lookup_10k/erofsfs");
BENCHMARK(lookup_kernel)->Name("lookup_10k/kernel");

void readdir_erofsfs(benchmark::State& state) {
  bench_image& b = bigdir();
  read_context ctx;
  auto dir = resolve_path(b.img, "/d", ctx);
  if (!dir) return state.SkipWithError(dir.error().message().c_str());
  for (auto _ : state) {
    dir_reader r(b.img, *dir, ctx);
    dir_entry e;
    std::size_t n = 0;
    while (true) {
      auto more = r.next(e);
      if (!more || !*more) break;
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
}
void readdir_kernel(benchmark::State& state) {
  bench_image& b = bigdir();
  if (!b.mounted) return state.SkipWithError("kernel mount unavailable (needs root)");
  const std::string d = (b.mnt / "d").string();
  for (auto _ : state) {
    DIR* dp = opendir(d.c_str());
    std::size_t n = 0;
    while (readdir(dp) != nullptr) ++n;
    closedir(dp);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(readdir_erofsfs)->Name("readdir_10k/erofsfs")->Unit(benchmark::kMicrosecond);
BENCHMARK(readdir_kernel)->Name("readdir_10k/kernel")->Unit(benchmark::kMicrosecond);

// --- read every file ----------------------------------------------------------------------------

void readall_erofsfs(benchmark::State& state) {
  bench_image& b = usr_include();
  read_context ctx;
  std::vector<std::byte> buf(128 << 10);
  std::uint64_t bytes = 0;
  auto read_tree = [&] {
    return walk(b.img, ctx, [&](const walk_entry& w) -> status {
      if (!w.ino.is_regular()) return {};
      for (std::uint64_t off = 0; off < w.ino.size;) {
        EROFSFS_TRY_ASSIGN(const std::size_t n, read(b.img, w.ino, off, buf, ctx));
        off += n;
        bytes += n;
      }
      return {};
    });
  };
  (void)read_tree();  // warm: fault the image's pages in, as the kernel side warms its cache
  bytes = 0;
  for (auto _ : state) {
    auto st = read_tree();
    if (!st) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
void readall_kernel(benchmark::State& state) {
  bench_image& b = usr_include();
  if (!b.mounted) return state.SkipWithError("kernel mount unavailable (needs root)");
  std::vector<char> buf(128 << 10);
  std::uint64_t bytes = 0;
  auto read_tree = [&] {
    for (const auto& e : fs::recursive_directory_iterator(b.mnt)) {
      if (!e.is_regular_file() || e.is_symlink()) continue;
      const int fd = open(e.path().c_str(), O_RDONLY);
      if (fd < 0) continue;
      ssize_t n;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) bytes += static_cast<std::uint64_t>(n);
      close(fd);
    }
  };
  read_tree();  // warm the page cache and dcache
  bytes = 0;
  for (auto _ : state) read_tree();
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(readall_erofsfs)->Name("readall_usr_include/erofsfs")->Unit(benchmark::kMillisecond);
BENCHMARK(readall_kernel)->Name("readall_usr_include/kernel")->Unit(benchmark::kMillisecond);

// Prints the usual table, then "pair: kernel / erofsfs = ratio" for every pair that ran.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      const std::string name = r.benchmark_name();
      const auto slash = name.rfind('/');
      if (slash == std::string::npos) continue;
      const double unit = benchmark::GetTimeUnitMultiplier(r.time_unit);
      times_[name.substr(0, slash)][name.substr(slash + 1)] = {r.GetAdjustedRealTime() / unit,
                                                               r.GetAdjustedCPUTime() / unit};
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    // CPU time (the thread's, system time included) is the figure to trust on a shared
    // machine: neither side waits for I/O once warm, but wall time includes being descheduled.
    std::printf("\nratios, reference / erofsfs (> 1 means erofsfs is faster):\n");
    std::printf("  %-24s %-8s %10s %10s\n", "benchmark", "vs", "cpu", "real");
    for (const auto& [pair, sides] : times_) {
      auto ours = sides.find("erofsfs");
      if (ours == sides.end()) continue;
      for (const auto& [side, t] : sides)
        if (side != "erofsfs")
          std::printf("  %-24s %-8s %10.2f %10.2f\n", pair.c_str(), side.c_str(),
                      t.cpu / ours->second.cpu, t.real / ours->second.real);
    }
  }

 private:
  struct times {
    double real = 0, cpu = 0;  // seconds per iteration
  };
  std::map<std::string, std::map<std::string, times>> times_;
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
