// offset_source: an EROFS image that starts at byte N of a bigger file reads exactly like the
// image on its own, and no read leaves the window, whatever the offset and length asked for.
#include <doctest/doctest.h>

#include <erofsfs/erofsfs.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "support/manifest.hpp"

using namespace erofsfs;

namespace {

std::vector<std::byte> load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// `image` with `before` bytes of 0xA5 in front of it and `after` bytes of 0x5A behind it.
std::vector<std::byte> embed(const std::vector<std::byte>& image, std::size_t before,
                             std::size_t after) {
  // Sized once and copied into: g++ 12 warns falsely (array-bounds) about vector::insert here.
  std::vector<std::byte> all(before + image.size() + after, std::byte{0x5A});
  std::fill_n(all.begin(), before, std::byte{0xA5});
  if (!image.empty()) std::memcpy(all.data() + before, image.data(), image.size());
  return all;
}

// A source with nothing but read_at (no size, no bytes), like a remote object.
struct unsized_source {
  const std::vector<std::byte>* data;
  std::error_code read_at(std::uint64_t off, std::span<std::byte> dst) const noexcept {
    if (!in_bounds(off, dst.size(), data->size())) return make_error_code(errc::truncated);
    if (!dst.empty()) std::memcpy(dst.data(), data->data() + off, dst.size());
    return {};
  }
};

}  // namespace

TEST_CASE("offset_source: an image embedded at an odd offset reads as its manifest says") {
  const std::string dir = test::fixture_dir("plain-4k");
  const auto image_bytes = load_file(dir + "/plain-4k.erofs");
  const auto file = embed(image_bytes, 3 * 4096 + 1234, 777);
  memory_source whole(file);
  auto window = offset_source::create(whole, 3 * 4096 + 1234, image_bytes.size());
  REQUIRE(window);
  CHECK(window->size() == image_bytes.size());
  CHECK(window->bytes().data() == file.data() + 3 * 4096 + 1234);  // metadata parsed in place
  auto img = open_image(*window);
  REQUIRE_MESSAGE(img, img.error().message());
  auto actual = test::entries_from_image(*img);
  REQUIRE_MESSAGE(actual, actual.error().message());
  std::string err;
  auto expected = test::load_manifest(dir + "/manifest.jsonl", err);
  REQUIRE_MESSAGE(expected, err);
  const auto diffs = test::compare_manifests(*expected, *actual);
  CHECK_MESSAGE(diffs.empty(), (diffs.empty() ? std::string() : diffs.front()));
}

TEST_CASE("offset_source: without a length the window runs to the end of its source") {
  std::vector<std::byte> file(100, std::byte{1});
  memory_source whole(file);
  auto window = offset_source::create(whole, 60);
  REQUIRE(window);
  CHECK(window->size() == 40);
  CHECK(window->offset() == 60);
  auto empty = offset_source::create(whole, 100);
  REQUIRE(empty);
  CHECK(empty->size() == 0);
}

TEST_CASE("offset_source: a read past the window is truncated, not the bytes after it") {
  std::vector<std::byte> file(64);
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = std::byte(i);
  memory_source whole(file);
  auto window = offset_source::create(whole, 16, 32);
  REQUIRE(window);
  std::byte b[8];
  CHECK_FALSE(window->read_at(24, b));
  CHECK(b[0] == std::byte{40});
  CHECK(window->read_at(25, b) == errc::truncated);  // would reach byte 48, the window's end
  CHECK(window->read_at(32, std::span(b, 1)) == errc::truncated);
  CHECK(window->read_at(std::numeric_limits<std::uint64_t>::max() - 2, b) == errc::truncated);
  CHECK_FALSE(window->read_at(32, std::span(b, 0)));  // an empty read at the end is fine
}

TEST_CASE("offset_source: a window outside its source or wrapping around is refused") {
  std::vector<std::byte> file(100);
  memory_source whole(file);
  auto past = offset_source::create(whole, 101);
  REQUIRE_FALSE(past);
  CHECK(past.error().code == errc::invalid_argument);
  CHECK(past.error().what == what::offset_source_window_past_the_end_of_its_source);
  auto too_long = offset_source::create(whole, 50, 51);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().what == what::offset_source_window_past_the_end_of_its_source);
  unsized_source remote{&file};
  auto wraps = offset_source::create(remote, 16, std::numeric_limits<std::uint64_t>::max());
  REQUIRE_FALSE(wraps);
  CHECK(wraps.error().what == what::offset_source_window_past_the_end_of_its_source);
}

TEST_CASE("offset_source: an unsized source needs a length and is read through read_at") {
  std::vector<std::byte> file(64, std::byte{7});
  unsized_source remote{&file};
  auto no_length = offset_source::create(remote, 8);
  REQUIRE_FALSE(no_length);
  CHECK(no_length.error().what == what::offset_source_needs_a_sized_source_or_a_length);
  auto window = offset_source::create(remote, 8, 16);
  REQUIRE(window);
  CHECK(window->bytes().data() == nullptr);
  std::byte b[16];
  CHECK_FALSE(window->read_at(0, b));
  CHECK(b[15] == std::byte{7});
}
