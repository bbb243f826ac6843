// The I/O hook: a user's own byte source plugs into image::open without any library change, and
// its failures come back as errors that say which byte could not be read.
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "support/sha256.hpp"

using namespace erofsfs;

namespace {

std::vector<std::byte> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::string fixture(const std::string& image, const std::string& file) {
  return std::string(EROFSFS_TEST_DATA) + "/images/" + image + "/" + file;
}

// Stands in for an object store read with HTTP range requests: serves [offset, offset + n) of a
// blob it holds and counts the requests and bytes. Deliberately no size() and no bytes(): the
// library must work with nothing but read_at.
class range_reader {
 public:
  explicit range_reader(std::vector<std::byte> blob) : blob_(std::move(blob)) {}

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    requests_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(dst.size(), std::memory_order_relaxed);
    if (offset > blob_.size() || dst.size() > blob_.size() - offset)
      return make_error_code(errc::truncated);  // what a 416 Range Not Satisfiable maps to
    if (!dst.empty()) std::memcpy(dst.data(), blob_.data() + offset, dst.size());
    return {};
  }

  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t bytes() const { return bytes_.load(); }
  void reset_counters() {
    requests_ = 0;
    bytes_ = 0;
  }
  std::uint64_t blob_size() const { return blob_.size(); }

 private:
  std::vector<std::byte> blob_;
  mutable std::atomic<std::uint64_t> requests_{0};
  mutable std::atomic<std::uint64_t> bytes_{0};
};

// The same reader after a HEAD request: it knows its length, and remembers the furthest byte
// the library asked for.
class sized_range_reader : public range_reader {
 public:
  using range_reader::range_reader;
  std::uint64_t size() const noexcept { return blob_size(); }
  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    std::uint64_t end = offset + dst.size();
    std::uint64_t seen = furthest_.load(std::memory_order_relaxed);
    while (end > seen && !furthest_.compare_exchange_weak(seen, end)) {
    }
    return range_reader::read_at(offset, dst);
  }
  std::uint64_t furthest() const { return furthest_.load(); }

 private:
  mutable std::atomic<std::uint64_t> furthest_{0};
};

// Fails every read that touches [bad_begin, bad_end) with `code`, like a connection dropping
// while one range is fetched; every other read succeeds.
class failing_reader {
 public:
  failing_reader(std::vector<std::byte> blob, std::uint64_t bad_begin, std::uint64_t bad_end,
                 std::error_code code = make_error_code(errc::io_error))
      : inner_(std::move(blob)), bad_begin_(bad_begin), bad_end_(bad_end), code_(code) {}

  std::error_code read_at(std::uint64_t offset, std::span<std::byte> dst) const noexcept {
    if (offset < bad_end_ && offset + dst.size() > bad_begin_) return code_;
    return inner_.read_at(offset, dst);
  }

 private:
  range_reader inner_;
  std::uint64_t bad_begin_, bad_end_;
  std::error_code code_;
};

static_assert(byte_source<range_reader> && !sized_source<range_reader>);
static_assert(sized_source<sized_range_reader> && !contiguous_source<sized_range_reader>);

// path -> type and content digest (sha256 for files, the target for symlinks) of every inode.
std::map<std::string, std::string> digest_tree(const image& img) {
  std::map<std::string, std::string> out;
  read_context ctx;
  std::vector<std::byte> data;
  const status st = walk(img, ctx, [&](const walk_entry& e) -> status {
    std::string d = file_type_name(e.ino.type());
    if (e.ino.is_regular()) {
      EROFSFS_TRY(read_all(img, e.ino, data, ctx));
      d += " " + test::sha256::of(data);
    } else if (e.ino.is_symlink()) {
      EROFSFS_TRY_ASSIGN(const std::string target, read_link(img, e.ino, ctx));
      d += " -> " + target;
    }
    out.emplace(std::string(e.path), std::move(d));
    return {};
  });
  if (!st) FAIL(st.error().message());
  return out;
}

// Where file data of `path` starts on the primary device.
std::uint64_t data_offset(const image& img, const char* path) {
  read_context ctx;
  auto ino = resolve_path(img, path, ctx);
  REQUIRE(ino);
  auto ext = map_extent(img, *ino, 0);
  REQUIRE(ext);
  REQUIRE(ext->kind == extent_kind::mapped);
  REQUIRE(ext->device == 0);
  return ext->physical;
}

}  // namespace

TEST_CASE("a range reader with only read_at serves a whole image like an in-memory source") {
  const auto bytes = load(fixture("plain-4k", "plain-4k.erofs"));
  memory_source mem(bytes);
  auto reference = open_image(mem);
  REQUIRE(reference);

  range_reader remote(bytes);
  auto img = open_image(remote);
  REQUIRE(img);
  const auto got = digest_tree(*img);
  CHECK(remote.requests() > 0);
  CHECK(got.size() == 670);  // index.json: entries
  CHECK(got == digest_tree(*reference));
  // One content hash straight from the kernel's manifest, so both sides are not merely equal.
  CHECK(got.at("/data/tails/t000") ==
        "file fb678e804dab60fa8df65f20d70c0d75766fac464e6a07eaba26061abf5d77fa");
}

TEST_CASE("a source with size() is never asked for bytes past its end") {
  sized_range_reader remote(load(fixture("chunk-4k-indexes", "chunk-4k-indexes.erofs")));
  auto img = open_image(remote);
  REQUIRE(img);
  CHECK_FALSE(digest_tree(*img).empty());
  CHECK(remote.furthest() <= remote.size());
}

TEST_CASE("reading an uncompressed file fetches exactly its bytes, in few requests") {
  range_reader remote(load(fixture("plain-4k", "plain-4k.erofs")));
  auto img = open_image(remote);
  REQUIRE(img);
  read_context ctx;
  auto ino = resolve_path(*img, "/data/random-32k", ctx);
  REQUIRE(ino);
  REQUIRE(ino->size == 33089);
  remote.reset_counters();
  std::vector<std::byte> data;
  REQUIRE(read_all(*img, *ino, data, ctx));
  // Range requests are what a remote source pays for: no read amplification, and one request
  // per extent (blocks, then the inline tail) rather than one per block.
  CHECK(remote.bytes() == ino->size);
  CHECK(remote.requests() <= 2);
}

TEST_CASE("a user source serves an extra blob device given in open_options::devices") {
  const auto primary_bytes = load(fixture("chunk-4k-blobdev", "chunk-4k-blobdev.erofs"));
  const auto blob_bytes = load(fixture("chunk-4k-blobdev", "chunk-4k-blobdev.blob"));
  memory_source primary(primary_bytes);

  memory_source blob_mem(blob_bytes);
  const source_ref mem_devices[] = {blob_mem};
  auto reference = open_image(primary, {.devices = mem_devices});
  REQUIRE(reference);

  range_reader blob_remote(blob_bytes);
  const source_ref remote_devices[] = {blob_remote};
  auto img = open_image(primary, {.devices = remote_devices});
  REQUIRE(img);
  blob_remote.reset_counters();
  CHECK(digest_tree(*img) == digest_tree(*reference));
  CHECK(blob_remote.requests() > 0);
}

TEST_CASE("a source failing under file data surfaces as errc::io_error at that offset") {
  const auto bytes = load(fixture("plain-4k", "plain-4k.erofs"));
  memory_source mem(bytes);
  auto healthy = open_image(mem);
  REQUIRE(healthy);
  const std::uint64_t at = data_offset(*healthy, "/data/random-32k");

  failing_reader flaky(bytes, at, at + 1);
  auto img = open_image(flaky);
  REQUIRE(img);
  read_context ctx;
  auto ino = resolve_path(*img, "/data/random-32k", ctx);
  REQUIRE(ino);
  std::vector<std::byte> data;
  const status st = read_all(*img, *ino, data, ctx);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == errc::io_error);
  CHECK(st.error().offset == at);
  CHECK(st.error().nid == ino->nid);
  CHECK(std::string(st.error().what) == "reading data");
}

TEST_CASE("a source failing under an inode surfaces as errc::io_error at the inode") {
  const auto bytes = load(fixture("plain-4k", "plain-4k.erofs"));
  memory_source mem(bytes);
  auto healthy = open_image(mem);
  REQUIRE(healthy);
  read_context ctx;
  auto good = resolve_path(*healthy, "/data/random-32k", ctx);
  REQUIRE(good);

  failing_reader flaky(bytes, good->pos, good->pos + 1);
  auto img = open_image(flaky);
  REQUIRE(img);
  auto ino = read_inode(*img, good->nid);
  REQUIRE_FALSE(ino);
  CHECK(ino.error().code == errc::io_error);
  CHECK(ino.error().offset == good->pos);
  CHECK(ino.error().nid == good->nid);
}

TEST_CASE("a source failing under the superblock fails image::open with errc::io_error") {
  failing_reader flaky(load(fixture("plain-4k", "plain-4k.erofs")), disk::super_offset,
                       disk::super_offset + 1);
  auto img = open_image(flaky);
  REQUIRE_FALSE(img);
  CHECK(img.error().code == errc::io_error);
  CHECK(img.error().offset == disk::super_offset);
}

TEST_CASE("a source's own error code reaches the caller unchanged") {
  const auto bytes = load(fixture("plain-4k", "plain-4k.erofs"));
  memory_source mem(bytes);
  auto healthy = open_image(mem);
  REQUIRE(healthy);
  const std::uint64_t at = data_offset(*healthy, "/data/mixed-36k");

  const std::error_code reset(ECONNRESET, std::generic_category());
  failing_reader flaky(bytes, at, at + 1, reset);
  auto img = open_image(flaky);
  REQUIRE(img);
  read_context ctx;
  auto ino = resolve_path(*img, "/data/mixed-36k", ctx);
  REQUIRE(ino);
  std::byte buf[16];
  auto n = read(*img, *ino, 0, buf, ctx);
  REQUIRE_FALSE(n);
  CHECK(n.error().code == reset);
  CHECK(n.error().offset == at);
  CHECK(to_errno(n.error().code) == ECONNRESET);
}
