// fanotify event fuzz target: the input is a read(2) buffer from a fanotify descriptor. The
// reader must frame it without reading out of bounds or looping, and every event it accepts
// must satisfy the parser's contract. Ranges from accepted events then drive an interval_set
// (with a small cap) whose invariants are checked after every insert. A violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <erofsfs/base/error.hpp>
#include <erofsfs/backends/fanotify/event.hpp>
#include <erofsfs/backends/fanotify/intervals.hpp>

namespace {

using namespace erofsfs;
using namespace erofsfs::fanotify;

void check_set(const interval_set& s, std::uint64_t a, std::uint64_t b, bool inserted) {
  if (inserted && !s.contains(a, b)) std::abort();
  bool gap = false;
  std::uint64_t prev_end = a;
  s.for_each_gap(a, b, [&](std::uint64_t x, std::uint64_t y) {
    if (x >= y || x < prev_end || y > b) std::abort();  // ordered, non-empty, inside [a, b)
    prev_end = y;
    gap = true;
  });
  if (inserted && gap) std::abort();
  if (s.size() > 64) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bytes_view buf(reinterpret_cast<const std::byte*>(data), size);
  event_reader rd(buf);
  interval_set set(64);
  event e;
  std::size_t last = 0;
  for (std::size_t n = 0;; ++n) {
    if (n > size / abi::metadata_size) std::abort();  // each event takes >= 24 bytes
    auto more = rd.next(e);
    if (!more) {
      if (more.error().code != errc::protocol_error) std::abort();
      if (more.error().offset > size) std::abort();
      break;
    }
    if (!*more) {
      if (rd.position() != size) std::abort();
      break;
    }
    if (rd.position() < last + abi::metadata_size || rd.position() > size) std::abort();
    last = rd.position();
    if (e.has_range) {
      if (e.offset + e.count < e.offset) std::abort();
      // Scale the range down so inserts overlap and merge instead of scattering.
      const std::uint64_t a = e.offset % 4096, b = a + e.count % 512;
      const std::uint64_t before = set.bytes();
      const bool ok = static_cast<bool>(set.insert(a, b));
      if (ok && set.bytes() < before) std::abort();
      check_set(set, a, b, ok);
    }
  }
  return 0;
}
