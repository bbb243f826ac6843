// erofsfs::reader, the bound handle: paths, data, directories, xattrs and the mapper through one
// object per thread, checked against the kernel's manifest of real fixture images.
#include <doctest/doctest.h>

#include <erofsfs/api/reader.hpp>

#include <set>
#include <string>
#include <vector>

#include "support/manifest.hpp"

using namespace erofsfs;

namespace {

test::manifest load(const std::string& name) {
  std::string err;
  auto m = test::load_manifest(test::fixture_dir(name) + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(m, err);
  return *m;
}

}  // namespace

TEST_CASE("reader: read_file returns every regular file's bytes as the kernel read them") {
  for (const char* name : {"plain-4k", "lz4", "chunk-4k-indexes"}) {
    CAPTURE(name);
    auto f = test::open_fixture(name);
    REQUIRE(f);
    reader fs((*f)->img);
    for (const auto& kv : load(name)) {
    const std::string& path = kv.first;
    const test::manifest_entry& e = kv.second;
      if (e.type != "file") continue;
      CAPTURE(path);
      auto data = fs.read_file(path);
      REQUIRE(data);
      CHECK(test::sha256::of(*data) == e.sha256);
    }
  }
}

TEST_CASE("reader: stat does not follow a final symlink, open does") {
  auto f = test::open_fixture("plain-4k");
  REQUIRE(f);
  reader fs((*f)->img);
  for (const auto& kv : load("plain-4k")) {
    const std::string& path = kv.first;
    const test::manifest_entry& e = kv.second;
    if (e.type != "symlink") continue;
    CAPTURE(path);
    auto link = fs.stat(path);
    REQUIRE(link);
    CHECK(link->is_symlink());
    CHECK(link->ino((*f)->img.sb()) == e.ino);
    auto target = fs.read_link(*link);
    REQUIRE(target);
    CHECK(*target == *e.target);
    auto followed = fs.open(path);
    if (followed) CHECK_FALSE(followed->is_symlink());
  }
}

TEST_CASE("reader: for_each_entry lists a directory's children without . and ..") {
  auto f = test::open_fixture("plain-4k");
  REQUIRE(f);
  reader fs((*f)->img);
  const test::manifest m = load("plain-4k");
  std::set<std::string> expected;
  for (const auto& [path, e] : m)
    if (path.rfind("/links/", 0) == 0 && path.find('/', 7) == std::string::npos)
      expected.insert(path.substr(7));
  REQUIRE_FALSE(expected.empty());
  auto dir = fs.stat("/links");
  REQUIRE(dir);
  std::set<std::string> seen;
  REQUIRE(fs.for_each_entry(*dir, [&](const dir_entry& e) -> status {
    seen.emplace(e.name);
    return {};
  }));
  CHECK(seen == expected);
  auto hit = fs.lookup(*dir, *expected.begin());
  REQUIRE(hit);
  CHECK(hit->name == *expected.begin());
}

TEST_CASE("reader: xattrs and xattr_value give the manifest's attributes") {
  auto f = test::open_fixture("xattr-all-shared");
  REQUIRE(f);
  reader fs((*f)->img);
  std::size_t checked = 0;
  for (const auto& kv : load("xattr-all-shared")) {
    const std::string& path = kv.first;
    const test::manifest_entry& e = kv.second;
    if (e.xattrs.empty()) continue;
    CAPTURE(path);
    auto ino = fs.stat(path);
    REQUIRE(ino);
    auto xs = fs.xattrs(*ino);
    REQUIRE(xs);
    CHECK(xs->size() == e.xattrs.size());
    for (const auto& [k, hex] : e.xattrs) {
      auto v = fs.xattr_value(*ino, k);
      REQUIRE(v);
      CHECK(test::to_hex(*v) == hex);
      ++checked;
    }
  }
  CHECK(checked > 0);
}

TEST_CASE("reader: map and extents agree and cover a chunk-based file") {
  auto f = test::open_fixture("chunk-4k-indexes");
  REQUIRE(f);
  reader fs((*f)->img);
  std::size_t files = 0;
  REQUIRE(fs.walk([&](const walk_entry& w) -> status {
    if (!w.ino.is_regular() || w.ino.size == 0) return {};
    ++files;
    auto it = fs.extents(w.ino);
    extent e;
    std::uint64_t covered = 0;
    while (true) {
      auto more = it.next(e);
      REQUIRE(more);
      if (!*more) break;
      CHECK(e.logical == covered);
      auto at = fs.map(w.ino, e.logical);
      REQUIRE(at);
      CHECK(at->kind == e.kind);
      covered = e.end();
    }
    CHECK(covered == w.ino.size);
    return {};
  }));
  CHECK(files > 0);
}

TEST_CASE("reader: a missing path is errc::not_found") {
  auto f = test::open_fixture("plain-4k");
  REQUIRE(f);
  reader fs((*f)->img);
  auto r = fs.read_file("/no/such/file");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::not_found);
}
