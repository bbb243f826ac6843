// HTTP range source (L2, opt-in): an image or blob on an HTTP(S) server, read with ranged GETs
// through libcurl. Include this header and link libcurl (pkg-config libcurl); nothing else in
// erofsfs needs it. Satisfies sized_source, so it serves as the image and as any device.
//
// What it promises:
// - Only the object's bytes reach a caller. Every answer must be 206 with a Content-Range whose
//   start and end equal the request's and whose total equals the object size learnt by open()
//   (from the first block's Content-Range; a later different total is an error), a
//   Content-Length (when sent) equal to the range and a body of exactly that many bytes, with no
//   Content-Encoding. A 200 (the server ignored Range) is refused by name: accepting a whole
//   object per block read would turn every read into a download. Bodies land in a private
//   buffer first, so a failed read leaves the caller's buffer as it was.
// - Transient failures are retried, at most `max_retries` times with exponential backoff:
//   connection failures and resets, a body cut short, a timeout, 429 and 5xx (Retry-After is
//   honoured up to `retry_after_cap_ms`). Protocol violations (wrong Content-Range, wrong
//   length, extra bytes, 200) are not: a server that misplaces bytes once is not asked again.
//   Worst case for one read: (max_retries + 1) requests of at most request_timeout_ms each,
//   plus the backoff delays.
// - Threads: read_at is callable concurrently on a const source. Each request borrows a curl
//   easy handle (with its own persistent connection) from a pool that grows to the number of
//   requests in flight, so reads from several threads run in parallel.
// - Reads are served in whole blocks of `block_size` from a bounded LRU block cache; missing
//   blocks are fetched as merged runs (one GET for adjacent blocks, up to max_request_blocks),
//   and a run that ends a read also fetches the next `readahead_blocks` blocks. With
//   cache_bytes < block_size the cache is off and each read fetches exactly its bytes.
// - Redirects are followed (registries redirect blob GETs to storage), at most max_redirects,
//   to http/https only. https uses libcurl's default CA store (the system's).
//
// Errors are erofsfs::error values with what::http_* constants, offset = first byte of the
// request, value = the HTTP status when there was one; last_failure() has the full text (URL,
// range, status, curl's message, retries). libcurl is initialised per source with
// curl_global_init (reference counted and thread-safe from libcurl 7.84).
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/bytes.hpp"
#include "../base/error.hpp"
#include "source.hpp"

namespace erofsfs {

struct http_options {
  std::uint32_t connect_timeout_ms = 10'000;
  std::uint32_t request_timeout_ms = 60'000;  // one whole request, connecting included
  std::uint32_t max_redirects = 5;            // per request
  std::uint32_t max_retries = 4;              // per read, after the first attempt (<= 30)
  std::uint32_t backoff_initial_ms = 100;     // doubled on each retry ...
  std::uint32_t backoff_max_ms = 5'000;       // ... up to this
  std::uint32_t retry_after_cap_ms = 30'000;  // longest Retry-After obeyed
  std::uint32_t block_size = 64 * 1024;       // fetch and cache unit: a power of two, 512 B-16 MiB
  std::uint32_t readahead_blocks = 3;         // blocks fetched after a miss that ends a read
  std::uint32_t max_request_blocks = 64;      // longest merged run of blocks in one GET (>= 1)
  std::uint64_t cache_bytes = std::uint64_t{64} << 20;  // block cache bound; < block_size: off
  std::uint32_t max_idle_connections = 16;    // pooled handles kept between requests
  std::string user_agent = "erofsfs";
  // Extra request headers ("Name: value", e.g. a registry's "Authorization: Bearer ..."). No
  // CR or LF (refused by open). libcurl sends a custom Authorization header only to the URL's
  // own scheme, host and port, not to a host a redirect leads to (CURLOPT_UNRESTRICTED_AUTH
  // stays off), so a registry's redirect to storage does not leak it.
  std::vector<std::string> headers;
};

// Totals since open(), for a "fetched N bytes" summary. Read without locking; each field is
// exact, the set is not a snapshot.
struct http_counters {
  std::uint64_t bytes_fetched = 0;  // body bytes received, failed answers included
  std::uint64_t requests = 0;       // GETs sent, retries included
  std::uint64_t retries = 0;
  std::uint64_t cache_hits = 0;     // blocks served from the cache
  std::uint64_t cache_misses = 0;   // blocks fetched for a read (read-ahead included)
};

namespace detail {

inline bool http_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline std::string_view http_trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// A decimal u64 that is all of `s`; nullopt for empty, non-digits or overflow.
inline std::optional<std::uint64_t> http_parse_u64(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {  // bounded by the header's length
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<unsigned>(c - '0');
    if (v > (~std::uint64_t{0} - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

struct http_content_range {
  std::uint64_t first = 0, last = 0, total = 0;
};

// "bytes FIRST-LAST/TOTAL" with FIRST <= LAST < TOTAL (RFC 9110 §14.4); anything else
// (unknown total "*", "bytes */N" of a 416, other units) is nullopt.
inline std::optional<http_content_range> http_parse_content_range(std::string_view v) noexcept {
  if (v.size() < 6 || !http_iequals(v.substr(0, 6), "bytes ")) return std::nullopt;
  v.remove_prefix(6);
  const std::size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash)
    return std::nullopt;
  auto first = http_parse_u64(v.substr(0, dash));
  auto last = http_parse_u64(v.substr(dash + 1, slash - dash - 1));
  auto total = http_parse_u64(v.substr(slash + 1));
  if (!first || !last || !total || *first > *last || *last >= *total) return std::nullopt;
  return http_content_range{*first, *last, *total};
}

// The URL for messages, without user:password@.
inline std::string http_redacted(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const std::size_t host = scheme + 3;
  const std::size_t end = std::min(url.find('/', host), url.size());
  const std::size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < host) return std::string(url);
  return std::string(url.substr(0, host)) + "***@" + std::string(url.substr(at + 1));
}

// Bounded LRU cache of verified blocks, keyed by block index. Thread-safe; copies out under
// its lock (at most one block), so no caller holds a reference into it.
class http_block_cache {
 public:
  explicit http_block_cache(std::uint64_t capacity) noexcept : capacity_(capacity) {}

  // Copies `out.size()` bytes from `from` inside block `b`, if cached.
  bool copy(std::uint64_t b, std::size_t from, std::span<std::byte> out) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = map_.find(b);
    if (it == map_.end()) return false;
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    std::memcpy(out.data(), it->second.data.data() + from, out.size());
    return true;
  }
  bool contains(std::uint64_t b) const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.count(b) != 0;
  }
  void insert(std::uint64_t b, std::span<const std::byte> data) {
    if (data.size() > capacity_) return;
    std::vector<std::byte> copy(data.begin(), data.end());  // allocated outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.count(b)) return;  // another thread fetched it too
    while (used_ + copy.size() > capacity_ && !lru_.empty()) {  // bounded: one entry a turn
      const auto victim = map_.find(lru_.back());
      used_ -= victim->second.data.size();
      map_.erase(victim);
      lru_.pop_back();
    }
    lru_.push_front(b);
    used_ += copy.size();
    map_.emplace(b, entry{std::move(copy), lru_.begin()});
  }

 private:
  struct entry {
    std::vector<std::byte> data;
    std::list<std::uint64_t>::iterator pos;
  };
  const std::uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<std::uint64_t> lru_;  // most recently used first
  std::unordered_map<std::uint64_t, entry> map_;
  std::uint64_t used_ = 0;
};

// One pooled easy handle: its persistent connection lives inside it.
struct http_handle {
  CURL* curl = nullptr;
  char error_text[CURL_ERROR_SIZE] = {};
  http_handle() = default;
  http_handle(const http_handle&) = delete;
  http_handle& operator=(const http_handle&) = delete;
  ~http_handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

// One GET's answer. The header callback resets it at every status line, so after redirects it
// describes the last response only.
struct http_exchange {
  // The request.
  std::uint64_t first = 0;
  std::uint64_t want = 0;                  // bytes asked for
  std::optional<std::uint64_t> known_size;  // nullopt only for open()'s first request
  std::vector<std::byte>* body = nullptr;
  std::atomic<std::uint64_t>* bytes_counter = nullptr;

  // The response headers.
  long status = 0;
  std::optional<http_content_range> range;
  bool range_malformed = false;
  std::optional<std::uint64_t> content_length;
  bool content_length_malformed = false;
  bool encoded = false;
  std::int64_t retry_after_ms = -1;

  // Body progress and verdict.
  bool checked = false;      // headers validated, body sized
  std::uint64_t expect = 0;  // body length once checked
  std::uint64_t got = 0;
  std::uint64_t discarded = 0;  // bytes of an error body thrown away
  const char* reject = nullptr;
  errc reject_code = errc::protocol_error;
  std::uint64_t reject_value = error::unknown;
  bool reject_retry = false;

  void reset_response() noexcept {
    status = 0;
    range.reset();
    range_malformed = false;
    content_length.reset();
    content_length_malformed = false;
    encoded = false;
    retry_after_ms = -1;
  }
  bool refuse(const char* what, errc code = errc::protocol_error,
              std::uint64_t value = error::unknown, bool retry = false) noexcept {
    reject = what;
    reject_code = code;
    reject_value = value;
    reject_retry = retry;
    return false;
  }

  // The 206's headers against the request; sizes the body. False (with `reject` set) if they
  // do not describe exactly the bytes asked for.
  bool check_headers() {
    checked = true;
    if (encoded) return refuse(what::http_content_encoding_is_not_identity);
    if (!range || range_malformed) return refuse(what::http_content_range_missing_or_malformed);
    if (known_size && range->total != *known_size)
      return refuse(what::http_object_size_changed, errc::protocol_error, range->total);
    const std::uint64_t total = range->total;
    if (first >= total) return refuse(what::http_content_range_differs_from_the_request);
    expect = known_size ? want : std::min(want, total - first);
    if (range->first != first || range->last != first + expect - 1)
      return refuse(what::http_content_range_differs_from_the_request, errc::protocol_error,
                    range->first);
    if (content_length_malformed || (content_length && *content_length != expect))
      return refuse(what::http_content_length_differs_from_the_range, errc::protocol_error,
                    content_length.value_or(error::unknown));
    body->resize(static_cast<std::size_t>(expect));
    return true;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto& x = *static_cast<http_exchange*>(self);
    const std::size_t len = size * n;  // libcurl: size is always 1
    const std::string_view line = http_trim(std::string_view(data, len));
    if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
      x.reset_response();
      const std::size_t sp = line.find(' ');
      if (sp != std::string_view::npos && line.size() >= sp + 4)
        if (auto code = http_parse_u64(line.substr(sp + 1, 3))) x.status = static_cast<long>(*code);
      return len;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    const std::string_view name = http_trim(line.substr(0, colon));
    const std::string_view value = http_trim(line.substr(colon + 1));
    if (http_iequals(name, "content-range")) {
      auto r = http_parse_content_range(value);
      if (!r || x.range) x.range_malformed = true;  // two of them is as bad as a bad one
      x.range = r;
    } else if (http_iequals(name, "content-length")) {
      auto v = http_parse_u64(value);
      if (!v || (x.content_length && *x.content_length != *v)) x.content_length_malformed = true;
      x.content_length = v;
    } else if (http_iequals(name, "content-encoding")) {
      if (!http_iequals(value, "identity")) x.encoded = true;
    } else if (http_iequals(name, "retry-after")) {
      if (auto secs = http_parse_u64(value)) {
        x.retry_after_ms = *secs > 86'400 ? 86'400'000 : static_cast<std::int64_t>(*secs * 1000);
      } else {
        const std::string date(value);
        const std::time_t when = curl_getdate(date.c_str(), nullptr);
        const std::time_t now = std::time(nullptr);
        if (when >= 0 && now >= 0)
          x.retry_after_ms = when > now ? std::min<std::int64_t>(when - now, 86'400) * 1000 : 0;
      }
    }
    return len;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) noexcept {
    auto& x = *static_cast<http_exchange*>(self);
    const std::size_t len = size * n;
    x.bytes_counter->fetch_add(len, std::memory_order_relaxed);
    if (x.status == 200) {  // the whole object, not our range: stop it now
      x.refuse(what::http_server_ignored_the_range_request, errc::unsupported, 200);
      return 0;
    }
    if (x.status != 206) {  // an error page: drop a little of it, then hang up
      x.discarded += len;
      return x.discarded > (std::size_t{1} << 16) ? 0 : len;
    }
    if (!x.checked && !x.check_headers()) return 0;
    if (x.reject) return 0;
    if (len > x.expect - x.got) {
      x.refuse(what::http_body_longer_than_the_range, errc::protocol_error, x.got + len);
      return 0;
    }
    std::memcpy(x.body->data() + x.got, data, len);
    x.got += len;
    return len;
  }
};

// One attempt's verdict.
struct http_outcome {
  status st;
  bool retry = false;
  std::int64_t retry_after_ms = -1;
  std::string detail;  // "HTTP 500", curl's text
};

class http_state {
 public:
  http_state(std::string url, const http_options& opt)
      : url_(std::move(url)), opt_(opt), cache_(opt.cache_bytes),
        init_(curl_global_init(CURL_GLOBAL_DEFAULT)) {
    headers_ = curl_slist_append(nullptr, "Accept-Encoding: identity");
    for (const std::string& h : opt.headers)  // a null list marks the failure (initialised())
      if (headers_) {
        curl_slist* more = curl_slist_append(headers_, h.c_str());
        if (!more) curl_slist_free_all(headers_);
        headers_ = more;
      }
  }
  http_state(const http_state&) = delete;
  http_state& operator=(const http_state&) = delete;
  ~http_state() {
    idle_.clear();
    curl_slist_free_all(headers_);
    if (init_ == CURLE_OK) curl_global_cleanup();
  }

  bool initialised() const noexcept { return init_ == CURLE_OK && headers_ != nullptr; }
  const std::string& url() const noexcept { return url_; }
  std::uint64_t size() const noexcept { return size_; }
  const http_options& options() const noexcept { return opt_; }
  bool cache_on() const noexcept { return opt_.cache_bytes >= opt_.block_size; }

  // open()'s first request: block 0, which also tells the object size.
  status discover() {
    std::vector<std::byte> buf;
    std::uint64_t total = 0;
    EROFSFS_TRY(fetch(0, opt_.block_size, buf, std::nullopt, &total));
    if (total > (std::uint64_t{1} << 63))
      return make_error(errc::limit_exceeded, what::http_object_larger_than_2_63_bytes,
                        {.value = total});
    size_ = total;
    if (cache_on()) cache_.insert(0, buf);
    return {};
  }

  status read(std::uint64_t off, std::span<std::byte> dst) {
    if (!in_bounds(off, dst.size(), size_))
      return make_error(errc::truncated, what::http_read_past_the_end_of_the_object,
                        {.offset = off, .value = dst.size()});
    if (dst.empty()) return {};
    return cache_on() ? read_blocks(off, dst) : read_direct(off, dst);
  }

  http_counters counters() const noexcept {
    http_counters c;
    c.bytes_fetched = bytes_.load(std::memory_order_relaxed);
    c.requests = requests_.load(std::memory_order_relaxed);
    c.retries = retries_.load(std::memory_order_relaxed);
    c.cache_hits = hits_.load(std::memory_order_relaxed);
    c.cache_misses = misses_.load(std::memory_order_relaxed);
    return c;
  }
  std::string last_failure() const {
    std::lock_guard<std::mutex> lock(failure_mu_);
    return last_failure_;
  }

 private:
  // Without a cache: exactly the caller's bytes, in requests of at most max_request_blocks.
  status read_direct(std::uint64_t off, std::span<std::byte> dst) {
    const std::uint64_t piece = std::uint64_t{opt_.block_size} * opt_.max_request_blocks;
    std::vector<std::byte> buf;
    for (std::size_t done = 0; done < dst.size();) {  // bounded: done grows by n >= 1
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece, dst.size() - done));
      EROFSFS_TRY(fetch(off + done, n, buf, size_, nullptr));
      std::memcpy(dst.data() + done, buf.data(), n);
      done += n;
    }
    return {};
  }

  // Through the block cache: cached blocks are copied, each run of missing ones is one GET.
  status read_blocks(std::uint64_t off, std::span<std::byte> dst) {
    const std::uint64_t bs = opt_.block_size;
    const std::uint64_t end = off + dst.size();  // <= size_ (checked by read)
    const std::uint64_t last = (end - 1) / bs;
    const std::uint64_t blocks = (size_ + bs - 1) / bs;  // size_ <= 2^63: no overflow
    // The part of block b inside [off, end), as (position in the object, length).
    auto overlap = [&](std::uint64_t b) {
      const std::uint64_t from = std::max(off, b * bs);
      const std::uint64_t to = std::min(end, std::min(size_, (b + 1) * bs));
      return std::pair<std::uint64_t, std::uint64_t>(from, to > from ? to - from : 0);
    };
    std::vector<std::byte> buf;
    for (std::uint64_t b = off / bs; b <= last;) {  // bounded: b grows every turn
      const auto [from, len] = overlap(b);
      if (cache_.copy(b, static_cast<std::size_t>(from - b * bs),
                      dst.subspan(static_cast<std::size_t>(from - off),
                                  static_cast<std::size_t>(len)))) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        ++b;
        continue;
      }
      std::uint64_t e = b + 1;  // the run is [b, e)
      while (e <= last && e - b < opt_.max_request_blocks && !cache_.contains(e)) ++e;
      if (e > last) {  // the run ends the read: read ahead, up to the run limit
        const std::uint64_t ahead =
            std::min({blocks, e + opt_.readahead_blocks, b + opt_.max_request_blocks});
        while (e < ahead && !cache_.contains(e)) ++e;
      }
      const std::uint64_t run_first = b * bs;
      const std::uint64_t run_len = std::min(size_, e * bs) - run_first;
      EROFSFS_TRY(fetch(run_first, run_len, buf, size_, nullptr));
      misses_.fetch_add(e - b, std::memory_order_relaxed);
      for (std::uint64_t k = b; k < e; ++k) {  // bounded by the run
        const std::uint64_t k_first = k * bs - run_first;
        const std::uint64_t k_len = std::min(bs, run_len - k_first);
        const std::span<const std::byte> block(buf.data() + k_first,
                                               static_cast<std::size_t>(k_len));
        if (k <= last) {
          const auto [f, l] = overlap(k);
          if (l) std::memcpy(dst.data() + (f - off), buf.data() + (f - run_first), l);
        }
        cache_.insert(k, block);
      }
      b = e;
    }
    return {};
  }

  // [first, first + want) into `body`, retried as the header comment says. With no known size
  // (open) the answer may be shorter than `want` (a small object) and sets *total.
  status fetch(std::uint64_t first, std::uint64_t want, std::vector<std::byte>& body,
               std::optional<std::uint64_t> known_size, std::uint64_t* total) {
    for (std::uint32_t attempt = 0;; ++attempt) {  // bounded: returns by attempt max_retries
      http_exchange x;
      x.first = first;
      x.want = want;
      x.known_size = known_size;
      x.body = &body;
      x.bytes_counter = &bytes_;
      http_outcome o = attempt_once(x);
      if (o.st) {
        if (total) *total = x.range->total;
        return {};
      }
      if (!o.retry || attempt >= opt_.max_retries) {
        note_failure(first, want, o, attempt);
        return o.st;
      }
      retries_.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(attempt, o.retry_after_ms)));
    }
  }

  std::uint64_t delay_ms(std::uint32_t attempt, std::int64_t retry_after_ms) const noexcept {
    std::uint64_t d = std::min<std::uint64_t>(
        std::uint64_t{opt_.backoff_initial_ms} << std::min<std::uint32_t>(attempt, 30),
        opt_.backoff_max_ms);
    if (retry_after_ms >= 0)
      d = std::max<std::uint64_t>(
          d, std::min<std::uint64_t>(static_cast<std::uint64_t>(retry_after_ms),
                                     opt_.retry_after_cap_ms));
    return d;
  }

  http_outcome attempt_once(http_exchange& x) {
    http_outcome o;
    std::unique_ptr<http_handle> h = take_handle();
    if (!h) {
      o.st = make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::http_cannot_create_a_curl_handle, {.offset = x.first});
      return o;
    }
    const std::string range =
        std::to_string(x.first) + "-" + std::to_string(x.first + x.want - 1);
    h->error_text[0] = '\0';
    curl_easy_setopt(h->curl, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
    requests_.fetch_add(1, std::memory_order_relaxed);
    const CURLcode rc = curl_easy_perform(h->curl);
    o = judge(x, rc);
    if (rc != CURLE_OK && h->error_text[0]) {
      if (!o.detail.empty()) o.detail += ", ";
      o.detail += "curl: ";
      o.detail += h->error_text;
    }
    give_back(std::move(h));
    return o;
  }

  // The verdict on one finished GET, most specific first.
  static http_outcome judge(http_exchange& x, CURLcode rc) {
    http_outcome o;
    if (x.status) o.detail = "HTTP " + std::to_string(x.status);
    const std::uint64_t status_value =
        x.status ? static_cast<std::uint64_t>(x.status) : error::unknown;
    auto fail = [&](errc code, const char* what, bool retry,
                    std::uint64_t value = error::unknown) {
      o.st = make_error(code, what,
                        {.offset = x.first, .value = value != error::unknown ? value : status_value});
      o.retry = retry;
      return o;
    };
    if (x.reject) return fail(x.reject_code, x.reject, x.reject_retry, x.reject_value);
    if (x.status == 429) {
      o.retry_after_ms = x.retry_after_ms;
      return fail(errc::io_error, what::http_too_many_requests, true);
    }
    if (x.status >= 500 && x.status <= 599) {
      o.retry_after_ms = x.retry_after_ms;  // 503 may carry one too
      return fail(errc::io_error, what::http_server_error_status, true);
    }
    if (rc != CURLE_OK) {
      switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
          return fail(errc::io_error, what::http_request_timed_out, true);
        case CURLE_PARTIAL_FILE:
          return fail(errc::io_error, what::http_connection_closed_mid_body, true);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_WEIRD_SERVER_REPLY:  // e.g. junk left on a reused connection
          return fail(errc::io_error, what::http_connection_failed, true);
        case CURLE_TOO_MANY_REDIRECTS:
          return fail(errc::io_error, what::http_too_many_redirects, false);
        default:
          return fail(errc::io_error, what::http_transfer_failed, false,
                      static_cast<std::uint64_t>(rc));
      }
    }
    if (x.status == 206) {
      if (!x.checked && !x.check_headers())  // an empty body never reached on_body
        return fail(x.reject_code, x.reject, x.reject_retry, x.reject_value);
      if (x.got != x.expect)  // a close-delimited body cut short looks like this
        return fail(errc::protocol_error, what::http_body_shorter_than_the_range, true, x.got);
      return o;
    }
    if (x.status == 200) return fail(errc::unsupported, what::http_server_ignored_the_range_request, false);
    if (x.status == 404 || x.status == 410)
      return fail(errc::not_found, what::http_object_not_found, false);
    if (x.status == 416 && !x.known_size)  // open(): even byte 0 is past the end
      return fail(errc::truncated, what::http_object_is_empty, false);
    return fail(errc::io_error, what::http_unexpected_status, false);
  }

  std::unique_ptr<http_handle> take_handle() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!idle_.empty()) {
        std::unique_ptr<http_handle> h = std::move(idle_.back());
        idle_.pop_back();
        return h;
      }
    }
    auto h = std::make_unique<http_handle>();
    h->curl = curl_easy_init();
    if (!h->curl) return nullptr;
    CURL* c = h->curl;
    const bool ok =
        curl_easy_setopt(c, CURLOPT_URL, url_.c_str()) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(opt_.max_redirects)) ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt_.connect_timeout_ms)) ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.request_timeout_ms)) ==
            CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USERAGENT, opt_.user_agent.c_str()) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 128L * 1024) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error_text) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &http_exchange::on_header) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &http_exchange::on_body) == CURLE_OK;
    if (!ok) return nullptr;
    return h;
  }

  void give_back(std::unique_ptr<http_handle> h) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (idle_.size() < opt_.max_idle_connections) idle_.push_back(std::move(h));
  }

  void note_failure(std::uint64_t first, std::uint64_t want, const http_outcome& o,
                    std::uint32_t retries) {
    std::string s = "GET " + http_redacted(url_) + " bytes=" + std::to_string(first) + "-" +
                    std::to_string(first + want - 1) + ": " + o.st.error().what;
    if (!o.detail.empty()) s += " (" + o.detail + ")";
    if (retries) s += ", after " + std::to_string(retries) + " retries";
    std::lock_guard<std::mutex> lock(failure_mu_);
    last_failure_ = std::move(s);
  }

  const std::string url_;
  const http_options opt_;
  std::uint64_t size_ = 0;  // set once by discover(), before the source is shared
  http_block_cache cache_;
  const CURLcode init_;
  curl_slist* headers_ = nullptr;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<http_handle>> idle_;

  std::atomic<std::uint64_t> bytes_{0}, requests_{0}, retries_{0}, hits_{0}, misses_{0};

  mutable std::mutex failure_mu_;
  std::string last_failure_;
};

}  // namespace detail

class http_source {
 public:
  http_source() noexcept = default;

  // Checks the URL and options, then GETs the first block, which fixes the object size. When
  // that fails and `failure` is given, it receives the request in words (see last_failure()).
  static result<http_source> open(std::string_view url, const http_options& opt = {},
                                  std::string* failure = nullptr) {
    const bool http = url.size() > 7 && detail::http_iequals(url.substr(0, 7), "http://");
    const bool https = url.size() > 8 && detail::http_iequals(url.substr(0, 8), "https://");
    if (!http && !https) return make_error(errc::invalid_argument, what::http_url_is_not_http_or_https);
    auto bad = [](std::uint64_t v) {
      return make_error(errc::invalid_argument, what::http_option_out_of_range, {.value = v});
    };
    const std::uint32_t bs = opt.block_size;
    if (bs < 512 || bs > (std::uint32_t{1} << 24) || (bs & (bs - 1)) != 0) return bad(bs);
    if (opt.max_request_blocks == 0 ||
        std::uint64_t{opt.max_request_blocks} * bs > (std::uint64_t{1} << 30))
      return bad(opt.max_request_blocks);
    if (opt.max_retries > 30) return bad(opt.max_retries);
    if (opt.request_timeout_ms == 0) return bad(0);
    for (const std::string& h : opt.headers)
      if (h.find_first_of("\r\n", 0, 3) != std::string::npos || h.find(':') == std::string::npos)
        return bad(h.size());
    http_source s;
    s.st_ = std::make_unique<detail::http_state>(std::string(url), opt);
    if (!s.st_->initialised())
      return make_error(std::make_error_code(std::errc::not_enough_memory),
                        what::http_cannot_create_a_curl_handle);
    if (status st = s.st_->discover(); !st) {
      if (failure) *failure = s.st_->last_failure();
      return st.error();
    }
    return s;
  }

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    status st = read(offset, dst);
    return st ? std::error_code{} : st.error().code;
  }
  // read_at with the whole error (what::http_*, offset, HTTP status).
  status read(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (!st_) return make_error(errc::no_device, what::no_such_device);
    return st_->read(offset, dst);
  }
  std::uint64_t size() const noexcept { return st_ ? st_->size() : 0; }

  http_counters counters() const noexcept { return st_ ? st_->counters() : http_counters{}; }
  // The last failed request in words ("GET URL bytes=A-B: what (HTTP 500, curl: ...), after 4
  // retries"), empty when none failed. For messages only; tests compare error::what.
  std::string last_failure() const { return st_ ? st_->last_failure() : std::string(); }
  std::string url() const { return st_ ? detail::http_redacted(st_->url()) : std::string(); }

 private:
  std::unique_ptr<detail::http_state> st_;
};

static_assert(sized_source<http_source>);

}  // namespace erofsfs
