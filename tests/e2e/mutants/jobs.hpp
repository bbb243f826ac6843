// The job list both walkers read: one mutant per line,
//
//   <id>\t<image>\t<devices>\t<patches>\t<what>
//
// image and devices are relative to a base directory (devices comma-separated, "-" for none),
// patches is "-" (the pristine image) or "off=hex;off=hex;..." applied in order, what says how
// the mutant was made (for reports). mutate.cpp writes it; the library is not needed to read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace mutants {

struct patch {
  std::uint64_t offset = 0;
  std::string bytes;
};

struct job {
  std::string id, image, what;
  std::vector<std::string> devices;
  std::vector<patch> patches;
};

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {  // bounded: start advances past each separator
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

inline std::string to_hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

inline bool from_hex(const std::string& hex, std::string& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    const std::string two = hex.substr(i, 2);
    const long v = std::strtol(two.c_str(), &end, 16);
    if (end != two.c_str() + 2) return false;
    out += static_cast<char>(v);
  }
  return true;
}

inline std::string format_job(const job& j) {
  std::string devs, ps;
  for (const std::string& d : j.devices) devs += (devs.empty() ? "" : ",") + d;
  for (const patch& p : j.patches)
    ps += (ps.empty() ? "" : ";") + std::to_string(p.offset) + "=" + to_hex(p.bytes);
  return j.id + "\t" + j.image + "\t" + (devs.empty() ? "-" : devs) + "\t" +
         (ps.empty() ? "-" : ps) + "\t" + j.what + "\n";
}

inline bool parse_job(const std::string& line, job& j) {
  const auto f = split(line, '\t');
  if (f.size() != 5) return false;
  j = job{f[0], f[1], f[4], {}, {}};
  if (f[2] != "-") j.devices = split(f[2], ',');
  if (f[3] != "-") {
    for (const std::string& p : split(f[3], ';')) {
      const std::size_t eq = p.find('=');
      if (eq == std::string::npos) return false;
      patch x;
      x.offset = std::strtoull(p.substr(0, eq).c_str(), nullptr, 10);
      if (!from_hex(p.substr(eq + 1), x.bytes)) return false;
      j.patches.push_back(std::move(x));
    }
  }
  return true;
}

inline bool read_jobs(const std::string& file, std::vector<job>& out) {
  std::ifstream in(file);
  if (!in) return false;
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] == '#') continue;  // comments: regression lists
    job j;
    if (!parse_job(l, j)) return false;
    out.push_back(std::move(j));
  }
  return true;
}

// The mutant's bytes: the image with the patches applied (bytes past the end are dropped: a
// patch never grows the image).
inline void apply(std::string& image, const std::vector<patch>& patches) {
  for (const patch& p : patches)
    for (std::size_t i = 0; i < p.bytes.size(); ++i)
      if (p.offset + i < image.size()) image[p.offset + i] = p.bytes[i];
}

inline bool slurp(const std::string& file, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace mutants
