// --verity-root HEX [--verity-hash FILE] [--verity-offset N]: the tool reads the image file
// through a dm-verity tree (io/verity_source.hpp), so every block is checked against the root
// hash before it is used or served. The tree is the one `veritysetup format` writes, with its
// superblock: in FILE (at offset N, default 0), or without --verity-hash appended to the image
// file itself at byte N (`veritysetup format IMG IMG --hash-offset N`). The tree covers the
// file; --offset then picks the EROFS image inside the verified bytes. A mismatch fails the read
// (EIO for a daemon's reader) and prints a line naming the block.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/verity_source.hpp>

#include "options.hpp"

namespace erofsfs::cli {

// Whether the command line asks for verification (common::verity_* in options.hpp).
inline bool wants_verity(const args& a) {
  return a.has("verity-root") || a.has("verity-hash") || a.has("verity-offset");
}

// The image file wrapped in a verity_source; holds the hash file. Not movable: the verified
// source points at the members.
class verified_source {
 public:
  verified_source(const verified_source&) = delete;
  verified_source& operator=(const verified_source&) = delete;

  // Empty string on success, else what failed. Mismatches are logged as "erofsfs: CMD: ...".
  static std::string open(source_ref file, const args& a, std::unique_ptr<verified_source>& out) {
    std::unique_ptr<verified_source> v(new verified_source);
    v->cmd_ = a.cmd;
    const std::string* root = a.value("verity-root");
    const std::string* hash_file = a.value("verity-hash");
    if (!root) return "--verity-hash and --verity-offset need --verity-root";
    if (!hash_file && !a.has("verity-offset"))
      return "--verity-root without --verity-hash needs --verity-offset (where the tree is in "
             "the image file)";
    verity_options opt;
    opt.hash_offset = a.number("verity-offset");
    source_ref hash = file;
    if (hash_file) {
      auto h = fd_source::open(hash_file->c_str());
      if (!h) return *hash_file + ": " + h.error().message();
      v->hash_file_ = std::move(*h);
      hash = source_ref(v->hash_file_);
    }
    opt.on_failure = &log_failure;
    opt.failure_context = v.get();
    auto s = verity_source::open(file, hash, *root, opt);
    if (!s) return s.error().message();
    v->source_.emplace(std::move(*s));
    out = std::move(v);
    return {};
  }
  source_ref ref() const noexcept { return source_ref(*source_); }

 private:
  verified_source() = default;
  static void log_failure(void* self, const error& e) noexcept {
    std::fprintf(stderr, "erofsfs: %s: %s\n", static_cast<verified_source*>(self)->cmd_,
                 e.message().c_str());
  }
  const char* cmd_ = "";
  fd_source hash_file_;
  std::optional<verity_source> source_;
};

}  // namespace erofsfs::cli
