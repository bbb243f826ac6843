// erofsfs::lz4_decompress against liblz4's LZ4_decompress_safe / _safe_partial, on the same
// blocks in the same run: real text (/usr/include) and binaries (/usr/bin) cut into 4, 16 and
// 64 KiB blocks, compressed with LZ4 default and LZ4HC. After the run a duel table prints our
// throughput divided by liblz4's for each pairing (> 1.00: we are faster).
// Own flags: --duel_rounds=N (default 15), --duel_only (skip the Google Benchmark runs).
#include <benchmark/benchmark.h>
#include <lz4.h>
#include <lz4hc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <erofsfs/codecs/lz4.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<char>;

constexpr std::size_t corpus_size = 4u << 20;

// Regular files under `root`, in a stable order, concatenated up to corpus_size bytes. Each
// file contributes at most 256 KiB so one huge file does not dominate the mix.
bytes load_corpus(const char* root, bool (*wanted)(const fs::path&)) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       it != end && files.size() < 100000; it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec) && wanted(it->path())) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  bytes out;
  for (const auto& f : files) {
    if (out.size() >= corpus_size) break;
    std::ifstream in(f, std::ios::binary);
    bytes buf(256 * 1024);
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.resize(static_cast<std::size_t>(in.gcount()));
    out.insert(out.end(), buf.begin(), buf.end());
  }
  if (out.size() < corpus_size / 4) {  // no such directory: synthesize something compressible
    std::mt19937_64 rng(1);
    while (out.size() < corpus_size) {
      const std::string w = "word" + std::to_string(rng() % 5000) + (rng() % 8 ? " " : "\n");
      out.insert(out.end(), w.begin(), w.end());
    }
  }
  out.resize(std::min(out.size(), corpus_size));
  return out;
}

const bytes& corpus(int which) {
  static const bytes text = load_corpus("/usr/include", [](const fs::path& p) {
    const auto e = p.extension();
    return e == ".h" || e == ".hpp" || e == ".hh" || e == ".H";
  });
  static const bytes binary = load_corpus("/usr/bin", [](const fs::path&) { return true; });
  return which == 0 ? text : binary;
}

struct block_set {
  std::vector<bytes> compressed;
  std::vector<std::size_t> sizes;
  std::size_t raw_total = 0, packed_total = 0;
};

// Cached per (corpus, block size, hc): several benchmarks share one compressed set.
const block_set& blocks(int which, std::size_t block, bool hc) {
  static std::map<std::tuple<int, std::size_t, bool>, block_set> cache;
  auto [it, fresh] = cache.try_emplace({which, block, hc});
  block_set& s = it->second;
  if (!fresh) return s;
  const bytes& c = corpus(which);
  for (std::size_t at = 0; at + block <= c.size(); at += block) {
    bytes dst(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(block))));
    const int n = hc ? LZ4_compress_HC(c.data() + at, dst.data(), static_cast<int>(block),
                                       static_cast<int>(dst.size()), LZ4HC_CLEVEL_DEFAULT)
                     : LZ4_compress_default(c.data() + at, dst.data(), static_cast<int>(block),
                                            static_cast<int>(dst.size()));
    if (n <= 0) std::abort();
    dst.resize(static_cast<std::size_t>(n));
    // Verify once that both decoders agree with the source before timing anything.
    bytes out(block);
    const auto r = erofsfs::lz4_decompress(std::as_bytes(std::span(dst)),
                                           std::as_writable_bytes(std::span(out)), false);
    if (!r || std::memcmp(out.data(), c.data() + at, block) != 0) {
      std::fprintf(stderr, "bench_lz4: erofsfs decode mismatch\n");
      std::abort();
    }
    s.raw_total += block;
    s.packed_total += dst.size();
    s.compressed.push_back(std::move(dst));
    s.sizes.push_back(block);
  }
  return s;
}

enum class impl { ours, liblz4 };

// args: corpus (0 text, 1 binary), block size, hc, partial
template <impl I>
void BM_decode(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const auto block = static_cast<std::size_t>(state.range(1));
  const bool hc = state.range(2) != 0, partial = state.range(3) != 0;
  const block_set& s = blocks(which, block, hc);
  // Partial decoding asks for the first half of each block, as a read ending mid-extent does.
  const std::size_t want = partial ? block / 2 : block;
  bytes out(block);
  for (auto _ : state) {
    for (const bytes& c : s.compressed) {
      if constexpr (I == impl::ours) {
        const auto r = erofsfs::lz4_decompress(std::as_bytes(std::span(c)),
                                               std::as_writable_bytes(std::span(out.data(), want)),
                                               partial);
        if (!r) state.SkipWithError("erofsfs decode failed");
      } else {
        const int n = partial ? LZ4_decompress_safe_partial(c.data(), out.data(), static_cast<int>(c.size()),
                                                            static_cast<int>(want), static_cast<int>(want))
                              : LZ4_decompress_safe(c.data(), out.data(), static_cast<int>(c.size()),
                                                    static_cast<int>(want));
        if (n != static_cast<int>(want)) state.SkipWithError("liblz4 decode failed");
      }
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(want * s.compressed.size()));
  state.counters["ratio"] = static_cast<double>(s.raw_total) / static_cast<double>(s.packed_total);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"corpus", "block", "hc", "partial"});
  for (int partial : {0, 1})
    for (int which : {0, 1})
      for (int block : {4096, 16384, 65536})
        for (int hc : {0, 1}) b->Args({which, block, hc, partial});
}

BENCHMARK(BM_decode<impl::ours>)->Name("erofsfs")->Apply(args);
BENCHMARK(BM_decode<impl::liblz4>)->Name("liblz4")->Apply(args);

// The ratio table: on a shared, noisy machine separate benchmark runs drift, so each case is
// timed as a duel: for every block the two decoders run back to back (alternating which goes
// first), over several rounds, and each block's fastest time per decoder counts. Preemption
// and a busy sibling hyperthread only ever add time, so per-block minima filter them out.
std::uint64_t ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
#endif
}

double seconds_per_tick() {
  const auto t0 = ticks();
  timespec a{}, b{};
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 50000000L);
  const auto t1 = ticks();
  return static_cast<double>((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec)) * 1e-9 /
         static_cast<double>(t1 - t0);
}

template <impl I>
std::uint64_t decode_one(const bytes& c, std::size_t want, bool partial, bytes& out) {
  const auto t0 = ticks();
  if constexpr (I == impl::ours) {
    const auto r = erofsfs::lz4_decompress(std::as_bytes(std::span(c)),
                                           std::as_writable_bytes(std::span(out.data(), want)), partial);
    if (!r) std::abort();
  } else {
    const int n = partial ? LZ4_decompress_safe_partial(c.data(), out.data(), static_cast<int>(c.size()),
                                                        static_cast<int>(want), static_cast<int>(want))
                          : LZ4_decompress_safe(c.data(), out.data(), static_cast<int>(c.size()),
                                                static_cast<int>(want));
    if (n != static_cast<int>(want)) std::abort();
  }
  benchmark::DoNotOptimize(out.data());
  benchmark::ClobberMemory();
  return ticks() - t0;
}

void print_duels(int rounds) {
  const double spt = seconds_per_tick();
  std::printf("\nDuel (per-block best of %d alternating rounds, 4 MiB per corpus)\n", rounds);
  std::printf("%-30s %6s %10s %10s %7s\n", "corpus/block/compressor/mode", "ratio", "erofsfs",
              "liblz4", "speedup");
  double log_sum = 0;
  int pairs = 0;
  for (int partial : {0, 1})
    for (int which : {0, 1})
      for (std::size_t block : {4096u, 16384u, 65536u})
        for (int hc : {0, 1}) {
          const block_set& s = blocks(which, block, hc != 0);
          const std::size_t want = partial ? block / 2 : block;
          bytes out(block);
          std::vector<std::uint64_t> best_ours(s.compressed.size(), UINT64_MAX),
              best_ref(s.compressed.size(), UINT64_MAX);
          for (int r = 0; r < rounds; ++r)
            for (std::size_t i = 0; i < s.compressed.size(); ++i) {
              const bytes& c = s.compressed[i];
              if ((r + i) % 2) {
                best_ours[i] = std::min(best_ours[i], decode_one<impl::ours>(c, want, partial, out));
                best_ref[i] = std::min(best_ref[i], decode_one<impl::liblz4>(c, want, partial, out));
              } else {
                best_ref[i] = std::min(best_ref[i], decode_one<impl::liblz4>(c, want, partial, out));
                best_ours[i] = std::min(best_ours[i], decode_one<impl::ours>(c, want, partial, out));
              }
            }
          double t_ours = 0, t_ref = 0;
          for (std::size_t i = 0; i < s.compressed.size(); ++i) {
            t_ours += static_cast<double>(best_ours[i]) * spt;
            t_ref += static_cast<double>(best_ref[i]) * spt;
          }
          const double n = static_cast<double>(want * s.compressed.size());
          const double ratio = t_ref / t_ours;
          log_sum += std::log(ratio);
          ++pairs;
          char name[64];
          std::snprintf(name, sizeof name, "%s/%zuK/%s/%s", which ? "bin" : "text", block / 1024,
                        hc ? "lz4hc" : "lz4", partial ? "partial" : "full");
          std::printf("%-30s %6.2f %5.0f MB/s %5.0f MB/s %6.2fx\n", name,
                      static_cast<double>(s.raw_total) / static_cast<double>(s.packed_total),
                      n / t_ours / 1e6, n / t_ref / 1e6, ratio);
        }
  std::printf("geometric mean speedup erofsfs/liblz4: %.3fx over %d cases\n",
              std::exp(log_sum / pairs), pairs);
}
}  // namespace

int main(int argc, char** argv) {
  int rounds = 15;
  bool duel_only = false;
  for (int i = 1; i < argc; ++i) {  // our own flags, removed before Google Benchmark sees them
    if (std::strncmp(argv[i], "--duel_rounds=", 14) == 0) rounds = std::max(1, std::atoi(argv[i] + 14));
    else if (std::strcmp(argv[i], "--duel_only") == 0) duel_only = true;
    else continue;
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    --i;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!duel_only) benchmark::RunSpecifiedBenchmarks();
  print_duels(rounds);
  benchmark::Shutdown();
  return 0;
}
