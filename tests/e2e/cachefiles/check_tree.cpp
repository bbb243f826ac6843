// e2e guest checker (static, no shell quoting): compares a mounted tree with the expected
// list run.sh derived from a fixture's manifest.jsonl. One entry per line, tab separated:
//   <hex path> <type> <size> <sha256 or -> <hex symlink target or ->
// Every listed path must exist with that type; files must match size and SHA-256 (which
// makes the kernel pull every data block through the daemon); symlinks their target. The
// tree must hold no entries beyond the list.
//
// KNOWN (optional) lists hex paths whose data the kernel under test is known to return
// wrongly; their mismatches are reported but not counted as failures.
//
// usage: check_tree MOUNTPOINT LIST [KNOWN]
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../../support/sha256.hpp"

namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  std::size_t start = 0;
  for (;;) {
    auto t = line.find('\t', start);
    f.push_back(line.substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) return f;
    start = t + 1;
  }
}

char type_of(mode_t m) {
  if (S_ISREG(m)) return 'f';
  if (S_ISDIR(m)) return 'd';
  if (S_ISLNK(m)) return 'l';
  if (S_ISFIFO(m)) return 'p';
  if (S_ISCHR(m)) return 'c';
  if (S_ISBLK(m)) return 'b';
  if (S_ISSOCK(m)) return 's';
  return '?';
}

// Iterative walk: relative paths of every entry below root (root itself as "/").
void walk(const std::string& root, std::set<std::string>& seen) {
  std::vector<std::string> todo{""};
  seen.insert("/");
  while (!todo.empty()) {
    std::string rel = todo.back();
    todo.pop_back();
    DIR* d = ::opendir((root + rel).c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      std::string p = rel + "/" + e->d_name;
      seen.insert(p);
      struct stat st;
      if (::lstat((root + p).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) todo.push_back(p);
    }
    ::closedir(d);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: check_tree MOUNTPOINT LIST [KNOWN]\n");
    return 2;
  }
  const std::string root = argv[1];
  std::ifstream in(argv[2]);
  if (!in) {
    std::fprintf(stderr, "check_tree: cannot read %s\n", argv[2]);
    return 2;
  }
  std::set<std::string> known;
  if (argc == 4) {
    std::ifstream k(argv[3]);
    for (std::string l; std::getline(k, l);)
      if (!l.empty()) known.insert(l);
  }
  std::set<std::string> listed;
  unsigned files = 0, links = 0, others = 0, bad = 0, known_bad = 0;
  unsigned long long bytes = 0;
  std::string line;
  std::vector<std::byte> buf(1 << 16);
  while (std::getline(in, line)) {
    auto f = split_tabs(line);
    if (f.size() != 5) {
      std::fprintf(stderr, "check_tree: bad list line\n");
      return 2;
    }
    const std::string rel = unhex(f[0]);
    const std::string path = root + (rel == "/" ? "" : rel);
    listed.insert(rel);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      std::printf("MISSING %s\n", f[0].c_str());
      ++bad;
      continue;
    }
    if (type_of(st.st_mode) != f[1][0]) {
      std::printf("TYPE %s: %c, want %s\n", f[0].c_str(), type_of(st.st_mode), f[1].c_str());
      ++bad;
      continue;
    }
    if (f[1] == "f") {
      int fd = ::open(path.c_str(), O_RDONLY);
      if (fd < 0) {
        std::printf("OPEN %s: %s\n", f[0].c_str(), std::strerror(errno));
        ++bad;
        continue;
      }
      erofsfs::test::sha256 h;
      unsigned long long total = 0;
      bool ioerr = false;
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          std::printf("READ %s: %s\n", f[0].c_str(), std::strerror(errno));
          ioerr = true;
          break;
        }
        if (n == 0) break;
        h.update(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
        total += static_cast<unsigned long long>(n);
      }
      ::close(fd);
      bytes += total;
      if (ioerr) {
        ++bad;
        continue;
      }
      const std::string got = h.hex();
      if ((std::to_string(total) != f[2] || got != f[3]) && known.count(f[0])) {
        std::printf("KNOWN-KERNEL-BUG %s: sha256 %s, want %s\n", f[0].c_str(), got.c_str(),
                    f[3].c_str());
        ++known_bad;
        continue;
      }
      if (std::to_string(total) != f[2] || got != f[3]) {
        std::printf("DATA %s: size %llu sha256 %s, want %s %s\n", f[0].c_str(), total,
                    got.c_str(), f[2].c_str(), f[3].c_str());
        ++bad;
        continue;
      }
      ++files;
    } else if (f[1] == "l") {
      char t[4096];
      ssize_t n = ::readlink(path.c_str(), t, sizeof t);
      if (n < 0 || std::string(t, static_cast<std::size_t>(n)) != unhex(f[4])) {
        std::printf("LINK %s\n", f[0].c_str());
        ++bad;
        continue;
      }
      ++links;
    } else {
      ++others;
    }
  }
  std::set<std::string> seen;
  walk(root, seen);
  unsigned extra = 0;
  for (const auto& p : seen)
    if (!listed.count(p)) {
      if (extra++ < 5) std::printf("EXTRA entry (%zu bytes name)\n", p.size());
    }
  bad += extra;
  std::printf("check_tree %s: %u files (%llu bytes) + %u symlinks + %u other entries verified, "
              "%u entries walked, %u problems, %u known kernel bugs\n",
              root.c_str(), files, bytes, links, others, static_cast<unsigned>(seen.size()), bad,
              known_bad);
  return bad == 0 ? 0 : 1;
}
