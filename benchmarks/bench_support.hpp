// Shared by the benchmark programs: running a setup command and opening a benchmark image,
// both fatal on failure (a benchmark without its inputs has nothing to measure).
#pragma once

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace erofsfs::bench {

inline void run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench: command failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

// Maps `file` into `src` and opens it as `img`.
inline void open_image(const std::filesystem::path& file, std::unique_ptr<mmap_source>& src,
                       image& img) {
  auto s = mmap_source::open(file.c_str());
  if (!s) {
    std::fprintf(stderr, "bench: %s\n", s.error().message().c_str());
    std::exit(1);
  }
  src = std::make_unique<mmap_source>(std::move(*s));
  auto i = open_image(*src);
  if (!i) {
    std::fprintf(stderr, "bench: %s\n", i.error().message().c_str());
    std::exit(1);
  }
  img = std::move(*i);
}

}  // namespace erofsfs::bench
