// Fuzz target: one cachefiles on-demand message, as read(2) from /dev/cachefiles returned it.
// The parser must accept or refuse it without touching bytes outside the input, and the
// daemon (against the fake kernel, serving an in-memory blob) must answer whatever it accepts
// without crashing, hanging or leaking fds.
#include <cstddef>
#include <cstdint>
#include <erofsfs/backends/fscache/daemon.hpp>
#include <erofsfs/backends/fscache/protocol.hpp>
#include <vector>

#include "support/fake_cachefiles.hpp"

namespace fs = erofsfs::fscache;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);
  auto m = fs::parse_message(bytes);
  if (m) {
    // Accepted views must lie inside the input.
    if (m->op == fs::opcode::open) {
      const char* lo = reinterpret_cast<const char*>(bytes.data());
      const char* hi = lo + bytes.size();
      if (m->open.volume_key.data() < lo || m->open.cookie_key.data() + m->open.cookie_key.size() > hi)
        __builtin_trap();
    }
  }

  // The daemon side: an OPEN for a known blob first (so READs hit a live object), then the
  // input. Malformed OPENs are never acted on by fd number, so the input's fd field is safe.
  static const std::vector<std::byte> blob_bytes(64 * 1024, std::byte{0x5a});
  erofsfs::test::fake_cachefiles k;
  fs::daemon_options opt;
  opt.buffer_size = 16384;
  auto d = fs::basic_daemon<erofsfs::test::fake_cachefiles>::create(
      k,
      [](std::string_view, std::string_view cookie) -> erofsfs::result<fs::blob> {
        if (cookie != "b") return erofsfs::make_error(erofsfs::errc::not_found, "no blob");
        fs::blob b;
        static const erofsfs::memory_source src(blob_bytes.data(), blob_bytes.size());
        b.source = src;
        b.size = blob_bytes.size();
        return b;
      },
      opt);
  if (!d) __builtin_trap();
  k.queue_open("erofs,b", "b");
  (void)d->handle_ready();
  // A well-formed OPEN from the input would carry an fd number that is not ours; only feed
  // the daemon inputs that are not valid OPENs (valid ones are covered by the parser check).
  if (!(m && m->op == fs::opcode::open)) d->handle_message(bytes);
  return 0;
}
