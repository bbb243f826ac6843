// Shared pieces of the erofsfs tool: error printing ("erofsfs: <cmd>: <message>"), display
// escaping, opening an image with its devices, offset and decoders, finding the inode a command
// names (PATH or --nid), and the entry-name check of extract. Exit codes and the command line
// are in options.hpp.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/format/seekable_zstd.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/mmap_source.hpp>
#include <erofsfs/io/offset_source.hpp>
#include <erofsfs/io/posix.hpp>

#ifdef EROFSFS_HAVE_CURL
#include <erofsfs/io/http_source.hpp>
#endif
#ifdef EROFSFS_HAVE_ZSTD
#include <erofsfs/io/seekable_zstd_source.hpp>
#endif

#include "commands.hpp"
#include "decoders.hpp"
#include "oci.hpp"
#include "options.hpp"
#include "verity.hpp"

namespace erofsfs::cli {

// --- messages -------------------------------------------------------------------------------

// Names and values from an image may hold any byte but '/' and NUL: control bytes and
// backslashes are written as C escapes so one entry stays one line (like `ls -b`); UTF-8 and
// other bytes >= 0x80 pass through.
inline std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20 || u == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// Binary-safe rendering of a value: printable ASCII as is, '"' and '\' escaped, the rest \xHH.
inline std::string escape_value(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

inline void report(std::string_view cmd, std::string_view message) {
  std::fprintf(stderr, "erofsfs: %.*s: %.*s\n", static_cast<int>(cmd.size()), cmd.data(),
               static_cast<int>(message.size()), message.data());
}

// "erofsfs: cat: /a/b: not found: no such entry (nid 36)"; `where` is a path or file name.
inline void report(std::string_view cmd, std::string_view where, const error& e) {
  report(cmd, escape(where) + ": " + e.message());
}

inline std::string errno_text(int e) { return std::strerror(e); }

// --- formatting -----------------------------------------------------------------------------

// "drwxr-xr-x", with s/S/t/T for the special bits, as ls prints it.
inline std::string mode_string(std::uint32_t mode) {
  std::string s(10, '-');
  switch (file_type_from_mode(mode)) {
    case file_type::directory: s[0] = 'd'; break;
    case file_type::symlink: s[0] = 'l'; break;
    case file_type::chrdev: s[0] = 'c'; break;
    case file_type::blkdev: s[0] = 'b'; break;
    case file_type::fifo: s[0] = 'p'; break;
    case file_type::socket: s[0] = 's'; break;
    case file_type::regular: break;
    case file_type::unknown: s[0] = '?'; break;
  }
  static constexpr char rwx[] = "rwx";
  for (int i = 0; i < 9; ++i)
    if (mode & (0400u >> i)) s[1 + i] = rwx[i % 3];
  auto special = [&](std::size_t at, std::uint32_t bit, char set_x, char set_no_x) {
    if (mode & bit) s[at] = s[at] == 'x' ? set_x : set_no_x;
  };
  special(3, 04000, 's', 'S');
  special(6, 02000, 's', 'S');
  special(9, 01000, 't', 'T');
  return s;
}

// "2024-11-16 21:40:09" in UTC (no locale, no time zone: output is the same everywhere).
inline std::string utc_time(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  char buf[64];
  if (static_cast<std::int64_t>(t) != seconds || !gmtime_r(&t, &tm) ||
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    return "@" + std::to_string(seconds);
  return buf;
}

inline const char* algorithm_name(unsigned alg) {
  switch (alg) {
    case disk::compression_lz4: return "lz4";
    case disk::compression_lzma: return "lzma";
    case disk::compression_deflate: return "deflate";
    case disk::compression_zstd: return "zstd";
    case algorithm_interlaced: return "interlaced";
  }
  return "unknown";
}

// --cache-size MIB (cat, mount): a decoded_cache (decode/decoded_cache.hpp) of that many MiB
// shared by all of the command's readers; `out` stays null when the option is absent or 0.
inline constexpr option_def cache_size_option{
    "cache-size", 0, value_kind::number, "MIB",
    "keep up to MIB MiB of decoded pclusters, shared by every reader (default: none)"};
inline bool make_shared_cache(const args& a, std::unique_ptr<decoded_cache>& out) {
  constexpr std::uint64_t max_mib = std::uint64_t{1} << 30;  // 1 PiB: no sane budget is larger
  const std::uint64_t mib = a.number(cache_size_option.name);
  if (mib > max_mib) {
    report(a.cmd, "--cache-size " + std::to_string(mib) + ": more than 2^30 MiB");
    return false;
  }
  if (mib) out = std::make_unique<decoded_cache>(static_cast<std::size_t>(mib << 20));
  return true;
}

// --- opening --------------------------------------------------------------------------------

#ifdef EROFSFS_HAVE_CURL
// The live line of a long remote transfer: from one second after it starts, every 250 ms,
// "erofsfs: URL: fetched N MiB (R MiB/s)" redrawn on stderr, erased when the source is done.
// Only when stderr is a terminal and stdout is not (the line would tear the output on the
// screen), and not for extract/fsck, whose own progress line counts the bytes.
class remote_progress {
 public:
  remote_progress(const http_source& src, std::string url) : src_(src), url_(std::move(url)) {
    thread_ = std::thread([this] { run(); });
  }
  remote_progress(const remote_progress&) = delete;
  remote_progress& operator=(const remote_progress&) = delete;
  ~remote_progress() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    bool drawn = false;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) return;
    // bounded: ends when the source's owner stops it
    do {
      const double mib = static_cast<double>(src_.counters().bytes_fetched) / (1 << 20);
      const double secs = std::chrono::duration<double>(clock::now() - start).count();
      std::fprintf(stderr, "\r\x1b[Kerofsfs: %s: fetched %.1f MiB (%.1f MiB/s)", url_.c_str(), mib,
                   secs > 0 ? mib / secs : 0.0);
      std::fflush(stderr);
      drawn = true;
    } while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; }));
    if (drawn) std::fputs("\r\x1b[K", stderr);
  }

  const http_source& src_;
  std::string url_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};
#endif

// One image or device file. Regular files are mapped (metadata is then parsed in place);
// block devices (st_size 0) are read with pread, sized with BLKGETSIZE64; http:// and https://
// URLs are read with ranged GETs (when built with libcurl), and say on stderr what they fetched
// (on a terminal) and which request failed last; oci:// URLs (oci.hpp) are a layer of an
// image in a registry, read the same way. Any of them holding a seekable zstd EROFS layer
// (containerd's application/vnd.erofs.layer.v1+zstd: it starts with a zstd frame) is read
// through seekable_zstd_source, which decodes only the chunks read.
class file_source {
 public:
  file_source() = default;
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;

#ifdef EROFSFS_HAVE_CURL
  // A remote image tells what it cost: on a terminal, one summary line when the tool is done.
  ~file_source() {
    progress_.reset();  // stops the live line before the summary
    if (!http_) return;
    if (const std::string f = http_->last_failure(); !f.empty())
      std::fprintf(stderr, "erofsfs: last failed request: %s\n", escape(f).c_str());
    if (::isatty(STDERR_FILENO)) {
      const http_counters c = http_->counters();
      std::fprintf(stderr,
                   "erofsfs: %s: fetched %" PRIu64 " bytes in %" PRIu64 " requests (%" PRIu64
                   " retries, %" PRIu64 " cache hits)\n",
                   escape(http_->url()).c_str(), c.bytes_fetched, c.requests, c.retries,
                   c.cache_hits);
    }
  }
#endif

#ifdef EROFSFS_HAVE_CURL
  // Layer `i` of a resolved oci:// image, read lazily from the registry.
  std::string open_layer(oci_image& o, std::size_t i) {
    const oci::descriptor& d = o.image.layers[i];
    std::string failure;
    auto s = o.client->open_blob(d, &failure);
    if (!s) {
      std::string e = s.error().message();
      if (!failure.empty()) e += " (" + escape(failure) + ")";
      else if (!o.client->last_failure().empty()) e += " (" + escape(o.client->last_failure()) + ")";
      return e;
    }
    http_ = std::make_unique<http_source>(std::move(*s));
    ref_ = source_ref(*http_);
    if (oci::is_seekable_zstd_layer(d.media_type)) return open_seekable_layer(d);
    return {};
  }

  // A registry layer of media type application/vnd.erofs.layer.v1+zstd over ref_: its
  // descriptor's annotations place the chunk table (and the verity frame) and give the
  // table's digest, checked before the table is used.
  std::string open_seekable_layer(const oci::descriptor& d) {
#ifdef EROFSFS_HAVE_ZSTD
    seekable_zstd_options zo;
    auto offset_of = [&d](const char* key, std::optional<std::uint64_t>& out) -> std::string {
      const std::string_view v = d.annotation(key);
      if (v.empty()) return {};
      std::uint64_t n = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size())
        return "layer " + d.digest + ": annotation " + key + " is not a number: " +
               escape(std::string(v));
      out = n;
      return {};
    };
    if (std::string e = offset_of(seekable_zstd::annotation_chunk_table_offset, zo.chunk_table_offset);
        !e.empty())
      return e;
    if (std::string e = offset_of(seekable_zstd::annotation_verity_offset, zo.verity_offset); !e.empty())
      return e;
    zo.chunk_table_digest = d.annotation(seekable_zstd::annotation_chunk_table_digest);
    auto z = seekable_zstd_source::open(ref_, zo);
    if (!z) return "layer " + d.digest + " (seekable zstd): " + z.error().message();
    seekable_ = std::make_unique<seekable_zstd_source>(std::move(*z));
    ref_ = source_ref(*seekable_);
    return {};
#else
    return "layer " + d.digest + " is a seekable zstd EROFS layer, which needs libzstd, and this "
           "erofsfs was built without it";
#endif
  }
#endif

  // Empty string on success, else what failed. http:// and https:// name remote images,
  // oci:// a layer of an image in a registry: `layer` (a digest, may be empty) and `want`
  // choose it, and `keep` (when given) receives the resolved image for its other layers.
  std::string open(const char* path, std::string_view layer = {},
                   const std::string* platform_text = nullptr,
                   std::unique_ptr<oci_image>* keep = nullptr) {
    const std::string_view p = path;
    if (p.starts_with("oci://")) {
#ifdef EROFSFS_HAVE_CURL
      oci::platform want;
      if (platform_text) {
        auto pl = oci::parse_platform(*platform_text);
        if (!pl) return "--platform " + escape(*platform_text) + ": not OS/ARCH[/VARIANT]";
        want = *pl;
      }
      auto o = std::make_unique<oci_image>();
      if (std::string e = resolve_oci(p, layer, want, *o); !e.empty()) return escape(e);
      std::string e = open_layer(*o, o->layer);
      if (keep) *keep = std::move(o);
      return e;
#else
      (void)layer;
      (void)platform_text;
      (void)keep;
      return "oci:// images need libcurl, and this erofsfs was built without it";
#endif
    }
    if (p.starts_with("http://") || p.starts_with("https://")) {
#ifdef EROFSFS_HAVE_CURL
      std::string failure;
      auto s = http_source::open(p, http_options{}, &failure);
      if (!s) return failure.empty() ? s.error().message() : escape(failure);
      http_ = std::make_unique<http_source>(std::move(*s));
      ref_ = source_ref(*http_);
      return seekable_if_zstd();
#else
      return "http(s) images need libcurl, and this erofsfs was built without it";
#endif
    }
    posix::unique_fd fd = posix::open_retry(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return errno_text(errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errno_text(errno);
    if (S_ISDIR(st.st_mode)) return "is a directory";
    if (S_ISBLK(st.st_mode)) {
      std::uint64_t size = 0;
      if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) return errno_text(errno);
      fd_ = std::move(fd);
      fd_src_ = fd_source(fd_.get(), size);  // borrows fd_
      ref_ = source_ref(fd_src_);
      return seekable_if_zstd();
    }
    fd.reset();
    auto m = mmap_source::open(path);
    if (!m) return m.error().message();
    map_ = std::move(*m);
    ref_ = source_ref(map_);
    return seekable_if_zstd();
  }
  source_ref ref() const noexcept { return ref_; }
  // Starts the live line of a remote transfer (remote_progress) when this is a remote source
  // and stderr is a terminal while stdout is not.
  void show_live_progress() {
#ifdef EROFSFS_HAVE_CURL
    if (http_ && !progress_ && ::isatty(STDERR_FILENO) && !::isatty(STDOUT_FILENO))
      progress_ = std::make_unique<remote_progress>(*http_, escape(http_->url()));
#endif
  }
  // The dm-verity tree a seekable zstd layer carries (superblock first), or an empty ref.
  source_ref embedded_verity_tree() const noexcept {
#ifdef EROFSFS_HAVE_ZSTD
    if (seekable_ && seekable_->verity_frame()) return source_ref(seekable_->verity_tree());
#endif
    return {};
  }
  // Unmaps the resident pages of a mapped file (mmap_source::drop_resident); nothing for pread.
  void drop_resident() const noexcept { map_.drop_resident(); }

 private:
  // A file that starts with a zstd frame's magic is taken for a seekable zstd layer (an EROFS
  // image has its superblock at 1024 and no such magic at 0): ref_ becomes the image inside,
  // its chunk table found in the file's tail. Empty string on success.
  std::string seekable_if_zstd() {
    std::byte head[4];
    if (ref_.size().value_or(0) < sizeof head || ref_.read_at(0, head) ||
        !seekable_zstd::starts_with_frame_magic(head))
      return {};
#ifdef EROFSFS_HAVE_ZSTD
    auto s = seekable_zstd_source::open(ref_);
    if (!s) return "starts with a zstd frame but is no seekable EROFS layer: " + s.error().message();
    seekable_ = std::make_unique<seekable_zstd_source>(std::move(*s));
    ref_ = source_ref(*seekable_);
    return {};
#else
    return "a seekable zstd EROFS layer needs libzstd, and this erofsfs was built without it";
#endif
  }

  posix::unique_fd fd_;
  fd_source fd_src_;
  mmap_source map_;
#ifdef EROFSFS_HAVE_CURL
  std::unique_ptr<http_source> http_;
  std::unique_ptr<remote_progress> progress_;  // after http_: stopped before it goes
#endif
#ifdef EROFSFS_HAVE_ZSTD
  std::unique_ptr<seekable_zstd_source> seekable_;  // reads through ref_ before it was replaced
#endif
  source_ref ref_;
};

// An open image with everything it borrows. Not movable: the image points at the members.
struct opened_image {
  std::string path;
  std::vector<std::string> device_paths;
  file_source file;
  std::unique_ptr<verified_source> verified;  // `file` through its verity tree (--verity-root)
  offset_source primary;  // the EROFS image inside `file` (from --offset; all of it by default)
  std::vector<std::unique_ptr<file_source>> devices;
  std::vector<source_ref> device_refs;
  image img;
#ifdef EROFSFS_HAVE_CURL
  std::unique_ptr<oci_image> oci;  // when `path` is oci://: its manifest, for the device layers
#endif

  opened_image() = default;
  opened_image(const opened_image&) = delete;
  opened_image& operator=(const opened_image&) = delete;

  void drop_resident() const noexcept {
    file.drop_resident();
    for (const auto& d : devices) d->drop_resident();
  }
};

// Keeps a whole-image scan (extract, fsck) from holding the whole image in its RSS: when the
// process's file-backed resident memory passes `limit`, the image's mapped pages are dropped
// (mmap_source::drop_resident; they stay in the page cache). Resident memory is looked up
// (/proc/self/statm) after every 1 MiB of work, counting file data read plus 64 KiB per inode
// for the metadata it touched: the kernel may map a whole 2 MiB folio for one inode, so
// counting data alone would let a metadata-heavy stretch grow unseen. Peak memory is then
// about `limit` plus the read buffers, whatever the image size.
class resident_bound {
 public:
  explicit resident_bound(const opened_image& o, std::uint64_t limit = 24u << 20) noexcept
      : o_(o), limit_(limit), statm_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) {}
  void data(std::uint64_t bytes) noexcept {
    since_ += bytes;
    if (since_ < check_every) return;
    since_ = 0;
    if (file_resident() > limit_) o_.drop_resident();
  }
  void inode() noexcept { data(64u << 10); }

 private:
  static constexpr std::uint64_t check_every = 1u << 20;
  // Resident file-backed bytes (statm's "shared" field), or "a lot" when unknown, so that
  // the pages are dropped rather than kept. statm is opened once and read again from offset
  // 0: on a tree of small files this runs every 16 inodes, and opening it each time was 5% of
  // fsck's time.
  std::uint64_t file_resident() const noexcept {
    if (statm_.get() < 0) return ~std::uint64_t{0};
    char buf[128];
    const ssize_t n = ::pread(statm_.get(), buf, sizeof buf - 1, 0);
    if (n <= 0) return ~std::uint64_t{0};
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0, shared = 0;
    if (std::sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3) return ~std::uint64_t{0};
    return static_cast<std::uint64_t>(shared) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }

  const opened_image& o_;
  std::uint64_t limit_;
  posix::unique_fd statm_;
  std::uint64_t since_ = 0;
};

// The image file's bytes from --offset on, as the EROFS image; reports and returns false when
// the offset is past the end of the file.
inline bool window_at_offset(const args& a, const std::string& path, source_ref file,
                             offset_source& out) {
  auto w = offset_source::create(file, a.number("offset"));
  if (!w) {
    report(a.cmd, path + ": --offset " + std::to_string(a.number("offset")) + ": " +
                      w.error().message());
    return false;
  }
  out = *w;
  return true;
}

#ifdef EROFSFS_HAVE_CURL
// An oci:// metadata image opened without --device: its devices are the layers that follow
// (oci.hpp device_layers), and the image is opened again with them. False (reported) when
// the manifest has fewer layers than the device table names.
inline bool open_device_layers(const args& a, opened_image& o, const open_options& base) {
  std::vector<std::string> tags;
  for (const device_info& d : o.img.device_table()) tags.emplace_back(d.tag());
  const std::vector<std::size_t> layers = device_layers(*o.oci, tags);
  if (layers.size() < tags.size()) {
    report(a.cmd, o.path + ": the image has " + std::to_string(tags.size()) +
                      " extra device(s) but its manifest only " + std::to_string(layers.size()) +
                      " more EROFS layer(s); name them with --device");
    return false;
  }
  for (const std::size_t i : layers) {
    o.devices.push_back(std::make_unique<file_source>());
    if (std::string e = o.devices.back()->open_layer(*o.oci, i); !e.empty()) {
      report(a.cmd, o.path + ": layer " + o.oci->image.layers[i].digest + ": " + e);
      return false;
    }
    o.device_refs.push_back(o.devices.back()->ref());
    o.device_paths.push_back(o.path + "#" + o.oci->image.layers[i].digest);
  }
  open_options opts = base;
  opts.devices = o.device_refs;
  auto img = open_image(o.primary, opts);
  if (!img) {
    report(a.cmd, o.path, img.error());
    return false;
  }
  o.img = std::move(*img);
  return true;
}
#endif

// Opens `path` with the --device files and --offset of `a`; prints the error and returns
// nullptr on failure.
inline std::unique_ptr<opened_image> open_image(const args& a, const std::string& path) {
  auto o = std::make_unique<opened_image>();
  o->path = path;
  o->device_paths = a.values("device");
  const std::string* layer = a.value("layer");
  const std::string* platform_text = a.value("platform");
#ifdef EROFSFS_HAVE_CURL
  std::unique_ptr<oci_image>* keep = &o->oci;
#else
  std::unique_ptr<oci_image>* keep = nullptr;  // no oci:// without libcurl
#endif
  if (std::string e = o->file.open(path.c_str(), layer ? std::string_view(*layer) : std::string_view(),
                                   platform_text, keep);
      !e.empty()) {
    report(a.cmd, path + ": " + e);
    return nullptr;
  }
  // extract and fsck draw their own progress line (it counts the bytes); the others show the
  // transfer's.
  bool own_progress = false;
  if (a.spec)
    for (const option_def& d : a.spec->options) own_progress |= std::string_view(d.name) == "progress";
  if (!own_progress) o->file.show_live_progress();
  source_ref file = o->file.ref();
  if (wants_verity(a)) {
    if (std::string e = verified_source::open(file, a, o->verified, o->file.embedded_verity_tree());
        !e.empty()) {
      report(a.cmd, path + ": " + e);
      return nullptr;
    }
    file = o->verified->ref();
  }
  if (!window_at_offset(a, path, file, o->primary)) return nullptr;
  for (const std::string& d : o->device_paths) {
    o->devices.push_back(std::make_unique<file_source>());
    if (std::string e = o->devices.back()->open(d.c_str(), {}, platform_text); !e.empty()) {
      report(a.cmd, d + ": " + e);
      return nullptr;
    }
    o->device_refs.push_back(o->devices.back()->ref());
  }
  open_options opts;
  opts.devices = o->device_refs;
  opts.decompressors = &decoders();
  auto img = open_image(o->primary, opts);
  if (!img) {
    report(a.cmd, path, img.error());
    return nullptr;
  }
  o->img = std::move(*img);
#ifdef EROFSFS_HAVE_CURL
  if (o->oci && o->device_paths.empty() && o->img.sb().extra_devices > 0) {
    if (!open_device_layers(a, *o, opts)) return nullptr;
    return o;
  }
#endif
  if (o->device_paths.empty() && o->img.sb().extra_devices > 0)
    report(a.cmd, path + ": the image has " + std::to_string(o->img.sb().extra_devices) +
                      " extra device(s) and none was given: their data is read from this file "
                      "at unified addresses (flat mode, as Linux does); separate blobs need "
                      "--device FILE");
  return o;
}

// --- the inode a command works on -------------------------------------------------------------

// What a command calls the inode it was given: the PATH, or "nid N" for --nid.
inline std::string subject_name(const args& a, const std::string* path) {
  return path ? *path : "nid " + std::to_string(a.number("nid"));
}

// The inode named by `path`, or by --nid when `path` is nullptr (--nid reads the inode as it
// is, without any directory lookup: for debugging images whose directories are damaged).
// `follow_last`: follow a final symlink of the path (cat), or not (stat, ls, map).
inline result<inode> find_subject(const opened_image& o, const std::string* path,
                                  std::uint64_t nid, read_context& ctx, bool follow_last) {
  if (!path) return read_inode(o.img, nid);
  return resolve_path(o.img, *path, ctx, follow_last);
}

// --- extracting -----------------------------------------------------------------------------

// Entry names an extractor may create: what Linux itself would accept as one path component.
inline bool safe_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace erofsfs::cli
