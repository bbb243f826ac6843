// erofsfs/backends/fscache/daemon.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fscache/daemon.hpp>

#include "support/fake_cachefiles.hpp"  // the fake kernel device (tests only)

#include "check.hpp"

int header_check(const header_check_input& in) {
  // The daemon against the tests' fake kernel, serving the image file as a blob.
  namespace fs = erofsfs::fscache;
  static const erofsfs::memory_source src(in.bytes);
  erofsfs::test::fake_cachefiles k;
  auto d = fs::basic_daemon<erofsfs::test::fake_cachefiles>::create(
      k, [&](std::string_view, std::string_view) -> erofsfs::result<fs::blob> { return fs::make_blob(src); });
  HEADER_EXPECT(d);
  const std::uint32_t oid = k.queue_open("erofs,img", "img");
  HEADER_EXPECT(d->handle_ready());
  k.queue_read(oid, 0, 8192);
  HEADER_EXPECT(d->handle_ready() && k.completions().size() == 1);
  const auto cached = k.cache_bytes(oid, 1024, 4);
  HEADER_EXPECT(cached.size() == 4 && cached[0] == std::byte{0xE2});
  return 0;
}
