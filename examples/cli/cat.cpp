// `erofsfs cat [--cache-size MIB] IMG PATH...`: file contents to standard output, read in large
// pieces into one reusable buffer (no whole-file allocation, whatever the file size).
#include "common.hpp"

namespace erofsfs::cli {

namespace {

constexpr std::size_t chunk_size = 1u << 20;

// Writes all of `data` to fd 1; false on a write error (errno set).
bool write_all(bytes_view data) {
  std::size_t done = 0;
  while (done < data.size()) {  // bounded: each pass writes > 0 bytes or fails
    const ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int run_cat(int argc, char** argv) {
  static constexpr option_spec specs[] = {cache_size_option};
  args a;
  if (int rc = parse_args(argc, argv, specs, 2, ~std::size_t{0}, a); rc >= 0) return rc;
  std::unique_ptr<decoded_cache> cache;
  if (!make_shared_cache(a, cache)) return exit_usage;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  read_context ctx;
  ctx.shared_cache = cache.get();  // files sharing pclusters, or named twice, decode once
  std::vector<std::byte> buf(chunk_size);
  bool failed = false;
  for (std::size_t i = 1; i < a.positional.size(); ++i) {
    const std::string& path = a.positional[i];
    auto ino = resolve_path(o->img, path, ctx, true);
    if (!ino) {
      report(a.cmd, path, ino.error());
      failed = true;
      continue;
    }
    if (!ino->is_regular()) {
      report(a.cmd, path + ": " + (ino->is_dir() ? "is a directory" : "not a regular file"));
      failed = true;
      continue;
    }
    std::uint64_t offset = 0;
    while (offset < ino->size) {  // bounded: offset grows by > 0 each pass or the loop ends
      auto n = read(o->img, *ino, offset, buf, ctx);
      if (!n) {
        report(a.cmd, path, n.error());
        failed = true;
        break;
      }
      if (*n == 0) {
        report(a.cmd, path,
               make_error(errc::internal, "read returned no data before end of file",
                          {.nid = ino->nid, .offset = offset}));
        failed = true;
        break;
      }
      if (!write_all(std::span(buf).first(*n))) {
        report(a.cmd, "standard output: " + errno_text(errno));
        return exit_problem;
      }
      offset += *n;
    }
  }
  return failed ? exit_problem : exit_ok;
}

}  // namespace erofsfs::cli
