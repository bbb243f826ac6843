// erofsfs serve-fanotify: lazy-load an image through fanotify pre-content events.
//
//   erofsfs serve-fanotify IMG --sparse FILE [--device BLOB --sparse FILE]... [--mount DIR]
//   erofsfs serve-fanotify IMG --cache-dir ROOT [--id ID] [--device BLOB]... [--mount DIR]
//
// Every source gets a sparse local copy: with --sparse, the first is IMG's and the next ones
// belong to the --device blobs in order (nothing survives a restart); with --cache-dir, they
// live in the persistent cache ROOT/<ID> (ID: by default the sha256 over the sha256 of IMG and
// of each blob), whose durably filled ranges a restart reuses. Either way the files are locked:
// a second daemon on them is refused and touches nothing. The daemon is crash-safe
// (fanotify/daemon.hpp): this process holds the fanotify group, a worker process fills, and a
// worker that dies is replaced while readers wait. SIGINT or SIGTERM unmount and stop it; a
// busy mount is served until it can be unmounted. Needs root and Linux >= 6.14. The logic is
// in the library; this file turns the command line into its calls.
// With --verity-root, IMG is read through its dm-verity tree (verity.hpp): a block that does
// not match is never written to a sparse file, its reader gets EIO and a line naming the
// block is logged.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <erofsfs/backends/fanotify/backend.hpp>
#include <erofsfs/backends/fanotify/daemon.hpp>
#include <erofsfs/base/sha256.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace erofsfs::cli {

namespace {

// The cache id of an image: sha256 over the hex sha256 of each of its sources, in device order.
result<std::string> identity_of(std::span<const source_ref> sources) {
  sha256 all;
  std::vector<std::byte> buf(1 << 20);
  for (const source_ref& s : sources) {
    if (!s.size()) return make_error(errc::invalid_argument, what::device_size_unknown_source_has_no_size_and_the_image_non);
    sha256 one;
    const std::uint64_t size = *s.size();
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

int run_serve_fanotify(const args& a) {
  std::vector<std::string> src_paths{a.positional[0]};
  for (const std::string& d : a.values("device")) src_paths.push_back(d);
  const std::vector<std::string> sparse_paths = a.values("sparse");
  const std::string mount_dir = a.value("mount") ? *a.value("mount") : std::string();
  const bool cache = a.has("cache-dir");
  if (cache && !sparse_paths.empty())
    return usage_error(a, "give either --cache-dir or --sparse files, not both");
  if (!cache && a.has("id")) return usage_error(a, "--id names a cache: it needs --cache-dir");
  const std::vector<std::string> prefetch_paths = a.values("prefetch");
  if (!prefetch_paths.empty() && mount_dir.empty())
    return usage_error(a, "--prefetch reads files through the mount: it needs --mount");
  for (const std::string& p : prefetch_paths)
    if (p.empty() || p[0] != '/' || p.find("/../") != std::string::npos ||
        (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0))
      return usage_error(a, "--prefetch " + escape(p) + ": give a path inside the image, from /");
  if (!cache && sparse_paths.size() != src_paths.size())
    return usage_error(a, "give one --sparse FILE for IMG and one for each --device, in order (" +
                              std::to_string(src_paths.size()) + " needed, " +
                              std::to_string(sparse_paths.size()) + " given), or --cache-dir");

  // A sparse file is written into: refuse one that names a source.
  for (const std::string& sp : sparse_paths) {
    struct stat st_sparse;
    if (::stat(sp.c_str(), &st_sparse) != 0) continue;
    for (const std::string& p : src_paths) {
      struct stat st_src;
      if (::stat(p.c_str(), &st_src) == 0 && st_sparse.st_dev == st_src.st_dev &&
          st_sparse.st_ino == st_src.st_ino)
        return usage_error(a, escape(sp) + " is a source, not a sparse file");
    }
  }

  // The image (from --offset on) and its blobs, opened like every other command opens them.
  std::vector<std::unique_ptr<file_source>> files;
  const std::string* layer = a.value("layer");
  for (const std::string& p : src_paths) {
    files.push_back(std::make_unique<file_source>());
    const bool image = files.size() == 1;  // --layer chooses IMG's layer, not the devices'
    if (std::string e = files.back()->open(p.c_str(), image && layer ? *layer : std::string_view(),
                                           a.value("platform"));
        !e.empty()) {
      report(a.cmd, p + ": " + e);
      return exit_problem;
    }
  }
  source_ref image_file = files[0]->ref();
  std::unique_ptr<verified_source> verified;
  if (wants_verity(a)) {
    if (std::string e = verified_source::open(image_file, a, verified); !e.empty()) {
      report(a.cmd, src_paths[0] + ": " + e);
      return exit_problem;
    }
    image_file = verified->ref();
  }
  offset_source image_window;
  if (!window_at_offset(a, src_paths[0], image_file, image_window)) return exit_problem;
  std::vector<source_ref> sources{image_window};
  for (std::size_t i = 1; i < files.size(); ++i) sources.push_back(files[i]->ref());

  fanotify::backend_options bo;
  bo.decompressors = &decoders();  // metadata_ranges() reads compressed directories and packed data
  if (cache) {
    bo.cache_root = *a.value("cache-dir");
    if (a.value("id")) {
      bo.cache_id = *a.value("id");
    } else {
      auto id = identity_of(sources);
      if (!id) {
        report(a.cmd, id.error().message());
        return exit_problem;
      }
      bo.cache_id = *id;
    }
  }
  std::vector<fanotify::device_spec> devs;
  for (std::size_t i = 0; i < sources.size(); ++i)
    devs.push_back({sources[i], cache ? std::string() : sparse_paths[i]});

  auto created = fanotify::backend::create(devs, bo);
  if (!created) {
    // A refused lock names the owner's pid as the error's value.
    std::fprintf(stderr, "serve-fanotify: %s\n", created.error().message().c_str());
    return exit_problem;
  }
  std::unique_ptr<fanotify::backend> be = std::move(*created);
  if (cache) std::fprintf(stderr, "serve-fanotify: cache %s\n", be->cache_dir().c_str());
  std::fprintf(stderr, "serve-fanotify: metadata prefetched: %s\n",
               fanotify::detail::stats_line(*be).c_str());
  fanotify::daemon_options dopt;
  dopt.mount_dir = mount_dir;
  dopt.prefetch_paths = prefetch_paths;
  dopt.prefetch_all = a.has("prefetch-all");
  dopt.log_fills = a.has("log-fills");
  const std::uint64_t threads = a.number("fill-threads", 8);
  if (threads == 0 || threads > 256) return usage_error(a, "--fill-threads takes 1 to 256");
  dopt.fill_threads = static_cast<unsigned>(threads);
  return fanotify::run_daemon(std::move(be), dopt);
}

constexpr option_def options[] = {
    {"sparse", 0, value_kind::text, "FILE",
     "a sparse local copy: first IMG's, then one per --device in order", true},
    {"cache-dir", 0, value_kind::text, "ROOT",
     "keep the sparse copies in the persistent cache ROOT/<id> instead (reused on restart)"},
    {"id", 0, value_kind::text, "ID",
     "the cache's id (default: sha256 of IMG and its blobs, which reads them once)"},
    {"mount", 0, value_kind::text, "DIR", "also mount the image on DIR (unmounted on exit)"},
    {"prefetch", 0, value_kind::text, "PATH",
     "once mounted, fill the image's file PATH in the background (in the order given)", true},
    {"prefetch-all", 0, value_kind::none, nullptr,
     "then fill everything in the background, in image order (readers go first)"},
    {"fill-threads", 0, value_kind::number, "N",
     "fetch for up to N events at once (default 8; 1: one at a time)"},
    {"log-fills", 0, value_kind::none, nullptr,
     "log every fill that copied bytes from a source (offset, count, bytes)"},
};
constexpr positional_def positionals[] = {{"IMG", arity::one}};

}  // namespace

const command_spec serve_fanotify_command{
    "serve-fanotify",
    "lazy-load IMG into sparse files or a cache on fanotify pre-content events (root, 6.14+)",
    options, common::image_options, positionals, run_serve_fanotify,
    "IMG (--sparse FILE [--device BLOB --sparse FILE]... | --cache-dir ROOT [--id ID] "
    "[--device BLOB]...) [--mount DIR] [--prefetch PATH]... [--prefetch-all] [--fill-threads N] [--log-fills] "
    "[--verity-root HEX ...]"};

}  // namespace erofsfs::cli
