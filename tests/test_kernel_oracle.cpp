// The running kernel as the oracle: every fixture image is mounted read-only (file-backed, blob
// devices via device=) and the mounted tree must equal the library's view of the same image in
// every field: type, mode, uid, gid, size, nlink, mtime + nsec, ino, st_blocks, rdev, symlink
// target, xattrs and the sha256 of every file. Unlike manifest.jsonl this also holds for a
// kernel other than the one the fixtures were made on. Needs root and erofs; skipped otherwise.
#include <doctest/doctest.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/codecs.hpp"
#include "support/fixture_list.hpp"
#include "support/manifest.hpp"
#include "support/mounted_tree.hpp"

using namespace erofsfs;
using namespace erofsfs::test;

namespace {

// What an image needs from the library beyond the uncompressed core, from the -z option of
// the mkfs command recorded in its info.json.
enum class image_group { uncompressed, lz4, other_codecs };

image_group group_of(const std::string& name) {
  const std::string info = test::detail::slurp_file(fixture_dir(name) + "/info.json");
  static constexpr std::string_view key = "\"mkfs_command\": \"";
  const std::size_t at = info.find(key);
  if (at == std::string::npos) return image_group::uncompressed;
  const std::size_t end = info.find('"', at + key.size());
  const std::string cmd = info.substr(at + key.size(), end - at - key.size());
  const std::size_t z = cmd.find(" -z");
  if (z == std::string::npos) return image_group::uncompressed;
  // -zALG[,level=N][:ALG[,level=N]]...
  std::string algs = cmd.substr(z + 3, cmd.find(' ', z + 3) - (z + 3));
  std::istringstream list(algs);
  for (std::string alg; std::getline(list, alg, ':');) {
    alg = alg.substr(0, alg.find(','));
    if (alg != "lz4" && alg != "lz4hc") return image_group::other_codecs;
  }
  return image_group::lz4;
}

// Mounts `name`, walks the mount and the library, and reports every difference.
std::vector<std::string> oracle_differences(const std::string& name,
                                            mounted_image::backing how) {
  auto fx = open_fixture(name, all_decoders());
  if (!fx) return {"library open: " + fx.error().message()};
  auto library = entries_from_image((*fx)->img);
  if (!library) return {"library walk: " + library.error().message()};

  std::string err;
  auto mnt = mounted_image::mount(fixture_dir(name) + "/" + name + ".erofs",
                                  (*fx)->device_files, err, how);
  if (!mnt) return {"mount: " + err};
  if (how == mounted_image::backing::loop && !mnt->on_loop())
    return {"mounted without a loop device"};
  auto kernel = entries_from_mount(mnt->root(), err);
  if (!kernel) return {"mounted walk: " + err};
  if (kernel->empty()) return {"mounted walk found nothing"};
  return compare_manifests(*kernel, *library);
}

// Why the oracle cannot run here, or "". Root in a user namespace or a confined container
// passes the first checks but may not mount: a probe mount tells.
std::string oracle_unavailable() {
  if (std::string why = kernel_oracle_unavailable(); !why.empty()) return why;
  std::string err;
  const auto probe = mounted_image::mount(fixture_dir("plain-4k") + "/plain-4k.erofs", {}, err);
  if (!probe && (err == errno_text("mount", EPERM) || err == errno_text("mount", EACCES)))
    return err;
  return "";
}

void check_group(image_group group) {
  if (const std::string why = oracle_unavailable(); !why.empty()) {
    MESSAGE("kernel oracle skipped: " << why);
    return;
  }
  unsigned checked = 0;
  for (const std::string& name : fixture_names()) {
    if (group_of(name) != group) continue;
    CAPTURE(name);
    const auto diffs = oracle_differences(name, mounted_image::backing::file);
    for (const std::string& d : diffs) FAIL_CHECK(name << ": " << d);
    ++checked;
  }
  MESSAGE("kernel oracle: " << checked << " images compared");
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("kernel oracle: uncompressed images read exactly as the mounted kernel shows them") {
  check_group(image_group::uncompressed);
}

TEST_CASE("kernel oracle: lz4 and lz4hc images read exactly as the mounted kernel shows them") {
  check_group(image_group::lz4);
}

TEST_CASE("kernel oracle: lzma, deflate and zstd images read exactly as the mounted kernel "
          "shows them") {
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_lzma);
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_deflate);
  EROFSFS_SKIP_WITHOUT_CODEC(disk::compression_zstd);
  check_group(image_group::other_codecs);
}

TEST_CASE("kernel oracle: an image mounted through a loop device matches as well") {
  if (const std::string why = oracle_unavailable(); !why.empty()) {
    MESSAGE("kernel oracle skipped: " << why);
    return;
  }
  if (::access("/dev/loop-control", F_OK) != 0) {
    MESSAGE("kernel oracle skipped: no /dev/loop-control for the loop fallback");
    return;
  }
  // The fallback for kernels without file-backed mounts; a blob device exercises device= too.
  for (const char* name : {"plain-4k", "chunk-4k-blobdev"}) {
    CAPTURE(name);
    const auto diffs = oracle_differences(name, mounted_image::backing::loop);
    for (const std::string& d : diffs) FAIL_CHECK(name << ": " << d);
    CHECK(diffs.empty());
  }
}
