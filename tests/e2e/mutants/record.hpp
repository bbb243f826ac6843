// The per-path record both sides of the mutant differential test write, so the kernel's view
// (guest_walk.cpp, inside qemu) and the library's (host_walk.cpp) compare line by line:
//
//   <path>\t<meta>\t<data>\t<xattrs>
//
// path:   escaped (bytes outside 0x21..0x7e, and '\\', as \xNN), "/" for the root
// meta:   "<type> m=<mode> u= g= s= n= t=<sec>.<nsec> i=<ino> r=<maj>:<min> b=<st_blocks>"
//         (r= for device nodes, fifos and sockets only), or an error
// data:   regular file: sha256 prefix of its first min(size, read_cap) bytes; symlink: the
//         escaped target; directory: sha256 prefix of its entries ("name\0d_type\0ino\n" in
//         readdir order, "." and ".." left out); otherwise "-"; or an error
// xattrs: sha256 prefix of "name\0value\n" for every xattr, sorted by name; or an error
//
// An error is "E" followed by the errno name (kernel) or the errc name (erofsfs): only "error
// or not" is compared, the names are for the reader of a report. Both walkers stop at the
// same limits and skip the children of a directory whose listing failed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../support/sha256.hpp"

namespace mutants {

inline constexpr std::uint64_t read_cap = 1u << 20;  // file bytes hashed (a mutant may claim TiBs)
inline constexpr unsigned max_depth = 24;             // directory levels walked below the root
inline constexpr unsigned max_paths = 6000;           // records per mutant

inline std::string escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c > 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// 64 bits of sha256: enough to tell two byte strings apart in a test that compares, not proves.
inline std::string short_hash(erofsfs::test::sha256& h) {
  return h.hex().substr(0, 16);
}

inline std::string short_hash(std::string_view bytes) {
  erofsfs::test::sha256 h;
  h.update(std::as_bytes(std::span(bytes.data(), bytes.size())));
  return short_hash(h);
}

inline std::string xattr_hash(std::vector<std::pair<std::string, std::string>> xs) {
  std::sort(xs.begin(), xs.end());
  std::string all;
  for (const auto& [name, value] : xs) {
    all += name;
    all += '\0';
    all += value;
    all += '\n';
  }
  return short_hash(all);
}

struct meta_fields {
  char type;  // f d l c b p s ?
  std::uint32_t mode, uid, gid, nlink;
  std::uint64_t size, ino, blocks;
  std::int64_t mtime;
  std::uint32_t mtime_nsec, rdev_major, rdev_minor;
};

inline std::string format_meta(const meta_fields& m) {
  std::string s(1, m.type);
  s += " m=" + std::to_string(m.mode) + " u=" + std::to_string(m.uid) +
       " g=" + std::to_string(m.gid) + " s=" + std::to_string(m.size) +
       " n=" + std::to_string(m.nlink) + " t=" + std::to_string(m.mtime) + "." +
       std::to_string(m.mtime_nsec) + " i=" + std::to_string(m.ino);
  if (m.type == 'c' || m.type == 'b' || m.type == 'p' || m.type == 's')
    s += " r=" + std::to_string(m.rdev_major) + ":" + std::to_string(m.rdev_minor);
  s += " b=" + std::to_string(m.blocks);
  return s;
}

inline char type_char(std::uint32_t mode) {
  switch (mode & 0170000) {
    case 0100000: return 'f';
    case 0040000: return 'd';
    case 0120000: return 'l';
    case 0020000: return 'c';
    case 0060000: return 'b';
    case 0010000: return 'p';
    case 0140000: return 's';
  }
  return '?';
}

// One directory entry in the directory's data hash.
inline void add_dir_entry(std::string& acc, std::string_view name, unsigned d_type,
                          std::uint64_t ino) {
  acc += name;
  acc += '\0';
  acc += std::to_string(d_type);
  acc += '\0';
  acc += std::to_string(ino);
  acc += '\n';
}

inline std::string line(std::string_view path, std::string_view meta, std::string_view data,
                        std::string_view xattrs) {
  std::string s = escape(path);
  s += '\t';
  s += meta;
  s += '\t';
  s += data;
  s += '\t';
  s += xattrs;
  s += '\n';
  return s;
}

}  // namespace mutants
