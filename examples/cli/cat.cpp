// `erofsfs cat IMG PATH...` (or `--nid N IMG`): file contents to standard output, read in large
// pieces into one reusable buffer (no whole-file allocation, whatever the file size). With
// --cache-size, files that share pclusters (or are named twice) decode them once.
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

// Writes one file's contents to standard output. False when it failed (reported); sets
// `output_failed` when standard output itself failed, after which nothing more is written.
bool cat_one(const args& a, const opened_image& o, const std::string* path, read_context& ctx,
             std::vector<std::byte>& buf, bool& output_failed) {
  const std::string name = subject_name(a, path);
  auto ino = find_subject(o, path, a.number("nid"), ctx, true);
  if (!ino) {
    report(a.cmd, name, ino.error());
    return false;
  }
  if (!ino->is_regular()) {
    report(a.cmd, escape(name) + ": " + (ino->is_dir() ? "is a directory" : "not a regular file"));
    return false;
  }
  std::uint64_t offset = 0;
  while (offset < ino->size) {  // bounded: offset grows by > 0 each pass or the loop ends
    auto n = read(o.img, *ino, offset, buf, ctx);
    if (!n) {
      report(a.cmd, name, n.error());
      return false;
    }
    if (*n == 0) {
      report(a.cmd, name,
             make_error(errc::internal, "read returned no data before end of file",
                        {.nid = ino->nid, .offset = offset}));
      return false;
    }
    if (!write_all(std::span(buf).first(*n))) {
      report(a.cmd, "standard output: " + errno_text(errno));
      output_failed = true;
      return false;
    }
    offset += *n;
  }
  return true;
}

int run_cat(const args& a) {
  std::unique_ptr<decoded_cache> cache;
  if (!make_shared_cache(a, cache)) return exit_usage;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  read_context ctx;
  ctx.shared_cache = cache.get();  // files sharing pclusters, or named twice, decode once
  std::vector<std::byte> buf(chunk_size);
  bool failed = false, output_failed = false;
  if (a.has("nid")) {
    failed = !cat_one(a, *o, nullptr, ctx, buf, output_failed);
  } else {
    for (std::size_t i = 1; i < a.positional.size() && !output_failed; ++i)
      failed |= !cat_one(a, *o, &a.positional[i], ctx, buf, output_failed);
  }
  return failed ? exit_problem : exit_ok;
}

constexpr option_def options[] = {
    cache_size_option,
    common::nid,
};
constexpr positional_def positionals[] = {{"IMG", arity::one},
                                          {"PATH", arity::one_or_more, "nid"}};

}  // namespace

const command_spec cat_command{"cat", "write files to standard output", options,
                               common::image_options, positionals, run_cat};

}  // namespace erofsfs::cli
