// Opens an image and reads one file: usage `consumer IMAGE PATH EXPECTED_SIZE`.
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/mmap_source.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  static_assert(EROFSFS_VERSION_MAJOR >= 0, "version.hpp is reachable through the package");
  auto src = erofsfs::mmap_source::open(argv[1]);
  if (!src) return std::fprintf(stderr, "%s\n", src.error().message().c_str()), 1;
  auto img = erofsfs::open_image(*src);
  if (!img) return std::fprintf(stderr, "%s\n", img.error().message().c_str()), 1;
  erofsfs::read_context ctx;
  auto ino = erofsfs::resolve_path(*img, argv[2], ctx);
  if (!ino) return std::fprintf(stderr, "%s\n", ino.error().message().c_str()), 1;
  std::vector<std::byte> data;
  if (auto st = erofsfs::read_all(*img, *ino, data, ctx); !st)
    return std::fprintf(stderr, "%s\n", st.error().message().c_str()), 1;
  const unsigned long long want = std::strtoull(argv[3], nullptr, 10);
  std::printf("%s: %zu bytes\n", argv[2], data.size());
  return data.size() == want ? 0 : 1;
}
