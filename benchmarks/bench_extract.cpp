// Whole-image extraction, erofsfs side by side with erofs-utils on the same LZ4 image:
//   extract/erofsfs   a library-level extraction loop (walk, mkdir, read + write every file,
//                     symlinks, device nodes, fifos; owner, mode and mtime restored)
//   extract/fsck      `fsck.erofs --extract=DIR` (erofs-utils), which does the same work
// The image is built once with `mkfs.erofs -zlz4` from EROFSFS_BENCH_TREE (default /usr/share;
// set it to /usr for the full tree) into /tmp/erofsfs-bench. The output directory is removed
// between iterations, outside the timed region; output goes to tmpfs (/dev/shm/erofsfs-bench,
// or EROFSFS_BENCH_OUT). fsck.erofs runs as a child process, so only wall
// time compares the two; the ratio fsck_time / erofsfs_time is printed at the end.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
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

// Extraction target: tmpfs when there is one, so both sides measure reading and decoding
// rather than the disk's write speed.
fs::path out_base() {
  const char* env = std::getenv("EROFSFS_BENCH_OUT");
  if (env && *env) return env;
  return fs::is_directory("/dev/shm") ? fs::path("/dev/shm/erofsfs-bench") : work;
}

struct lz4_image {
  fs::path file;
  std::unique_ptr<mmap_source> src;
  image img;
  std::uint64_t bytes = 0;  // regular-file bytes, for throughput

  lz4_image() {
    const char* env = std::getenv("EROFSFS_BENCH_TREE");
    const fs::path tree = env && *env ? env : "/usr/share";
    fs::create_directories(work);
    std::string tag = tree.string();
    for (char& c : tag)
      if (c == '/') c = '_';
    file = work / ("lz4" + tag + ".erofs");
    if (!fs::exists(file)) {
      std::fprintf(stderr, "bench: building %s from %s\n", file.c_str(), tree.c_str());
      run("mkfs.erofs --quiet -T0 -zlz4 " + file.string() + ".tmp " + tree.string());
      fs::rename(file.string() + ".tmp", file);
    }
    open_image(file, src, img);
  }
};

lz4_image& the_image() {
  static lz4_image i;
  return i;
}

void set_meta(const fs::path& p, const inode& ino) {
  (void)lchown(p.c_str(), ino.uid, ino.gid);
  if (!ino.is_symlink()) (void)chmod(p.c_str(), ino.mode & 07777);
  const timespec t[2] = {{static_cast<time_t>(ino.mtime), static_cast<long>(ino.mtime_nsec)},
                         {static_cast<time_t>(ino.mtime), static_cast<long>(ino.mtime_nsec)}};
  (void)utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW);
}

status extract(const image& img, const fs::path& out, std::uint64_t& bytes) {
  read_context ctx;
  std::vector<std::byte> buf(1 << 20);
  std::vector<std::pair<fs::path, inode>> dirs;  // metadata applied last (mtimes)
  EROFSFS_TRY(walk(img, ctx, [&](const walk_entry& w) -> status {
    const fs::path p = out.string() + std::string(w.path);
    const inode& ino = w.ino;
    switch (ino.type()) {
      case file_type::directory:
        (void)mkdir(p.c_str(), 0700);
        dirs.emplace_back(p, ino);
        return {};
      case file_type::regular: {
        const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return make_error(std::error_code(errno, std::system_category()), "open");
        for (std::uint64_t off = 0; off < ino.size;) {
          auto n = read(img, ino, off, buf, ctx);
          if (!n) {
            ::close(fd);
            return n.error();
          }
          if (::write(fd, buf.data(), *n) != static_cast<ssize_t>(*n)) {
            ::close(fd);
            return make_error(std::error_code(errno, std::system_category()), "write");
          }
          off += *n;
          bytes += *n;
        }
        ::close(fd);
        break;
      }
      case file_type::symlink: {
        EROFSFS_TRY_ASSIGN(const std::string target, read_link(img, ino, ctx));
        (void)symlink(target.c_str(), p.c_str());
        break;
      }
      case file_type::chrdev:
      case file_type::blkdev:
      case file_type::fifo:
      case file_type::socket:
        (void)mknod(p.c_str(), ino.mode, makedev(ino.rdev_major, ino.rdev_minor));
        break;
      case file_type::unknown:
        break;
    }
    set_meta(p, ino);
    return {};
  }));
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) set_meta(it->first, it->second);
  return {};
}

void extract_erofsfs(benchmark::State& state) {
  lz4_image& b = the_image();
  const fs::path out = out_base() / "out-erofsfs";
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(out);
    fs::create_directories(out);
    state.ResumeTiming();
    auto st = extract(b.img, out, bytes);
    if (!st) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  fs::remove_all(out);
}

void extract_fsck(benchmark::State& state) {
  lz4_image& b = the_image();
  const fs::path out = out_base() / "out-fsck";
  fs::create_directories(out_base());
  const std::string cmd = "fsck.erofs --extract=" + out.string() + " " + b.file.string() +
                          " >/dev/null 2>&1";
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(out);
    state.ResumeTiming();
    if (std::system(cmd.c_str()) != 0) {
      state.SkipWithError("fsck.erofs --extract failed");
      break;
    }
  }
  fs::remove_all(out);
}

BENCHMARK(extract_erofsfs)->Name("extract/erofsfs")->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(3);
BENCHMARK(extract_fsck)->Name("extract/fsck")->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(3);

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs)
      if (!r.error_occurred && r.run_type == Run::RT_Iteration)
        times_[r.benchmark_name()] =
            r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto a = times_.find("extract/erofsfs/iterations:3/real_time");
    auto b = times_.find("extract/fsck/iterations:3/real_time");
    if (a != times_.end() && b != times_.end())
      std::printf("\nratio: fsck.erofs --extract / erofsfs extract = %.2f (> 1: erofsfs is faster)\n",
                  b->second / a->second);
  }

 private:
  std::map<std::string, double> times_;
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
