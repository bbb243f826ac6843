// The OCI registry client (erofsfs/io/oci/registry.hpp) against Debian's docker-registry
// started here on 127.0.0.1 (tests/support/oci_registry.hpp) in its three setups: anonymous,
// htpasswd and token auth. Fixture images are written as OCI layouts whose layers are the
// fixture files with media type application/vnd.erofs.layer.v1, pushed with skopeo, then read
// back lazily through the registry and compared file by file with the local fixture.
//
// Cases print "oci skipped: <why>" where docker-registry, skopeo, htpasswd, openssl or
// python3-jwt is missing (ctest reports them as skipped); without libcurl, one case says so.
#include <doctest/doctest.h>

#ifndef EROFSFS_HAVE_CURL

TEST_CASE("oci registry: the registry client tests") {
  MESSAGE("oci skipped: libcurl not found at build time (Debian libcurl4-openssl-dev)");
}

#else

#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/oci/registry.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/fixture_list.hpp"
#include "support/run_program.hpp"
#include "support/manifest.hpp"
#include "support/oci_registry.hpp"
#ifdef EROFSFS_HAVE_ZSTD
#include "support/seekable_layer.hpp"
#endif

extern char** environ;

#ifdef EROFSFS_HAVE_ZSTD
namespace {
std::vector<std::byte> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}
void write_bytes(const std::string& path, const std::vector<std::byte>& b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
}  // namespace
#endif

namespace {

namespace oci = erofsfs::oci;
namespace what = erofsfs::what;
using erofsfs::test::layout_layer;
using erofsfs::test::oci_registry;

const std::string images_dir = std::string(EROFSFS_TEST_DATA) + "/images";
std::string fixture_file(const std::string& name, const std::string& suffix = ".erofs") {
  return images_dir + "/" + name + "/" + name + suffix;
}

#define EROFSFS_NEED_REGISTRY(reg, mode)            \
  oci_registry reg;                                 \
  if (std::string why_ = reg.start(mode); !why_.empty()) { \
    MESSAGE("oci skipped: " << why_);               \
    return;                                         \
  }

// Pushes `layers` as repo:tag through an OCI layout in the registry's directory.
erofsfs::test::layout_image push(const oci_registry& reg, const std::string& repo,
                                 const std::string& tag, const std::vector<layout_layer>& layers) {
  const std::string layout = reg.dir() + "/layout-" + tag;
  auto img = erofsfs::test::write_layout(layout, tag, layers);
  const std::string err = reg.push(layout, tag, repo);
  REQUIRE_MESSAGE(err.empty(), err);
  return img;
}

std::vector<layout_layer> erofs_layers(const std::vector<std::string>& files) {
  std::vector<layout_layer> out;
  for (const std::string& f : files) out.push_back({f, oci::media_type::erofs_layer, {}});
  return out;
}

oci::registry_options options_for(const oci_registry& reg, const std::string& user = "",
                                  const std::string& password = "") {
  oci::registry_options o;
  if (user.empty()) o.anonymous = true;
  else o.auth_file = reg.auth_file(user, password);
  return o;
}

erofsfs::result<oci::registry_client> client(const oci_registry& reg, const std::string& name,
                                             const oci::registry_options& o) {
  auto ref = oci::parse_reference(reg.host() + "/" + name);
  REQUIRE(ref);
  return oci::registry_client::connect(*ref, o);
}

// The image in `layers` (first the image, then its devices in order) read through the
// registry equals the local fixture `name`, file by file.
void check_same_as_fixture(oci::registry_client& c, const std::string& name) {
  auto m = c.resolve();
  REQUIRE_MESSAGE(m, (m ? std::string() : m.error().message() + " / " + c.last_failure()));
  const auto layers = oci::erofs_layers(m->image);
  REQUIRE(!layers.empty());
  std::vector<std::unique_ptr<erofsfs::http_source>> blobs;
  for (const oci::descriptor& d : layers) {
    std::string failure;
    auto s = c.open_blob(d, &failure);
    REQUIRE_MESSAGE(s, (s ? std::string() : s.error().message() + " / " + failure));
    blobs.push_back(std::make_unique<erofsfs::http_source>(std::move(*s)));
  }
  std::vector<erofsfs::source_ref> devices;
  for (std::size_t i = 1; i < blobs.size(); ++i) devices.emplace_back(*blobs[i]);
  erofsfs::open_options oo;
  oo.devices = devices;
  oo.decompressors = erofsfs::test::all_decoders();
  auto img = erofsfs::open_image(*blobs[0], oo);
  REQUIRE_MESSAGE(img, (img ? std::string() : img.error().message()));
  auto local = erofsfs::test::open_fixture(name, erofsfs::test::all_decoders());
  REQUIRE(local);
  auto want = erofsfs::test::entries_from_image((*local)->img);
  REQUIRE(want);
  auto got = erofsfs::test::entries_from_image(*img);
  REQUIRE_MESSAGE(got, (got ? std::string() : got.error().message()));
  const auto diffs = erofsfs::test::compare_manifests(*want, *got);
  for (const std::string& d : diffs) FAIL_CHECK(d);
  CHECK(diffs.empty());
  // And against what the kernel saw (manifest.jsonl): every file's sha256.
  std::string err;
  auto kernel = erofsfs::test::load_manifest(images_dir + "/" + name + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(kernel, err);
  std::size_t files = 0;
  for (const auto& kv : *kernel) {
    if (kv.second.type != "file" || kv.second.sha256.empty()) continue;
    ++files;
    CHECK_MESSAGE(got->at(kv.first).sha256 == kv.second.sha256, kv.first);
  }
  CHECK(files > 0);
}

// --- anonymous ----------------------------------------------------------------------------------

TEST_CASE("oci registry: a fixture pushed by skopeo reads back file by file through the registry") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "lz4hc-ztailpacking";
  auto pushed = push(reg, "fixtures/one", "v1", erofs_layers({fixture_file(name)}));
  auto c = client(reg, "fixtures/one:v1", options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE(m);
  CHECK(m->digest == pushed.manifest_digest);
  REQUIRE(m->image.layers.size() == 1);
  CHECK(m->image.layers[0].media_type == oci::media_type::erofs_layer);  // skopeo kept it
  CHECK(m->image.layers[0].digest == pushed.layer_digests[0]);
  check_same_as_fixture(*c, name);
}

TEST_CASE("oci registry: a reference pinned by digest resolves; a wrong pin is not found") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto pushed = push(reg, "fixtures/pin", "v1", erofs_layers({fixture_file("plain-4k")}));
  auto c = client(reg, "fixtures/pin@" + pushed.manifest_digest, options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE_MESSAGE(m, (m ? std::string() : m.error().message()));
  CHECK(m->digest == pushed.manifest_digest);
  auto w = client(reg, "fixtures/pin@sha256:" + std::string(64, '0'), options_for(reg));
  REQUIRE(w);
  auto missing = w->resolve();
  REQUIRE_FALSE(missing);
  CHECK(std::string_view(missing.error().what) == what::oci_manifest_not_found);
}

TEST_CASE("oci registry: a missing repository or tag is manifest_not_found") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto c = client(reg, "nobody/here:v9", options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE_FALSE(m);
  CHECK(std::string_view(m.error().what) == what::oci_manifest_not_found);
  CHECK(m.error().value == 404);
}

TEST_CASE("oci registry: a multi-layer image maps its layers to the metadata image's devices") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "rebuild-two-layers";
  push(reg, "fixtures/layers", "v1",
       erofs_layers({fixture_file(name), fixture_file(name, ".layer1.erofs"),
                     fixture_file(name, ".layer2.erofs")}));
  auto c = client(reg, "fixtures/layers:v1", options_for(reg));
  REQUIRE(c);
  check_same_as_fixture(*c, name);
}

TEST_CASE("oci registry: a blob device image (chunk data in a separate blob) reads back") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "chunk-4k-blobdev";
  push(reg, "fixtures/blobdev", "v1", erofs_layers({fixture_file(name), fixture_file(name, ".blob")}));
  auto c = client(reg, "fixtures/blobdev:v1", options_for(reg));
  REQUIRE(c);
  check_same_as_fixture(*c, name);
}

TEST_CASE("oci registry: an index pushed through the API resolves to the platform's manifest") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto pushed = push(reg, "fixtures/multi", "amd", erofs_layers({fixture_file("plain-4k")}));
  const std::string index =
      std::string("{\"schemaVersion\":2,\"mediaType\":\"") + oci::media_type::oci_index +
      "\",\"manifests\":[{\"mediaType\":\"" + oci::media_type::oci_manifest + "\",\"digest\":\"" +
      pushed.manifest_digest + "\",\"size\":" + std::to_string(pushed.manifest.size()) +
      ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
  REQUIRE(reg.put_manifest("fixtures/multi", "all", oci::media_type::oci_index, index) == 201);
  auto c = client(reg, "fixtures/multi:all", options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE_MESSAGE(m, (m ? std::string() : m.error().message() + " / " + c->last_failure()));
  CHECK(m->digest == pushed.manifest_digest);
  CHECK(m->image.layers.size() == 1);

  auto o = options_for(reg);
  o.want_platform = *oci::parse_platform("linux/riscv64");
  auto r = client(reg, "fixtures/multi:all", o);
  REQUIRE(r);
  auto none = r->resolve();
  REQUIRE_FALSE(none);
  CHECK(std::string_view(none.error().what) == what::oci_index_has_no_manifest_for_the_platform);
}

// --- faults ---------------------------------------------------------------------------------------

TEST_CASE("oci registry: a blob corrupted in storage is refused by its digest when read whole") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto pushed = push(reg, "fixtures/rot", "v1", erofs_layers({fixture_file("plain-b512")}));
  auto c = client(reg, "fixtures/rot:v1", options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE(m);
  const oci::descriptor layer = m->image.layers[0];
  auto good = c->read_blob(layer);
  REQUIRE_MESSAGE(good, (good ? std::string() : good.error().message()));
  CHECK(good->size() == layer.size);
  // Same size, one byte changed: the registry serves it as it is.
  std::string bytes = erofsfs::test::read_text(reg.blob_file(layer.digest));
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  erofsfs::test::write_text(reg.blob_file(layer.digest), bytes);
  auto bad = c->read_blob(layer);
  REQUIRE_FALSE(bad);
  CHECK(std::string_view(bad.error().what) == what::oci_content_does_not_match_its_digest);
}

TEST_CASE("oci registry: a manifest corrupted in storage is refused by its digest") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto pushed = push(reg, "fixtures/mrot", "v1", erofs_layers({fixture_file("plain-b512")}));
  std::string bytes = erofsfs::test::read_text(reg.blob_file(pushed.manifest_digest));
  // Still a valid manifest (the registry parses it before serving it): the config size
  // written with one digit changed.
  const std::size_t at = bytes.find("\"size\":");
  REQUIRE(at != std::string::npos);
  char& digit = bytes[at + 7];
  digit = digit == '9' ? '8' : static_cast<char>(digit + 1);
  erofsfs::test::write_text(reg.blob_file(pushed.manifest_digest), bytes);
  for (const std::string& name : {std::string("fixtures/mrot:v1"), "fixtures/mrot@" + pushed.manifest_digest}) {
    CAPTURE(name);
    auto c = client(reg, name, options_for(reg));
    REQUIRE(c);
    auto m = c->resolve();
    REQUIRE_FALSE(m);
    CHECK(std::string_view(m.error().what) == what::oci_content_does_not_match_its_digest);
  }
}

TEST_CASE("oci registry: a manifest naming a wrong layer size is refused when the blob opens") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  auto pushed = push(reg, "fixtures/size", "v1", erofs_layers({fixture_file("plain-b512")}));
  auto c0 = client(reg, "fixtures/size:v1", options_for(reg));
  REQUIRE(c0);
  auto m0 = c0->resolve();
  REQUIRE(m0);
  const std::string size = "\"size\":" + std::to_string(m0->image.layers[0].size);
  std::string lie = pushed.manifest;
  const std::size_t at = lie.rfind(size);
  REQUIRE(at != std::string::npos);
  lie.replace(at, size.size(), "\"size\":" + std::to_string(m0->image.layers[0].size - 512));
  const int st = reg.put_manifest("fixtures/size", "lie", oci::media_type::oci_manifest, lie);
  if (st != 201) {
    MESSAGE("the registry refused the manifest with a wrong layer size (HTTP " << st << ")");
    return;
  }
  auto c = client(reg, "fixtures/size:lie", options_for(reg));
  REQUIRE(c);
  auto m = c->resolve();
  REQUIRE(m);
  auto s = c->open_blob(m->image.layers[0]);
  REQUIRE_FALSE(s);
  CHECK(std::string_view(s.error().what) == what::oci_blob_size_differs_from_its_descriptor);
  auto whole = c->read_blob(m->image.layers[0]);
  REQUIRE_FALSE(whole);
}

// --- htpasswd -------------------------------------------------------------------------------------

TEST_CASE("oci registry: htpasswd auth reads with the auth file's credentials") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::htpasswd);
  const std::string name = "plain-4k";
  push(reg, "private/img", "v1", erofs_layers({fixture_file(name)}));
  auto c = client(reg, "private/img:v1", options_for(reg, oci_registry::user, oci_registry::password));
  REQUIRE(c);
  check_same_as_fixture(*c, name);
}

TEST_CASE("oci registry: htpasswd auth refuses wrong credentials and their absence by name") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::htpasswd);
  push(reg, "private/img", "v1", erofs_layers({fixture_file("plain-4k")}));
  auto wrong = client(reg, "private/img:v1", options_for(reg, oci_registry::user, "nope"));
  REQUIRE(wrong);
  auto w = wrong->resolve();
  REQUIRE_FALSE(w);
  CHECK(std::string_view(w.error().what) == what::oci_registry_refused_the_credentials);
  auto anon = client(reg, "private/img:v1", options_for(reg));
  REQUIRE(anon);
  auto a = anon->resolve();
  REQUIRE_FALSE(a);
  CHECK(std::string_view(a.error().what) == what::oci_registry_requires_credentials);
}

// --- token ----------------------------------------------------------------------------------------

TEST_CASE("oci registry: token auth fetches a bearer token and reads the image") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::token);
  const std::string name = "lz4hc-ztailpacking";
  push(reg, "tok/img", "v1", erofs_layers({fixture_file(name)}));
  auto c = client(reg, "tok/img:v1", options_for(reg, oci_registry::user, oci_registry::password));
  REQUIRE(c);
  check_same_as_fixture(*c, name);
}

TEST_CASE("oci registry: token auth with wrong credentials is refused by the token service") {
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::token);
  push(reg, "tok/img", "v1", erofs_layers({fixture_file("plain-4k")}));
  for (const std::string& pw : {std::string("wrong"), std::string()}) {
    CAPTURE(pw);
    auto c = client(reg, "tok/img:v1", pw.empty() ? options_for(reg) : options_for(reg, oci_registry::user, pw));
    REQUIRE(c);
    auto m = c->resolve();
    REQUIRE_FALSE(m);
    CHECK(std::string_view(m.error().what) == what::oci_token_service_refused_the_credentials);
    CHECK(m.error().value == 401);
  }
}

// --- the erofsfs tool -------------------------------------------------------------------------

using erofsfs::test::run_result;

// Runs the tool with `args`, stdout and stderr captured, with REGISTRY_AUTH_FILE set to
// `auth_file` (or unset when empty) and HOME pointing at `tmp` so no real
// ~/.docker/config.json is read.
run_result run_tool(const std::vector<std::string>& args, const std::string& tmp,
                    const std::string& auth_file = "") {
  std::vector<std::string> all{EROFSFS_CLI};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view v = *e;
    if (v.substr(0, 19) != "REGISTRY_AUTH_FILE=" && v.substr(0, 5) != "HOME=" &&
        v.substr(0, 14) != "DOCKER_CONFIG=")
      env.emplace_back(v);
  }
  env.push_back("HOME=" + tmp);
  if (!auth_file.empty()) env.push_back("REGISTRY_AUTH_FILE=" + auth_file);
  run_result r = erofsfs::test::run_program(all, &env);
  REQUIRE_MESSAGE(r.spawned, r.err);
  return r;
}

#define EROFSFS_NEED_TOOL()                                  \
  if (std::string_view(EROFSFS_CLI).empty()) {               \
    MESSAGE("oci skipped: the erofsfs tool is not built");   \
    return;                                                  \
  }

// The tool on `url` prints what it prints for the local fixture: ls -lR, fsck, and extract
// recreates every file with the kernel's sha256; cat of the biggest file too.
void check_tool_matches(const std::string& url, const std::string& name,
                        const std::vector<std::string>& local_devices, const std::string& tmp,
                        const std::string& auth_file = "") {
  std::vector<std::string> dev_args;
  for (const std::string& d : local_devices) {
    dev_args.push_back("--device");
    dev_args.push_back(d);
  }
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"ls", "-lR"}, std::vector<std::string>{"fsck"},
        std::vector<std::string>{"info"}}) {
    CAPTURE(cmd[0]);
    std::vector<std::string> remote = cmd, here = cmd;
    remote.push_back(url);
    here.insert(here.end(), dev_args.begin(), dev_args.end());
    here.push_back(fixture_file(name));
    const run_result r = run_tool(remote, tmp, auth_file), l = run_tool(here, tmp);
    CAPTURE(r.err);
    CHECK(r.rc == 0);
    CHECK(r.rc == l.rc);
    if (cmd[0] != "info") CHECK(r.out == l.out);  // info names the device files
  }
  std::string err;
  auto kernel = erofsfs::test::load_manifest(images_dir + "/" + name + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(kernel, err);
  std::string biggest;
  std::uint64_t size = 0;
  for (const auto& kv : *kernel)
    if (kv.second.type == "file" && !kv.second.sha256.empty() && kv.second.size >= size) {
      biggest = kv.first;
      size = kv.second.size;
    }
  REQUIRE(!biggest.empty());
  const run_result cat = run_tool({"cat", url, biggest}, tmp, auth_file);
  CAPTURE(cat.err);
  CHECK(cat.rc == 0);
  CHECK(erofsfs::test::sha256::of(std::as_bytes(std::span(cat.out.data(), cat.out.size()))) ==
        kernel->at(biggest).sha256);
  const std::string dir = tmp + "/x";
  const run_result ex = run_tool({"extract", url, dir}, tmp, auth_file);
  CAPTURE(ex.err);
  REQUIRE(ex.rc == 0);
  std::size_t files = 0;
  for (const auto& kv : *kernel) {
    if (kv.second.type != "file" || kv.second.sha256.empty()) continue;
    ++files;
    CHECK_MESSAGE(erofsfs::test::sha256_file(dir + kv.first) == kv.second.sha256, kv.first);
  }
  CHECK(files > 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("oci registry: the erofsfs tool lists, reads, extracts and checks an oci:// image") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "lz4hc-ztailpacking";
  auto pushed = push(reg, "tool/one", "v1", erofs_layers({fixture_file(name)}));
  const std::string url = "oci://" + reg.host() + "/tool/one:v1";
  check_tool_matches(url, name, {}, reg.dir());
  // Pinned by its manifest digest, and the layer named by digest, read the same.
  const run_result pinned =
      run_tool({"ls", "oci://" + reg.host() + "/tool/one@" + pushed.manifest_digest + "#" +
                          pushed.layer_digests[0]},
               reg.dir());
  CHECK(pinned.rc == 0);
  CHECK(pinned.out == run_tool({"ls", fixture_file(name)}, reg.dir()).out);
  const run_result by_option =
      run_tool({"ls", "--layer", pushed.layer_digests[0], url}, reg.dir());
  CHECK(by_option.rc == 0);
  CHECK(by_option.out == pinned.out);
}

TEST_CASE("oci registry: the erofsfs tool reads a seekable zstd layer placed by its annotations") {
#ifndef EROFSFS_HAVE_ZSTD
  MESSAGE("codec skipped: seekable zstd layers need libzstd");
  return;
#else
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "lz4hc-ztailpacking";
  const std::vector<std::byte> image = file_bytes(fixture_file(name));
  REQUIRE(!image.empty());
  // 8 KiB chunks: a read touches a few frames of many.
  const auto layer = erofsfs::test::make_seekable_layer(image, 8192);
  const std::string file = reg.dir() + "/layer.erofs.zst";
  write_bytes(file, layer.blob);
  push(reg, "tool/zst", "v1",
       {{file, std::string(oci::media_type::erofs_layer_zstd),
         {{erofsfs::seekable_zstd::annotation_chunk_table_offset, std::to_string(layer.table_offset)},
          {erofsfs::seekable_zstd::annotation_chunk_table_digest, layer.table_digest}}}});
  check_tool_matches("oci://" + reg.host() + "/tool/zst:v1", name, {}, reg.dir());
#endif
}

TEST_CASE("oci registry: a seekable zstd layer whose table digest annotation is wrong is refused") {
#ifndef EROFSFS_HAVE_ZSTD
  MESSAGE("codec skipped: seekable zstd layers need libzstd");
  return;
#else
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::vector<std::byte> image = file_bytes(fixture_file("plain-4k"));
  REQUIRE(!image.empty());
  const auto layer = erofsfs::test::make_seekable_layer(image, 16384);
  const std::string file = reg.dir() + "/layer.erofs.zst";
  write_bytes(file, layer.blob);
  std::string wrong = layer.table_digest;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  push(reg, "tool/zstbad", "v1",
       {{file, std::string(oci::media_type::erofs_layer_zstd),
         {{erofsfs::seekable_zstd::annotation_chunk_table_offset, std::to_string(layer.table_offset)},
          {erofsfs::seekable_zstd::annotation_chunk_table_digest, wrong}}}});
  const run_result r = run_tool({"ls", "oci://" + reg.host() + "/tool/zstbad:v1"}, reg.dir());
  CAPTURE(r.err);
  CHECK(r.rc == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("seekable zstd") != std::string::npos);
#endif
}

TEST_CASE("oci registry: the erofsfs tool maps a multi-layer image's layers to its devices") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "rebuild-two-layers";
  const std::vector<std::string> devices{fixture_file(name, ".layer1.erofs"),
                                         fixture_file(name, ".layer2.erofs")};
  push(reg, "tool/layers", "v1", erofs_layers({fixture_file(name), devices[0], devices[1]}));
  check_tool_matches("oci://" + reg.host() + "/tool/layers:v1", name, devices, reg.dir());
}

TEST_CASE("oci registry: the erofsfs tool reads credentials from REGISTRY_AUTH_FILE") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::token);
  const std::string name = "plain-4k";
  push(reg, "tool/private", "v1", erofs_layers({fixture_file(name)}));
  const std::string url = "oci://" + reg.host() + "/tool/private:v1";
  check_tool_matches(url, name, {}, reg.dir(), reg.auth_file(oci_registry::user, oci_registry::password));
  const run_result denied = run_tool({"ls", url}, reg.dir(), reg.auth_file(oci_registry::user, "bad"));
  CHECK(denied.rc == 1);
  CHECK(denied.err.find(what::oci_token_service_refused_the_credentials) != std::string::npos);
}

TEST_CASE("oci registry: the erofsfs tool names a missing tag and a manifest without EROFS layers") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const run_result missing = run_tool({"ls", "oci://" + reg.host() + "/tool/none:v1"}, reg.dir());
  CHECK(missing.rc == 1);
  CHECK(missing.err.find(what::oci_manifest_not_found) != std::string::npos);
  push(reg, "tool/tar", "v1",
       {layout_layer{fixture_file("plain-4k"), "application/vnd.oci.image.layer.v1.tar", {}}});
  const run_result none = run_tool({"ls", "oci://" + reg.host() + "/tool/tar:v1"}, reg.dir());
  CHECK(none.rc == 1);
  CHECK(none.err.find(what::oci_manifest_has_no_erofs_layer) != std::string::npos);
}

}  // namespace

#endif  // EROFSFS_HAVE_CURL

#ifdef EROFSFS_HAVE_CURL
// --- serve-fanotify straight from the registry (host kernel, root, Linux 6.14+) ----------------

namespace {

// Runs `erofsfs serve-fanotify` on `args` (sources and their --sparse files) with --mount DIR,
// compares every regular file of the mount with the kernel manifest of fixture `name`, stops it
// with SIGTERM and checks it unmounted. False (with a MESSAGE) when this machine cannot run it.
bool serve_from_registry_matches(const std::vector<std::string>& args, const std::string& name,
                                 const std::string& tmp) {
  if (::geteuid() != 0) {
    MESSAGE("oci skipped: serve-fanotify needs root");
    return false;
  }
  const std::string mnt = tmp + "/mnt", log = tmp + "/serve.log";
  ::mkdir(mnt.c_str(), 0755);
  std::vector<std::string> all{EROFSFS_CLI, "serve-fanotify"};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--mount", mnt});
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  const int e = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(e == 0);
  bool up = false, exited = false;
  int status = 0;
  for (int i = 0; i < 1200 && !up && !exited; ++i) {  // bounded: about a minute
    up = erofsfs::test::read_text(log).find("mounted on") != std::string::npos;
    if (!up) {
      exited = ::waitpid(pid, &status, WNOHANG) == pid;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!up) {
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    const std::string text = erofsfs::test::read_text(log);
    if (text.find("fanotify") != std::string::npos &&
        (text.find("not supported") != std::string::npos || text.find("EINVAL") != std::string::npos ||
         text.find("Invalid argument") != std::string::npos)) {
      MESSAGE("oci skipped: this kernel has no fanotify pre-content events: " << text);
      return false;
    }
    FAIL("serve-fanotify did not mount: " << text);
  }
  std::string err;
  auto kernel = erofsfs::test::load_manifest(images_dir + "/" + name + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(kernel, err);
  std::size_t files = 0;
  for (const auto& kv : *kernel) {
    if (kv.second.type != "file" || kv.second.sha256.empty()) continue;
    ++files;
    CHECK_MESSAGE(erofsfs::test::sha256_file(mnt + kv.first) == kv.second.sha256, kv.first);
  }
  CHECK(files > 0);
  ::kill(pid, SIGTERM);
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(erofsfs::test::read_text("/proc/self/mountinfo").find(" " + mnt + " ") == std::string::npos);
  const std::string text = erofsfs::test::read_text(log);
  CAPTURE(text);
  CHECK(text.find("fill errors 0") != std::string::npos);
  return true;
}

}  // namespace

TEST_CASE("oci registry: serve-fanotify serves a pushed fixture lazily with every file's sha256 right") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "lz4hc-pcluster16k";
  push(reg, "serve/one", "v1", erofs_layers({fixture_file(name)}));
  serve_from_registry_matches(
      {"oci://" + reg.host() + "/serve/one:v1", "--sparse", reg.dir() + "/img.sparse"}, name,
      reg.dir());
}

TEST_CASE("oci registry: serve-fanotify serves a metadata image and its device layers from the registry") {
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "rebuild-two-layers";
  auto pushed = push(reg, "serve/layers", "v1",
                     erofs_layers({fixture_file(name), fixture_file(name, ".layer1.erofs"),
                                   fixture_file(name, ".layer2.erofs")}));
  REQUIRE(pushed.layer_digests.size() == 3);
  const std::string url = "oci://" + reg.host() + "/serve/layers:v1";
  serve_from_registry_matches({url, "--sparse", reg.dir() + "/img.sparse",
                               "--device", url + "#" + pushed.layer_digests[1], "--sparse",
                               reg.dir() + "/l1.sparse",
                               "--device", url + "#" + pushed.layer_digests[2], "--sparse",
                               reg.dir() + "/l2.sparse"},
                              name, reg.dir());
}

TEST_CASE("oci registry: serve-fanotify serves a seekable zstd layer from the registry") {
#ifndef EROFSFS_HAVE_ZSTD
  MESSAGE("codec skipped: seekable zstd layers need libzstd");
  return;
#else
  EROFSFS_NEED_TOOL();
  EROFSFS_NEED_REGISTRY(reg, oci_registry::auth::none);
  const std::string name = "lz4hc-pcluster16k";
  const auto layer = erofsfs::test::make_seekable_layer(file_bytes(fixture_file(name)), 65536);
  const std::string file = reg.dir() + "/layer.erofs.zst";
  write_bytes(file, layer.blob);
  push(reg, "serve/zst", "v1",
       {{file, std::string(oci::media_type::erofs_layer_zstd),
         {{erofsfs::seekable_zstd::annotation_chunk_table_offset, std::to_string(layer.table_offset)},
          {erofsfs::seekable_zstd::annotation_chunk_table_digest, layer.table_digest}}}});
  serve_from_registry_matches(
      {"oci://" + reg.host() + "/serve/zst:v1", "--sparse", reg.dir() + "/img.sparse"}, name,
      reg.dir());
#endif
}
#endif
