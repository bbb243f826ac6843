// erofsfs serve-fanotify: lazy-load an image through fanotify pre-content events.
//
//   erofsfs serve-fanotify IMAGE SPARSE [--device SRC SPARSE]... [--mount DIR]
//   erofsfs serve-fanotify IMAGE --cache-dir ROOT [--id ID] [--device SRC]... [--mount DIR]
//
// The first form serves from sparse files the caller names (nothing survives a restart); the
// second from the persistent cache ROOT/<ID> (ID: by default the sha256 of IMAGE and its
// blobs), whose filled ranges a restart reuses. Either way the files are locked: a second daemon
// on them is refused. The daemon is crash-safe (fanotify/daemon.hpp): this process holds the
// fanotify group, a worker process fills, and a worker that dies is replaced while readers
// wait. Serves until SIGINT or SIGTERM, then unmounts (a busy mount keeps being served until
// it can be). Needs root and Linux >= 6.14. All the logic is in the library; this file parses.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <erofsfs/backends/fanotify/backend.hpp>
#include <erofsfs/backends/fanotify/daemon.hpp>
#include <erofsfs/base/sha256.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"

namespace {

using namespace erofsfs;

int usage() {
  std::fprintf(stderr,
               "usage: erofsfs serve-fanotify IMAGE SPARSE [--device SRC SPARSE]... [--mount DIR]\n"
               "       erofsfs serve-fanotify IMAGE --cache-dir ROOT [--id ID] [--device SRC]... "
               "[--mount DIR]\n");
  return 2;
}

// The cache id of an image: sha256 over the sha256 of each of its files, in device order.
result<std::string> identity_of(const std::vector<fd_source>& sources) {
  sha256 all;
  std::vector<std::byte> buf(1 << 20);
  for (const fd_source& s : sources) {
    sha256 one;
    const std::uint64_t size = s.size();
    for (std::uint64_t off = 0; off < size;) {  // bounded: off grows to size
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - off, buf.size()));
      if (std::error_code ec = s.read_at(off, std::span(buf.data(), n)))
        return make_error(ec, what::source_read_failed, {.offset = off});
      one.update(std::span(buf.data(), n));
      off += n;
    }
    const std::string h = one.hex();
    all.update(std::as_bytes(std::span(h)));
  }
  return all.hex();
}

}  // namespace

namespace erofsfs::cli {

// argv[0] is the subcommand name; the arguments follow. --device takes two values with sparse
// files (the blob's source and its sparse file) and one with --cache-dir, so the shared option
// parser does not apply.
int run_serve_fanotify(int argc, char** argv) {
  bool cache = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--cache-dir") == 0) cache = true;
  std::vector<std::string> src_paths, sparse_paths;
  std::string mount_dir, cache_root, cache_id;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device") {
      if (i + (cache ? 1 : 2) >= argc) return usage();
      src_paths.push_back(argv[++i]);
      if (!cache) sparse_paths.push_back(argv[++i]);
    } else if (a == "--mount" || a == "--cache-dir" || a == "--id") {
      if (i + 1 >= argc) return usage();
      (a == "--mount" ? mount_dir : a == "--id" ? cache_id : cache_root) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "serve-fanotify: unknown option %s\n", a.c_str());
      return usage();
    } else if (src_paths.empty()) {
      src_paths.push_back(a);  // the positionals come first; --device values follow them
    } else if (!cache && src_paths.size() == 1 && sparse_paths.empty()) {
      sparse_paths.push_back(a);
    } else {
      return usage();
    }
  }
  if (src_paths.empty() || (!cache && sparse_paths.size() != src_paths.size()) ||
      (!cache && !cache_id.empty()))
    return usage();

  // A sparse file is written into: refuse one that names a source.
  for (const std::string& sp : sparse_paths) {
    struct stat a;
    if (::stat(sp.c_str(), &a) != 0) continue;
    for (const std::string& p : src_paths) {
      struct stat b;
      if (::stat(p.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        std::fprintf(stderr, "serve-fanotify: %s is a source, not a sparse file\n", sp.c_str());
        return 2;
      }
    }
  }

  std::vector<fd_source> sources;
  sources.reserve(src_paths.size());
  for (const std::string& p : src_paths) {
    auto s = fd_source::open(p.c_str());
    if (!s) {
      std::fprintf(stderr, "serve-fanotify: %s: %s\n", p.c_str(), s.error().message().c_str());
      return 1;
    }
    sources.push_back(std::move(*s));
  }
  fanotify::backend_options opt;
  if (cache) {
    if (cache_id.empty()) {
      auto id = identity_of(sources);
      if (!id) {
        std::fprintf(stderr, "serve-fanotify: %s\n", id.error().message().c_str());
        return 1;
      }
      cache_id = *id;
    }
    opt.cache_root = cache_root;
    opt.cache_id = cache_id;
  }
  std::vector<fanotify::device_spec> devs;
  for (std::size_t i = 0; i < sources.size(); ++i)
    devs.push_back({sources[i], cache ? std::string() : sparse_paths[i]});

  auto created = fanotify::backend::create(devs, opt);
  if (!created) {
    // A refused lock names the owner's pid as the error's value.
    std::fprintf(stderr, "serve-fanotify: %s\n", created.error().message().c_str());
    return 1;
  }
  std::unique_ptr<fanotify::backend> be = std::move(*created);
  if (cache) std::fprintf(stderr, "serve-fanotify: cache %s\n", be->cache_dir().c_str());
  std::fprintf(stderr, "serve-fanotify: metadata prefetched: %s\n",
               fanotify::detail::stats_line(*be).c_str());
  fanotify::daemon_options dopt;
  dopt.mount_dir = mount_dir;
  return fanotify::run_daemon(std::move(be), dopt);
}

}  // namespace erofsfs::cli
