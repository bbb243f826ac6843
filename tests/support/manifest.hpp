// Fixture manifests: what the Linux kernel saw in each fixture image (manifest.jsonl, one JSON
// object per path), the same view produced by erofsfs, and a field-by-field comparison.
//
// The kernel oracle test builds the same entries from a mounted tree, so the three views
// (manifest, library, live kernel) share one representation and one comparison.
#pragma once

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sha256.hpp"

namespace erofsfs::test {

struct manifest_entry {
  std::string path;
  std::string type;  // file, dir, symlink, chrdev, blkdev, fifo, socket
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t nlink = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint32_t mtime_nsec = 0;
  std::uint64_t ino = 0;
  std::uint64_t blocks = 0;
  std::string sha256;  // regular files up to whole_hash_limit bytes
  std::string sha256_windows;  // bigger regular files: see sampled_windows()
  std::optional<std::string> target;                  // symlinks only
  std::optional<std::uint32_t> rdev_major, rdev_minor;  // device nodes only
  std::map<std::string, std::string> xattrs;          // name -> hex of the value
};

using manifest = std::map<std::string, manifest_entry>;  // by path

inline std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Files bigger than this are not hashed whole (a 2^50-byte hole would take days to read): the
// manifest has "sha256_windows" instead, the hashes of sampled windows (tools/fxlib.py
// window_starts): windows of 64 KiB at 0, at every power of two from 2^20 below the size and
// at the end, written "START+LENGTH:SHA256,...".
inline constexpr std::uint64_t whole_hash_limit = std::uint64_t{1} << 32;
inline constexpr std::uint64_t hash_window = std::uint64_t{1} << 16;

inline std::vector<std::uint64_t> window_starts(std::uint64_t size) {
  std::vector<std::uint64_t> starts{0};
  for (int k = 20; k < 64 && (std::uint64_t{1} << k) < size; ++k)  // bounded: k < 64
    starts.push_back(std::uint64_t{1} << k);
  const std::uint64_t last = size > hash_window ? size - hash_window : 0;
  if (last != starts.back()) starts.push_back(last);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  return starts;
}

// "START+LENGTH:SHA256,..." for a file of `size` bytes; `read_at(offset, buffer)` fills the
// buffer or returns an error text.
template <class ReadAt>
std::string sampled_windows(std::uint64_t size, ReadAt&& read_at) {
  std::string out;
  std::vector<std::byte> buf;
  for (std::uint64_t start : window_starts(size)) {
    const std::uint64_t n = std::min(hash_window, size - start);
    buf.assign(static_cast<std::size_t>(n), std::byte{0});
    if (std::string err = read_at(start, std::span<std::byte>(buf)); !err.empty())
      return "error: " + err;
    sha256 h;
    h.update(std::span<const std::byte>(buf));
    if (!out.empty()) out += ',';
    out += std::to_string(start) + "+" + std::to_string(n) + ":" + h.hex();
  }
  return out;
}

namespace detail {

// Just enough JSON for gen.py's output: flat objects of strings and integers, plus one nested
// object of strings ("xattrs"). Python escapes non-ASCII as \uXXXX and undecodable bytes as lone
// surrogates \udc80-\udcff (surrogateescape), which map back to the raw byte.
class jsonl_reader {
 public:
  explicit jsonl_reader(std::string_view s) : s_(s) {}

  bool parse_entry(manifest_entry& e, std::string& err) {
    if (!eat('{')) return fail(err, "expected '{'");
    if (eat('}')) return true;
    do {
      std::string key;
      if (!string(key) || !eat(':')) return fail(err, "bad key");
      if (key == "xattrs") {
        if (!eat('{')) return fail(err, "xattrs is not an object");
        if (!eat('}')) {
          do {
            std::string name, value;
            if (!string(name) || !eat(':') || !string(value)) return fail(err, "bad xattr");
            e.xattrs[name] = value;
          } while (eat(','));
          if (!eat('}')) return fail(err, "unterminated xattrs");
        }
        continue;
      }
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '"') {
        std::string v;
        if (!string(v)) return fail(err, "bad string value");
        if (key == "path") e.path = v;
        else if (key == "type") e.type = v;
        else if (key == "sha256") e.sha256 = v;
        else if (key == "sha256_windows") e.sha256_windows = v;
        else if (key == "target") e.target = v;
        // "perm" repeats mode & 07777
      } else {
        std::int64_t v = 0;
        if (!integer(v)) return fail(err, "bad number for " + key);
        if (key == "mode") e.mode = static_cast<std::uint32_t>(v);
        else if (key == "uid") e.uid = static_cast<std::uint32_t>(v);
        else if (key == "gid") e.gid = static_cast<std::uint32_t>(v);
        else if (key == "nlink") e.nlink = static_cast<std::uint64_t>(v);
        else if (key == "size") e.size = static_cast<std::uint64_t>(v);
        else if (key == "mtime") e.mtime = v;
        else if (key == "mtime_nsec") e.mtime_nsec = static_cast<std::uint32_t>(v);
        else if (key == "ino") e.ino = static_cast<std::uint64_t>(v);
        else if (key == "blocks") e.blocks = static_cast<std::uint64_t>(v);
        else if (key == "rdev_major") e.rdev_major = static_cast<std::uint32_t>(v);
        else if (key == "rdev_minor") e.rdev_minor = static_cast<std::uint32_t>(v);
        else return fail(err, "unknown key " + key);
      }
    } while (eat(','));
    if (!eat('}')) return fail(err, "expected '}'");
    return true;
  }

 private:
  static bool fail(std::string& err, std::string what) {
    err = std::move(what);
    return false;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool integer(std::int64_t& v) {
    skip_ws();
    bool neg = eat('-');
    std::size_t start = pos_;
    std::uint64_t u = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')
      u = u * 10 + static_cast<unsigned>(s_[pos_++] - '0');
    if (pos_ == start) return false;
    v = neg ? -static_cast<std::int64_t>(u) : static_cast<std::int64_t>(u);
    return true;
  }
  bool hex4(unsigned& cp) {
    if (pos_ + 4 > s_.size()) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') cp |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') cp |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char esc = s_[pos_++];
      switch (esc) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC80 && cp <= 0xDCFF) {  // surrogateescape: a raw byte
            out += static_cast<char>(cp - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 6 <= s_.size() && s_[pos_] == '\\' &&
                     s_[pos_ + 1] == 'u') {
            pos_ += 2;
            unsigned lo;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
          } else {
            put_utf8(out, cp);
          }
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses manifest.jsonl; on failure returns nullopt and sets `err` to "line N: what".
inline std::optional<manifest> load_manifest(const std::string& file, std::string& err) {
  std::ifstream in(file);
  if (!in) {
    err = "cannot open " + file;
    return std::nullopt;
  }
  manifest m;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    manifest_entry e;
    detail::jsonl_reader r(line);
    if (!r.parse_entry(e, err)) {
      err = file + ": line " + std::to_string(n) + ": " + err;
      return std::nullopt;
    }
    std::string key = e.path;
    m.emplace(std::move(key), std::move(e));
  }
  return m;
}

// One fixture image opened with its blob devices (tests/data/images/<name>/).
struct fixture {
  std::string name;
  std::string dir;
  std::vector<std::string> device_files;  // absolute paths, device-table order
  std::unique_ptr<mmap_source> primary;
  std::vector<std::unique_ptr<mmap_source>> devices;
  std::vector<source_ref> device_refs;
  image img;
};

inline std::string fixture_dir(const std::string& name, const char* group = "images") {
  return std::string(EROFSFS_TEST_DATA) + "/" + group + "/" + name;
}

// Device files listed in <dir>/info.json ("devices": [{"file": ...}, ...]).
inline std::vector<std::string> fixture_device_files(const std::string& dir) {
  std::ifstream in(dir + "/info.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> out;
  std::size_t at = text.find("\n \"devices\": [");
  if (at == std::string::npos) return out;
  std::size_t end = text.find(']', at);
  std::string_view list(text.data() + at, end - at);
  // Entries are objects whose "file" names the blob in the fixture's directory.
  static constexpr std::string_view key = "\"file\": \"";
  for (std::size_t p = list.find(key); p != std::string_view::npos; p = list.find(key, p)) {
    p += key.size();
    std::size_t q = list.find('"', p);
    if (q == std::string_view::npos) break;
    out.push_back(dir + "/" + std::string(list.substr(p, q - p)));
  }
  return out;
}

// Opens fixture `name` (in tests/data/<group>/) with its devices and the given decoders.
inline result<std::unique_ptr<fixture>> open_fixture(const std::string& name,
                                                    const decompressor_table* decoders = nullptr,
                                                    const char* group = "images") {
  auto f = std::make_unique<fixture>();
  f->name = name;
  f->dir = fixture_dir(name, group);
  f->device_files = fixture_device_files(f->dir);
  EROFSFS_TRY_ASSIGN(mmap_source primary, mmap_source::open((f->dir + "/" + name + ".erofs").c_str()));
  f->primary = std::make_unique<mmap_source>(std::move(primary));
  for (const std::string& file : f->device_files) {
    EROFSFS_TRY_ASSIGN(mmap_source dev, mmap_source::open(file.c_str()));
    f->devices.push_back(std::make_unique<mmap_source>(std::move(dev)));
    f->device_refs.emplace_back(*f->devices.back());
  }
  open_options opt;
  opt.devices = f->device_refs;
  opt.decompressors = decoders;
  EROFSFS_TRY_ASSIGN(f->img, open_image(*f->primary, opt));
  return f;
}

// Every path of the image as the kernel would stat/readlink/getxattr/read it.
inline result<manifest> entries_from_image(const image& img) {
  manifest m;
  read_context ctx;
  std::vector<std::byte> buf(1 << 20);
  status st = walk(img, ctx, [&](const walk_entry& w) -> status {
    const inode& ino = w.ino;
    manifest_entry e;
    e.path = std::string(w.path);
    e.type = file_type_name(ino.type());
    e.mode = ino.mode;
    e.uid = ino.uid;
    e.gid = ino.gid;
    e.nlink = ino.nlink;
    e.size = ino.has_data() ? ino.size : 0;
    e.mtime = ino.mtime;
    e.mtime_nsec = ino.mtime_nsec;
    e.ino = ino.ino(img.sb());
    e.blocks = ino.blocks_512;
    if (ino.type() == file_type::chrdev || ino.type() == file_type::blkdev) {
      e.rdev_major = ino.rdev_major;
      e.rdev_minor = ino.rdev_minor;
    }
    if (ino.is_symlink()) {
      EROFSFS_TRY_ASSIGN(std::string target, read_link(img, ino, ctx));
      e.target = std::move(target);
    }
    if (ino.is_regular() && ino.size > whole_hash_limit) {
      e.sha256_windows = sampled_windows(ino.size, [&](std::uint64_t at, std::span<std::byte> b) {
        auto r = read(img, ino, at, b, ctx);
        return r ? std::string() : r.error().message();
      });
    } else if (ino.is_regular()) {
      sha256 h;
      for (std::uint64_t off = 0; off < ino.size;) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), ino.size - off));
        EROFSFS_TRY(read(img, ino, off, std::span(buf).first(n), ctx));
        h.update(std::span<const std::byte>(buf).first(n));
        off += n;
      }
      e.sha256 = h.hex();
    }
    EROFSFS_TRY_ASSIGN(std::vector<xattr> xs, list_xattrs(img, ino));
    for (const xattr& x : xs) e.xattrs[x.name] = to_hex(x.value);
    m.emplace(e.path, std::move(e));
    return {};
  });
  if (!st) return st.error();
  return m;
}

// Differences between two views, one line each ("<path>: <field> expected X, got Y"), capped
// so a wholly wrong image does not drown the report.
inline std::vector<std::string> compare_manifests(const manifest& expected, const manifest& actual,
                                                  bool compare_ino = true,
                                                  std::size_t max_lines = 50) {
  std::vector<std::string> out;
  auto note = [&](const std::string& line) {
    if (out.size() < max_lines) out.push_back(line);
  };
  for (const auto& kv : expected) {
    const std::string& path = kv.first;  // not a structured binding: clang 14 can't capture those
    const manifest_entry& want = kv.second;
    auto it = actual.find(path);
    if (it == actual.end()) {
      note(path + ": missing");
      continue;
    }
    const manifest_entry& got = it->second;
    auto field = [&](const char* name, const auto& a, const auto& b) {
      if (a == b) return;
      std::ostringstream s;
      s << path << ": " << name << " expected " << a << ", got " << b;
      note(s.str());
    };
    field("type", want.type, got.type);
    field("mode", want.mode, got.mode);
    field("uid", want.uid, got.uid);
    field("gid", want.gid, got.gid);
    field("nlink", want.nlink, got.nlink);
    field("size", want.size, got.size);
    field("mtime", want.mtime, got.mtime);
    field("mtime_nsec", want.mtime_nsec, got.mtime_nsec);
    if (compare_ino) field("ino", want.ino, got.ino);
    field("blocks", want.blocks, got.blocks);
    field("sha256", want.sha256, got.sha256);
    field("sha256_windows", want.sha256_windows, got.sha256_windows);
    field("target", want.target.value_or("(none)"), got.target.value_or("(none)"));
    field("rdev_major", want.rdev_major.value_or(~0u), got.rdev_major.value_or(~0u));
    field("rdev_minor", want.rdev_minor.value_or(~0u), got.rdev_minor.value_or(~0u));
    if (want.xattrs != got.xattrs) {
      std::string w, g;
      for (const auto& [k, v] : want.xattrs) w += k + "=" + v + " ";
      for (const auto& [k, v] : got.xattrs) g += k + "=" + v + " ";
      note(path + ": xattrs expected {" + w + "}, got {" + g + "}");
    }
  }
  for (const auto& [path, got] : actual)
    if (!expected.count(path)) note(path + ": not in the expected view");
  return out;
}

// The whole check: the library's view of fixture `name` equals its manifest.jsonl.
inline std::vector<std::string> check_fixture_against_manifest(
    const std::string& name, const decompressor_table* decoders = nullptr,
    const char* group = "images") {
  std::string err;
  auto expected = load_manifest(fixture_dir(name, group) + "/manifest.jsonl", err);
  if (!expected) return {err};
  auto f = open_fixture(name, decoders, group);
  if (!f) return {"open: " + f.error().message()};
  auto actual = entries_from_image((*f)->img);
  if (!actual) return {"walk: " + actual.error().message()};
  return compare_manifests(*expected, *actual);
}

}  // namespace erofsfs::test
