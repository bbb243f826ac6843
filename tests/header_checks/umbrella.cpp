// The umbrella header plus every optional header family, in one TU, with -fno-exceptions
// -fno-rtti: the whole public surface must be usable by such builds.
#include <erofsfs/erofsfs.hpp>
#include <erofsfs/io/fd_source.hpp>
#include <erofsfs/io/mmap_source.hpp>

#if defined(__cpp_exceptions) || defined(__cpp_rtti)
#error "header checks must build with -fno-exceptions -fno-rtti"
#endif

// Instantiates the templates a typical caller uses, so their bodies are checked too.
namespace {
[[maybe_unused]] erofsfs::status walk_everything(const erofsfs::image& img) {
  erofsfs::read_context ctx;
  return erofsfs::walk(img, ctx, [&](const erofsfs::walk_entry& e) -> erofsfs::status {
    std::vector<std::byte> data;
    if (e.ino.is_regular()) return erofsfs::read_all(img, e.ino, data, ctx);
    return {};
  });
}
}  // namespace
