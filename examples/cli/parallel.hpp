// The parallel machinery of extract and fsck (-j N): a pool of workers with a state each (its
// read_context and buffer), the ordered output that prints every message in walk order whatever
// worker produced it, the progress line, and the plan that cuts a big file into ranges of whole
// extents. The walk itself stays on the calling thread: it produces the work items.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <erofsfs/erofsfs.hpp>

#include "common.hpp"
#include "options.hpp"

namespace erofsfs::cli {

// --- options --------------------------------------------------------------------------------

inline constexpr option_def jobs_option{
    "jobs", 'j', value_kind::number, "N",
    "decode and write files on N threads (default: the CPUs available; 1: one thread)"};
inline constexpr option_def progress_option{
    "progress", 0, value_kind::none, nullptr,
    "show the progress line on stderr even when it is not a terminal"};
inline constexpr option_def quiet_option{
    "quiet", 'q', value_kind::none, nullptr, "no progress line and no summary; only problems"};
// extract and fsck read each pcluster once per file, so a cache pays only where files share
// pclusters: packed fragments and deduplicated data (one feature bit says both). There it is on
// by default, elsewhere it would only hold bytes nobody reads again.
inline constexpr std::uint64_t default_scan_cache_mib = 16;
inline constexpr option_def scan_cache_option{
    "cache-size", 0, value_kind::number, "MIB",
    "keep up to MIB MiB of decoded pclusters shared by the workers (default: 16 for images "
    "with fragments or dedupe, else none; 0: none)"};

// The CPUs this process may run on (sched_getaffinity), at least 1.
inline unsigned available_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  const unsigned h = std::thread::hardware_concurrency();
  return h ? h : 1;
}

// -j N: 0 or absent is every available CPU; more than 256 threads is refused (exit 2).
inline bool worker_count(const args& a, unsigned& out) {
  constexpr std::uint64_t max_jobs = 256;
  const std::uint64_t n = a.number(jobs_option.name, 0);
  if (n > max_jobs) {
    usage_error(a, "-j " + std::to_string(n) + ": more than " + std::to_string(max_jobs) +
                       " threads");
    return false;
  }
  out = n ? static_cast<unsigned>(n) : available_cpus();
  return true;
}

// --cache-size of extract and fsck: as given (0: none), else the default for `img`.
inline bool make_scan_cache(const args& a, const image& img, std::unique_ptr<decoded_cache>& out) {
  constexpr std::uint64_t max_mib = std::uint64_t{1} << 30;
  const bool shares_pclusters = img.sb().has_incompat(disk::incompat_fragments);
  const std::uint64_t mib =
      a.number(scan_cache_option.name, shares_pclusters ? default_scan_cache_mib : 0);
  if (mib > max_mib) {
    report(a.cmd, "--cache-size " + std::to_string(mib) + ": more than 2^30 MiB");
    return false;
  }
  if (mib) out = std::make_unique<decoded_cache>(static_cast<std::size_t>(mib << 20));
  return true;
}

// --- the worker pool ------------------------------------------------------------------------

// Runs jobs on `threads` threads, each with its own `State` (a job gets the state of the
// thread that runs it). With one thread there is no thread at all: submit() runs the job at
// once on the caller's thread, so -j 1 is the plain serial program. The queue holds at most
// two jobs per thread: submit() waits while it is full, so the walk never runs far ahead of
// the workers (open files, planned ranges and memory stay bounded).
template <class State>
class worker_pool {
 public:
  using job = std::function<void(State&)>;

  template <class Make>
  worker_pool(unsigned threads, Make&& make_state) : limit_(2 * std::size_t{threads}) {
    for (unsigned i = 0; i < threads; ++i) states_.push_back(make_state());
    if (threads > 1)
      for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(states_[i]); });
  }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  ~worker_pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void submit(job j) {
    if (threads_.empty()) return j(states_.front());
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return queue_.size() < limit_; });
    queue_.push_back(std::move(j));
    lock.unlock();
    wake_.notify_one();
  }

  // Returns once every submitted job has finished.
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
  }

  unsigned threads() const noexcept { return static_cast<unsigned>(states_.size()); }

 private:
  void work(State& s) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {  // bounded: ends when the pool is destroyed
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      job j = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      room_.notify_one();
      j(s);
      lock.lock();
      --busy_;
      if (queue_.empty() && busy_ == 0) idle_.notify_all();
    }
  }

  std::size_t limit_;
  std::vector<State> states_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_, room_, idle_;
  std::deque<job> queue_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

// Small files go to the workers in batches (up to 64 files or 1 MiB of file size), so a tree
// of many small files costs one queue hand-off per batch rather than per file: on a loaded
// machine every hand-off may wait for a time slice.
template <class Item, class State>
class job_batch {
 public:
  using run_one = std::function<void(State&, const std::shared_ptr<Item>&)>;
  job_batch(worker_pool<State>& pool, run_one run) : pool_(pool), run_(std::move(run)) {}

  void add(std::shared_ptr<Item> item, std::uint64_t size) {
    items_.push_back(std::move(item));
    bytes_ += size;
    if (items_.size() >= max_items || bytes_ >= max_bytes) flush();
  }
  void flush() {
    if (items_.empty()) return;
    pool_.submit([run = run_, items = std::move(items_)](State& s) {
      for (const auto& i : items) run(s, i);
    });
    items_.clear();
    bytes_ = 0;
  }

 private:
  static constexpr std::size_t max_items = 64;
  static constexpr std::uint64_t max_bytes = 1u << 20;
  worker_pool<State>& pool_;
  run_one run_;
  std::vector<std::shared_ptr<Item>> items_;
  std::uint64_t bytes_ = 0;
};

// --- ordered output and the progress line ---------------------------------------------------

// Messages in walk order. Each walk step opens a slot (a number that grows with the walk);
// messages are added to their slot by whoever produces them, and a slot's messages are printed
// once it and every earlier slot are released by all their holders (the walk step, plus the
// jobs it started). So -j 4 prints exactly the lines -j 1 prints, in the same order.
//
// It also owns the progress line: shown on stderr, it is erased before any message is printed
// and drawn again on the next tick, so messages never mix with it.
class ordered_output {
 public:
  using slot_id = std::uint64_t;

  slot_id open() {
    std::lock_guard<std::mutex> lock(mu_);
    slots_.emplace_back().holders = 1;
    return next_print_ + slots_.size() - 1;
  }
  void hold(slot_id id) {
    std::lock_guard<std::mutex> lock(mu_);
    ++at(id).holders;
  }
  // `text` is one line without its newline.
  void say(slot_id id, std::FILE* to, std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    at(id).lines.emplace_back(to, std::move(text));
  }
  void release(slot_id id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--at(id).holders > 0) return;
    // Print every finished slot from the oldest unprinted one on.
    while (!slots_.empty() && slots_.front().holders == 0) {  // bounded: each pass drops one
      for (auto& [to, text] : slots_.front().lines) print(to, text);
      slots_.pop_front();
      ++next_print_;
    }
  }
  // A message of its own slot, printed in order with the others.
  void say_now(std::FILE* to, std::string text) {
    const slot_id id = open();
    say(id, to, std::move(text));
    release(id);
  }

  // Draws (or redraws) the progress line.
  void progress(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    progress_shown_ = true;
  }
  // Erases the progress line, if shown.
  void clear_progress() {
    std::lock_guard<std::mutex> lock(mu_);
    erase_progress();
  }

 private:
  struct slot {
    unsigned holders = 0;
    std::vector<std::pair<std::FILE*, std::string>> lines;
  };
  // Slots are numbered in the order they are opened and printed in that order, so the
  // unprinted ones are a queue: slot `id` is at id - next_print_ (a slot is only used between
  // its open() and its last release(), before it is printed).
  slot& at(slot_id id) noexcept { return slots_[static_cast<std::size_t>(id - next_print_)]; }
  void erase_progress() {
    if (!progress_shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    progress_shown_ = false;
  }
  void print(std::FILE* to, const std::string& text) {
    erase_progress();
    std::fprintf(to, "%s\n", text.c_str());
    if (to == stdout) std::fflush(stdout);  // before any later stderr line
  }

  std::mutex mu_;
  std::deque<slot> slots_;  // from slot next_print_ on
  slot_id next_print_ = 0;
  bool progress_shown_ = false;
};

// The counters the progress line shows, updated by any thread.
struct scan_counters {
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> files{0};
};

// The progress line: "erofsfs: extract: 512.0 MiB, 1234 files, 85.3 MiB/s", redrawn 4 times a
// second by a thread of its own while it exists, erased when it ends. The total is not known
// without a second walk, so it shows what is done and the rate.
class progress_line {
 public:
  // `enabled`: --progress, or stderr is a terminal and not --quiet.
  progress_line(bool enabled, const char* cmd, const scan_counters& c, ordered_output& out)
      : cmd_(cmd), counters_(c), out_(out), start_(std::chrono::steady_clock::now()) {
    if (enabled) thread_ = std::thread([this] { run(); });
  }
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;
  ~progress_line() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
    out_.clear_progress();
  }

  static bool wanted(const args& a) {
    if (a.has(quiet_option.name)) return false;
    return a.has(progress_option.name) || ::isatty(STDERR_FILENO) == 1;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {  // bounded: ends when stop() is called
      draw();
      cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
    }
  }
  void draw() {
    const double mib = static_cast<double>(counters_.bytes.load()) / (1024.0 * 1024.0);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char line[160];
    std::snprintf(line, sizeof line, "erofsfs: %s: %.1f MiB, %" PRIu64 " files, %.1f MiB/s", cmd_,
                  mib, counters_.files.load(), secs > 0 ? mib / secs : 0.0);
    out_.progress(line);
  }

  const char* cmd_;
  const scan_counters& counters_;
  ordered_output& out_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// resident_bound (common.hpp) for several threads: one at a time counts and drops. Dropping the
// mapped pages behind every worker at once is safe: a worker that still reads them faults them
// back in from the page cache.
class shared_resident_bound {
 public:
  explicit shared_resident_bound(const opened_image& o) noexcept : bound_(o) {}
  void data(std::uint64_t bytes) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    bound_.data(bytes);
  }
  void inode() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    bound_.inode();
  }

 private:
  std::mutex mu_;
  resident_bound bound_;
};

// --- splitting big files ----------------------------------------------------------------------

// Files larger than split_above are cut into ranges of about range_bytes, so that one big file
// keeps every worker busy. A range is a run of whole extents (a pcluster is never cut), and
// each worker handles its range at the range's offsets.
struct split_sizes {
  std::uint64_t split_above;
  std::uint64_t range_bytes;
};

// fsck only reads: 1 MiB ranges spread even a mid-sized file over every worker.
inline constexpr split_sizes fsck_split{1u << 20, 1u << 20};
// extract writes each range into the same output file, and writers of one file queue on its
// inode lock (on tmpfs, perf showed 13% of the time spinning in rwsem_spin_on_owner with 1 MiB
// ranges and -j 2, and extract ran 10-20% slower than with whole files). Only files big enough
// to dominate a run are worth that price.
inline constexpr split_sizes extract_split{32u << 20, 8u << 20};

// Groups a big file's stored extents, in file order, into ranges of whole extents of about
// range_bytes each: add() every extent, and hand a worker take() whenever add() says the range
// is full, and once more at the end if not empty().
class extent_ranges {
 public:
  explicit extent_ranges(std::uint64_t range_bytes) noexcept : range_bytes_(range_bytes) {}
  bool add(const extent& e) {
    range_.push_back(e);
    planned_ += e.length;
    return planned_ >= range_bytes_;
  }
  bool empty() const noexcept { return range_.empty(); }
  std::vector<extent> take() noexcept {
    planned_ = 0;
    return std::exchange(range_, {});
  }

 private:
  std::uint64_t range_bytes_;
  std::vector<extent> range_;
  std::uint64_t planned_ = 0;
};

// The first problem of one file, by file offset: what a serial pass, which stops at the first
// problem, would have reported. Workers writing ranges of one file offer theirs; the lowest
// offset wins, whatever the order the workers ran in.
struct first_problem {
  std::mutex mu;
  std::uint64_t at = ~std::uint64_t{0};
  std::optional<error> err;  // the problem, when it is an image's error
  std::string text;          // otherwise its message (a failed write of the output)
  bool fatal = false;        // the file cannot be finished (its write failed)
  bool has = false;

  void offer(std::uint64_t offset, const error& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (has && offset >= at) return;
    has = true;
    at = offset;
    err = e;
    text.clear();
    fatal = false;
  }
  void offer_text(std::uint64_t offset, std::string message, bool is_fatal) {
    std::lock_guard<std::mutex> lock(mu);
    if (has && offset >= at) return;
    has = true;
    at = offset;
    err.reset();
    text = std::move(message);
    fatal = is_fatal;
  }
};

}  // namespace erofsfs::cli
