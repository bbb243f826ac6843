// Opens the image for the run checks (see check.hpp). Built as a shared library with hidden
// visibility: only header_check_open is exported.
#include <erofsfs/erofsfs.hpp>

#include <fstream>
#include <iterator>
#include <vector>

#include "check.hpp"

__attribute__((visibility("default"))) const header_check_input* header_check_open(
    const char* path) {
  static std::vector<std::byte> bytes;
  static erofsfs::memory_source src;
  static erofsfs::image img;
  static erofsfs::inode root, file;
  static erofsfs::extent file_extent;
  static std::vector<std::byte> root_block;
  static header_check_input in;
  std::ifstream f(path, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  bytes.resize(chars.size());
  for (std::size_t i = 0; i < chars.size(); ++i) bytes[i] = static_cast<std::byte>(chars[i]);
  src = erofsfs::memory_source(bytes);
  auto opened = erofsfs::open_image(src);
  if (!opened) {
    std::fprintf(stderr, "%s: %s\n", path, opened.error().message().c_str());
    return nullptr;
  }
  img = std::move(*opened);
  erofsfs::read_context ctx;
  auto r = erofsfs::read_inode(img, img.sb().root_nid);
  auto fi = erofsfs::resolve_path(img, header_check_file, ctx);
  if (!r || !fi) {
    std::fprintf(stderr, "%s: no root or no %s\n", path, header_check_file);
    return nullptr;
  }
  root = *r;
  file = *fi;
  // The file's first encoded extent (its head may be stored plain).
  erofsfs::extent_iterator it(img, file);
  bool found = false;
  for (int i = 0; i < 1000 && !found; ++i) {  // bounded: the file has a few extents
    auto more = it.next(file_extent);
    if (!more || !*more) break;
    found = file_extent.kind == erofsfs::extent_kind::encoded;
  }
  root_block.resize(img.block_size());
  auto n = erofsfs::read(img, root, 0, root_block, ctx);
  if (!found || !n) {
    std::fprintf(stderr, "%s: cannot map %s or read the root\n", path, header_check_file);
    return nullptr;
  }
  root_block.resize(*n);
  in.path = path;
  in.bytes = bytes;
  in.img = &img;
  in.root = &root;
  in.file = &file;
  in.file_extent = &file_extent;
  in.root_block = root_block;
  return &in;
}
