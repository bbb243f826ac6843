// The shared decoded cache (decode/decoded_cache.hpp) against the kernel's page cache: reading
// every file of an LZ4 image a second time.
//
//   kernel        the image mounted by the kernel (mount -t erofs -o ro), page cache warm:
//                 open/read/close of every regular file, 128 KiB reads
//   shared-warm   erofsfs reading the same files through a decoded_cache filled by one
//                 untimed pass (what a daemon or a long-lived reader sees the second time)
//   default       erofsfs with the zero-config per-context cache: decodes on every pass
//   shared-cold   erofsfs through a new, empty decoded_cache each pass: the cost of a cold
//                 read with the cache on (misses, one buffer per extent, insertions, evictions)
//
// One run interleaves the four sides round by round (kernel, shared-warm, default,
// shared-cold, then again), so machine load hits them alike, and prints each side's median
// wall and thread-CPU time per pass and the ratios kernel / shared-warm (goal >= 1) and
// default / shared-cold (cold reads unchanged: ~1). Needs root for the mount.
//
//   EROFSFS_BENCH_IMAGE   the image (default: /tmp/erofsfs-bench/lz4_usr_share.erofs, built
//                         with mkfs.erofs -zlz4 of EROFSFS_BENCH_TREE, default /usr/share)
//   EROFSFS_BENCH_CACHE_MB  shared cache budget (default 4096: must hold the decoded image)
//   EROFSFS_BENCH_ROUNDS  rounds (default 5)
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <erofsfs/decode/decoded_cache.hpp>
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include "bench_support.hpp"

namespace fs = std::filesystem;
using namespace erofsfs;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

double thread_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct timing {
  double wall = 0, cpu = 0;
};

template <class F>
timing timed(F&& f) {
  const double c0 = thread_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const auto t1 = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(t1 - t0).count(), thread_cpu_seconds() - c0};
}

// Every regular file under `dir` through the kernel: explicit stack, no recursion.
std::uint64_t read_mount(const std::string& root, std::vector<char>& buf) {
  std::uint64_t bytes = 0;
  std::vector<std::string> pending{root};
  while (!pending.empty()) {
    const std::string dir = pending.back();
    pending.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (const dirent* de = ::readdir(d)) {
      const std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      const std::string p = dir + "/" + name;
      if (de->d_type == DT_DIR) {
        pending.push_back(p);
        continue;
      }
      if (de->d_type != DT_REG) continue;
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) bytes += static_cast<std::uint64_t>(n);
      ::close(fd);
    }
    ::closedir(d);
  }
  return bytes;
}

// Every regular file of `img` through `ctx`.
std::uint64_t read_image(const image& img, read_context& ctx, std::vector<std::byte>& buf) {
  std::uint64_t bytes = 0;
  const status st = walk(img, ctx, [&](const walk_entry& w) -> status {
    if (!w.ino.is_regular()) return {};
    for (std::uint64_t off = 0; off < w.ino.size;) {
      EROFSFS_TRY_ASSIGN(const std::size_t n, read(img, w.ino, off, buf, ctx));
      if (n == 0) break;
      off += n;
      bytes += n;
    }
    return {};
  });
  if (!st) {
    std::fprintf(stderr, "bench: %s\n", st.error().message().c_str());
    std::exit(1);
  }
  return bytes;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main() {
  const fs::path work = "/tmp/erofsfs-bench";
  fs::create_directories(work);
  const std::string file = env_or("EROFSFS_BENCH_IMAGE", (work / "lz4_usr_share.erofs").string());
  if (!fs::exists(file))
    bench::run("mkfs.erofs --quiet -zlz4 " + file + " " + env_or("EROFSFS_BENCH_TREE", "/usr/share"));
  const std::size_t cache_mb = std::stoul(env_or("EROFSFS_BENCH_CACHE_MB", "4096"));
  const int rounds = std::max(1, std::stoi(env_or("EROFSFS_BENCH_ROUNDS", "5")));

  std::unique_ptr<mmap_source> src;
  image img;
  bench::open_image(file, src, img);
  const fs::path mnt = work / "mnt-cache";
  fs::create_directories(mnt);
  (void)umount2(mnt.c_str(), MNT_DETACH);
  if (std::system(("mount -t erofs -o ro " + file + " " + mnt.string()).c_str()) != 0) {
    std::fprintf(stderr, "bench: cannot mount %s (needs root and erofs)\n", file.c_str());
    return 1;
  }

  std::vector<char> kbuf(128 << 10);
  std::vector<std::byte> buf(128 << 10);
  decoded_cache warm_cache(cache_mb << 20);
  read_context warm_ctx;
  warm_ctx.shared_cache = &warm_cache;
  read_context default_ctx;

  // Untimed warm-up: the kernel's page cache and dentries, the image's mapped pages, and the
  // warm shared cache.
  const std::uint64_t kernel_bytes = read_mount(mnt.string(), kbuf);
  const std::uint64_t image_bytes = read_image(img, warm_ctx, buf);
  (void)read_image(img, default_ctx, buf);
  if (kernel_bytes != image_bytes)
    std::fprintf(stderr, "bench: warning: kernel read %llu bytes, erofsfs %llu\n",
                 static_cast<unsigned long long>(kernel_bytes),
                 static_cast<unsigned long long>(image_bytes));
  const decoded_cache_stats filled = warm_cache.stats();

  const char* names[] = {"kernel", "shared-warm", "default", "shared-cold"};
  std::vector<double> wall[4], cpu[4];
  for (int r = 0; r < rounds; ++r) {
    timing t[4];
    t[0] = timed([&] { read_mount(mnt.string(), kbuf); });
    t[1] = timed([&] { read_image(img, warm_ctx, buf); });
    t[2] = timed([&] { read_image(img, default_ctx, buf); });
    {
      decoded_cache cold_cache(cache_mb << 20);
      read_context cold_ctx;
      cold_ctx.shared_cache = &cold_cache;
      t[3] = timed([&] { read_image(img, cold_ctx, buf); });
    }  // the cold cache's memory goes outside the timed region
    for (int s = 0; s < 4; ++s) {
      wall[s].push_back(t[s].wall);
      cpu[s].push_back(t[s].cpu);
    }
    std::printf("round %d:", r + 1);
    for (int s = 0; s < 4; ++s) std::printf("  %s %.3f s (cpu %.3f)", names[s], t[s].wall, t[s].cpu);
    std::printf("\n");
  }
  (void)umount2(mnt.c_str(), MNT_DETACH);

  const decoded_cache_stats end = warm_cache.stats();
  std::printf("\nimage %s: %.1f MB decoded, %llu files' bytes read per pass\n", file.c_str(),
              static_cast<double>(image_bytes) / 1e6, static_cast<unsigned long long>(image_bytes));
  std::printf("shared cache: budget %zu MiB, %llu entries, %.1f MB held, %llu evictions, "
              "misses after warm-up %llu\n",
              cache_mb, static_cast<unsigned long long>(end.entries),
              static_cast<double>(end.bytes) / 1e6, static_cast<unsigned long long>(end.evictions),
              static_cast<unsigned long long>(end.misses - filled.misses));
  std::printf("\n%-12s %12s %12s\n", "side", "wall (med)", "cpu (med)");
  for (int s = 0; s < 4; ++s)
    std::printf("%-12s %10.3f s %10.3f s\n", names[s], median(wall[s]), median(cpu[s]));
  std::printf("\nratios (> 1: the second side is faster)\n");
  std::printf("  kernel / shared-warm   wall %.2f  cpu %.2f\n", median(wall[0]) / median(wall[1]),
              median(cpu[0]) / median(cpu[1]));
  std::printf("  default / shared-cold  wall %.2f  cpu %.2f\n", median(wall[2]) / median(wall[3]),
              median(cpu[2]) / median(cpu[3]));
  std::printf("  kernel / default       wall %.2f  cpu %.2f\n", median(wall[0]) / median(wall[2]),
              median(cpu[0]) / median(cpu[2]));
  return 0;
}
