// Shared pieces of the erofsfs tool: exit codes, error printing ("erofsfs: <cmd>: <message>"),
// option parsing, opening an image with its devices and decoders, display escaping, and the
// entry-name check of extract.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/mmap_source.hpp>

#ifdef EROFSFS_HAVE_LZMA
#include <erofsfs/codecs/lzma.hpp>
#define EROFSFS_CLI_LZMA 1
#endif
#ifdef EROFSFS_HAVE_ZLIB
#include <erofsfs/codecs/deflate.hpp>
#define EROFSFS_CLI_DEFLATE 1
#endif
#ifdef EROFSFS_HAVE_ZSTD
#include <erofsfs/codecs/zstd.hpp>
#define EROFSFS_CLI_ZSTD 1
#endif

#include "commands.hpp"

namespace erofsfs::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_problem = 1;  // the image (or an output) had a problem
inline constexpr int exit_usage = 2;    // bad command line

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

// --- options --------------------------------------------------------------------------------

// A command's option: a long name, an optional one-letter alias, and whether it takes a value.
// Every command also accepts --device FILE (repeatable) and --help / -h.
struct option_spec {
  const char* long_name;
  char letter = 0;
  bool takes_value = false;
};

struct args {
  const char* cmd = "";
  std::vector<std::string> devices;     // --device, in device-table order
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // long name -> value ("" for flags)

  bool has(std::string_view name) const {
    for (const auto& o : options)
      if (o.first == name) return true;
    return false;
  }
  // The last value given for `name`, or nullptr.
  const std::string* value(std::string_view name) const {
    const std::string* v = nullptr;
    for (const auto& o : options)
      if (o.first == name) v = &o.second;
    return v;
  }
};

inline void print_usage(std::FILE* out, const command& c) {
  std::fprintf(out, "usage: erofsfs %s %s\n  %s\n", c.name, c.usage, c.summary);
  std::fprintf(out,
               "  --device FILE  an extra device/blob, repeated in device-table order "
               "(like mount -o device=)\n"
               "  --help         this text\n");
}

inline int usage_error(std::string_view cmd, std::string_view message) {
  report(cmd, message);
  if (const command* c = find_command(cmd)) print_usage(stderr, *c);
  return exit_usage;
}

// Parses argv[1..argc). Returns -1 to go on, otherwise the exit code the command returns right
// away (0 after --help, exit_usage on a bad command line).
inline int parse_args(int argc, char** argv, std::span<const option_spec> specs,
                      std::size_t min_positional, std::size_t max_positional, args& out) {
  out.cmd = argc > 0 ? argv[0] : "";
  const std::string_view cmd = out.cmd;
  bool options_done = false;
  auto find_long = [&](std::string_view n) -> const option_spec* {
    for (const auto& s : specs)
      if (n == s.long_name) return &s;
    return nullptr;
  };
  auto find_letter = [&](char l) -> const option_spec* {
    for (const auto& s : specs)
      if (s.letter == l) return &s;
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {  // bounded: i only grows
    const std::string_view a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      if (const command* c = find_command(cmd)) print_usage(stdout, *c);
      return exit_ok;
    }
    if (a.substr(0, 2) == "--") {
      std::string_view name = a.substr(2), value;
      const std::size_t eq = name.find('=');
      const bool inline_value = eq != std::string_view::npos;
      if (inline_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const bool is_device = name == "device";
      const option_spec* s = is_device ? nullptr : find_long(name);
      if (!is_device && !s) return usage_error(cmd, "unknown option --" + std::string(name));
      if (is_device || s->takes_value) {
        if (!inline_value) {
          if (i + 1 >= argc)
            return usage_error(cmd, "option --" + std::string(name) + " needs a value");
          value = argv[++i];
        }
        if (is_device)
          out.devices.emplace_back(value);
        else
          out.options.emplace_back(s->long_name, value);
      } else {
        if (inline_value)
          return usage_error(cmd, "option --" + std::string(name) + " takes no value");
        out.options.emplace_back(s->long_name, "");
      }
      continue;
    }
    // A cluster of one-letter options, "-lR"; a value-taking letter ends it ("-dDIR", "-d DIR").
    for (std::size_t k = 1; k < a.size(); ++k) {  // bounded by the argument's length
      const option_spec* s = find_letter(a[k]);
      if (!s) return usage_error(cmd, std::string("unknown option -") + a[k]);
      if (!s->takes_value) {
        out.options.emplace_back(s->long_name, "");
        continue;
      }
      if (k + 1 < a.size()) {
        out.options.emplace_back(s->long_name, std::string(a.substr(k + 1)));
      } else {
        if (i + 1 >= argc) return usage_error(cmd, std::string("option -") + a[k] + " needs a value");
        out.options.emplace_back(s->long_name, argv[++i]);
      }
      break;
    }
  }
  if (out.positional.size() < min_positional) return usage_error(cmd, "missing arguments");
  if (out.positional.size() > max_positional) return usage_error(cmd, "too many arguments");
  return -1;
}

// --cache-size MIB (cat, mount): a decoded_cache (decode/decoded_cache.hpp) of that many MiB
// shared by all of the command's readers. Returns false (after printing why) on a bad value;
// `out` stays null when the option is absent or 0.
inline constexpr option_spec cache_size_option{"cache-size", 0, true};
inline bool make_shared_cache(const args& a, std::unique_ptr<decoded_cache>& out) {
  const std::string* v = a.value(cache_size_option.long_name);
  if (!v) return true;
  constexpr std::uint64_t max_mib = std::uint64_t{1} << 30;  // 1 PiB: no sane budget is larger
  std::uint64_t mib = 0;
  for (const char c : *v) {  // bounded by the value's length
    if (c < '0' || c > '9' || mib > max_mib) {
      report(a.cmd, "--cache-size takes a number of MiB, not '" + escape(*v) + "'");
      return false;
    }
    mib = mib * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v->empty() || mib > max_mib) {
    report(a.cmd, "--cache-size takes a number of MiB, not '" + escape(*v) + "'");
    return false;
  }
  if (mib) out = std::make_unique<decoded_cache>(static_cast<std::size_t>(mib << 20));
  return true;
}

// --- opening --------------------------------------------------------------------------------

// One image or device file. Regular files are mapped (metadata is then parsed in place);
// block devices (st_size 0) are read with pread, sized with BLKGETSIZE64.
class file_source {
 public:
  file_source() = default;
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;
  ~file_source() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Empty string on success, else what failed.
  std::string open(const char* path) {
    int fd;
    do fd = ::open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno_text(errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      return errno_text(e);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return "is a directory";
    }
    if (S_ISBLK(st.st_mode)) {
      std::uint64_t size = 0;
      if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
        const int e = errno;
        ::close(fd);
        return errno_text(e);
      }
      fd_ = fd;
      fd_src_ = fd_source(fd, size);
      ref_ = source_ref(fd_src_);
      return {};
    }
    ::close(fd);
    auto m = mmap_source::open(path);
    if (!m) return m.error().message();
    map_ = std::move(*m);
    ref_ = source_ref(map_);
    return {};
  }
  source_ref ref() const noexcept { return ref_; }
  // Unmaps the resident pages of a mapped file (mmap_source::drop_resident); nothing for pread.
  void drop_resident() const noexcept { map_.drop_resident(); }

 private:
  int fd_ = -1;
  fd_source fd_src_;
  mmap_source map_;
  source_ref ref_;
};

// The decoders the tool was built with: the library's built-in set (LZ4) plus the optional
// library-backed adapters.
class decoders {
 public:
  // Names of the algorithms this build decodes, e.g. "lz4 lzma deflate zstd".
  static const char* names() noexcept {
    return "lz4"
#ifdef EROFSFS_CLI_LZMA
           " lzma"
#endif
#ifdef EROFSFS_CLI_DEFLATE
           " deflate"
#endif
#ifdef EROFSFS_CLI_ZSTD
           " zstd"
#endif
        ;
  }
  decoders() : table_(builtin_decompressors()) {
#ifdef EROFSFS_CLI_LZMA
    table_.set(disk::compression_lzma, lzma_);
#endif
#ifdef EROFSFS_CLI_DEFLATE
    table_.set(disk::compression_deflate, deflate_);
#endif
#ifdef EROFSFS_CLI_ZSTD
    table_.set(disk::compression_zstd, zstd_);
#endif
  }
  decoders(const decoders&) = delete;
  decoders& operator=(const decoders&) = delete;
  const decompressor_table& table() const noexcept { return table_; }

 private:
#ifdef EROFSFS_CLI_LZMA
  codecs::microlzma_decompressor lzma_;
#endif
#ifdef EROFSFS_CLI_DEFLATE
  codecs::deflate_decompressor deflate_;
#endif
#ifdef EROFSFS_CLI_ZSTD
  codecs::zstd_decompressor zstd_;
#endif
  decompressor_table table_;
};

// An open image with everything it borrows. Not movable: the image points at the members.
struct opened_image {
  std::string path;
  std::vector<std::string> device_paths;
  file_source primary;
  std::vector<std::unique_ptr<file_source>> devices;
  std::vector<source_ref> device_refs;
  decoders codecs;
  image img;

  opened_image() = default;
  opened_image(const opened_image&) = delete;
  opened_image& operator=(const opened_image&) = delete;

  void drop_resident() const noexcept {
    primary.drop_resident();
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
      : o_(o), limit_(limit) {}
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
  // the pages are dropped rather than kept.
  static std::uint64_t file_resident() noexcept {
    const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ~std::uint64_t{0};
    char buf[128];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return ~std::uint64_t{0};
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0, shared = 0;
    if (std::sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3) return ~std::uint64_t{0};
    return static_cast<std::uint64_t>(shared) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }

  const opened_image& o_;
  std::uint64_t limit_;
  std::uint64_t since_ = 0;
};

// Opens `path` with the --device files of `a`; prints the error and returns nullptr on failure.
inline std::unique_ptr<opened_image> open_image(const args& a, const std::string& path) {
  auto o = std::make_unique<opened_image>();
  o->path = path;
  o->device_paths = a.devices;
  if (std::string e = o->primary.open(path.c_str()); !e.empty()) {
    report(a.cmd, path + ": " + e);
    return nullptr;
  }
  for (const std::string& d : a.devices) {
    o->devices.push_back(std::make_unique<file_source>());
    if (std::string e = o->devices.back()->open(d.c_str()); !e.empty()) {
      report(a.cmd, d + ": " + e);
      return nullptr;
    }
    o->device_refs.push_back(o->devices.back()->ref());
  }
  open_options opts;
  opts.devices = o->device_refs;
  opts.decompressors = &o->codecs.table();
  auto img = open_image(o->primary.ref(), opts);
  if (!img) {
    report(a.cmd, path, img.error());
    return nullptr;
  }
  o->img = std::move(*img);
  if (a.devices.empty() && o->img.sb().extra_devices > 0)
    report(a.cmd, path + ": the image has " + std::to_string(o->img.sb().extra_devices) +
                      " extra device(s) and none was given: their data is read from this file "
                      "at unified addresses (flat mode, as Linux does); separate blobs need "
                      "--device FILE");
  return o;
}

// --- extracting -----------------------------------------------------------------------------

// Entry names an extractor may create: what Linux itself would accept as one path component.
inline bool safe_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace erofsfs::cli
