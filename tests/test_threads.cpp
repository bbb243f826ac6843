// Const image reads are thread-safe: several threads share one image (each with its own
// read_context) and see exactly what a single thread sees, for every kind of source.
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "support/sha256.hpp"

using namespace erofsfs;

namespace {

constexpr unsigned thread_count = 4;

std::string fixture_image(const std::string& name) {
  return std::string(EROFSFS_TEST_DATA) + "/images/" + name + "/" + name + ".erofs";
}

std::vector<std::byte> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

struct entry {
  std::string path;
  std::uint64_t nid;
};

std::vector<entry> list_entries(const image& img) {
  std::vector<entry> out;
  read_context ctx;
  const status st = walk(img, ctx, [&](const walk_entry& e) -> status {
    out.push_back({std::string(e.path), e.ino.nid});
    return {};
  });
  if (!st) FAIL(st.error().message());
  return out;
}

// Everything a reader can learn about one path: the path lookup, the inode fields, the data
// (sha256) or symlink target, and the xattrs. An error becomes part of the digest, so it shows up
// as a difference rather than being lost in a thread.
std::string digest(const image& img, const entry& e, read_context& ctx,
                   std::vector<std::byte>& data) {
  auto found = resolve_path(img, e.path, ctx, false);
  if (!found) return e.path + ": " + found.error().message();
  if (found->nid != e.nid) return e.path + ": resolved to nid " + std::to_string(found->nid);
  const inode& ino = *found;
  std::string d = e.path + " " + std::to_string(ino.mode) + " " + std::to_string(ino.uid) + ":" +
                  std::to_string(ino.gid) + " " + std::to_string(ino.size) + " " +
                  std::to_string(ino.nlink) + " " + std::to_string(ino.mtime) + "." +
                  std::to_string(ino.mtime_nsec);
  if (ino.is_regular()) {
    if (auto st = read_all(img, ino, data, ctx); !st) return d + " " + st.error().message();
    d += " " + test::sha256::of(data);
  } else if (ino.is_symlink()) {
    auto target = read_link(img, ino, ctx);
    d += target ? " -> " + *target : " " + target.error().message();
  }
  auto xattrs = list_xattrs(img, ino);
  if (!xattrs) return d + " " + xattrs.error().message();
  for (const auto& x : *xattrs)
    d += " " + x.name + "=" + test::sha256::of(std::as_bytes(std::span(x.value)));
  return d;
}

// Digests every entry on `thread_count` threads at once, each starting at a different entry so
// that threads hit different files and the same files at different times.
std::vector<std::vector<std::string>> digest_concurrently(const image& img,
                                                          const std::vector<entry>& entries) {
  std::vector<std::vector<std::string>> results(thread_count);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      read_context ctx;
      std::vector<std::byte> data;
      std::vector<std::string>& out = results[t];
      out.resize(entries.size());
      const std::size_t start = entries.size() * t / thread_count;
      for (std::size_t k = 0; k < entries.size(); ++k) {
        const std::size_t i = (start + k) % entries.size();
        out[i] = digest(img, entries[i], ctx, data);
      }
    });
  }
  for (auto& th : threads) th.join();
  return results;
}

void check_concurrent_reads_match(const image& img) {
  const std::vector<entry> entries = list_entries(img);
  REQUIRE(entries.size() > 1);
  std::vector<std::string> expected;
  read_context ctx;
  std::vector<std::byte> data;
  for (const entry& e : entries) expected.push_back(digest(img, e, ctx, data));

  const auto results = digest_concurrently(img, entries);
  for (unsigned t = 0; t < thread_count; ++t) {
    CAPTURE(t);
    std::size_t differences = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (results[t][i] == expected[i]) continue;
      if (++differences <= 3) CHECK(results[t][i] == expected[i]);
    }
    CHECK(differences == 0);
  }
}

// Uncompressed layouts: flat/inline data, chunk indexes, shared and long-prefix xattrs.
const char* const images[] = {"plain-4k", "chunk-4k-indexes", "xattr-prefix-plain",
                              "plain-b512"};

}  // namespace

TEST_CASE("threads sharing an image over an fd_source read what a single thread reads") {
  for (const char* name : images) {
    CAPTURE(name);
    auto src = fd_source::open(fixture_image(name).c_str());
    REQUIRE(src);
    auto img = open_image(*src);
    REQUIRE(img);
    check_concurrent_reads_match(*img);
  }
}

TEST_CASE("threads sharing an image over an mmap_source read what a single thread reads") {
  for (const char* name : images) {
    CAPTURE(name);
    auto src = mmap_source::open(fixture_image(name).c_str());
    REQUIRE(src);
    auto img = open_image(*src);
    REQUIRE(img);
    check_concurrent_reads_match(*img);
  }
}

TEST_CASE("threads sharing an image over a memory_source read what a single thread reads") {
  for (const char* name : images) {
    CAPTURE(name);
    const auto bytes = load(fixture_image(name));
    memory_source src(bytes);
    auto img = open_image(src);
    REQUIRE(img);
    check_concurrent_reads_match(*img);
  }
}

TEST_CASE("concurrent sha256s of plain-4k files match the kernel's manifest") {
  // Pins the single-threaded reference to the truth too, so "identical" means "right".
  auto src = mmap_source::open(fixture_image("plain-4k").c_str());
  REQUIRE(src);
  auto img = open_image(*src);
  REQUIRE(img);
  const std::vector<entry> entries{{"/data/tails/t000", 0}, {"/data/random-32k", 0}};
  std::vector<entry> resolved;
  read_context ctx;
  for (const entry& e : entries) {
    auto ino = resolve_path(*img, e.path, ctx);
    REQUIRE(ino);
    resolved.push_back({e.path, ino->nid});
  }
  const auto results = digest_concurrently(*img, resolved);
  for (unsigned t = 0; t < thread_count; ++t) {
    CHECK(results[t][0].find("fb678e804dab60fa8df65f20d70c0d75766fac464e6a07eaba26061abf5d77fa") !=
          std::string::npos);
    CHECK(results[t][1].find("2e61a76a3baeb55ae8bddd2e4cc19e7112d421a595de1a67e74108ef0931a90f") !=
          std::string::npos);
  }
}

// Compressed reads go through each thread's read_context (pcluster buffers, decoded-extent
// cache) and the shared packed inode and metabox.
TEST_CASE("threads sharing a compressed image read what a single thread reads") {
  for (const char* name : {"lz4", "lz4hc-ztailpacking", "lz4-fragments", "metabox-lz4"}) {
    CAPTURE(name);
    auto src = mmap_source::open(fixture_image(name).c_str());
    REQUIRE(src);
    auto img = open_image(*src);
    REQUIRE(img);
    check_concurrent_reads_match(*img);
  }
}
