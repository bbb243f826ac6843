// erofsfs/decode/decoded_cache.hpp alone: its entry points link and work on a real image.
#include <erofsfs/decode/decoded_cache.hpp>

#include <cstring>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const auto token = std::make_shared<int>(0);
  erofsfs::decoded_cache cache(4 * (4096 + erofsfs::decoded_cache::entry_overhead), 1);
  HEADER_EXPECT(cache.shard_count() == 1 && cache.budget() > 0);
  auto make = [&](std::size_t at) {
    auto b = erofsfs::decoded_buffer::make(4096);
    std::memcpy(b->fill().data(), in.bytes.data() + at, 4096);
    return erofsfs::decoded_ref(b);
  };
  erofsfs::decoded_cache_key k{.image = token.get(), .physical = 0, .physical_length = 4096,
                               .length = 4096};
  HEADER_EXPECT(!cache.find(k));
  HEADER_EXPECT(cache.insert(k, token, make(0)));
  HEADER_EXPECT(!cache.insert(k, token, make(0)));  // present already
  auto hit = cache.find(k);
  HEADER_EXPECT(hit && hit->size() == 4096 && hit->bytes()[1024] == std::byte{0xE2});
  // More than the budget holds: entries not read since the sweep passed them go; k was read.
  for (std::uint64_t i = 1; i <= 6; ++i) {
    erofsfs::decoded_cache_key ki = k;
    ki.physical = i * 4096;
    HEADER_EXPECT(cache.insert(ki, token, make(0)));
  }
  auto s = cache.stats();
  HEADER_EXPECT(s.insertions == 7 && s.evictions == 3 && s.entries == 4 && s.hits == 1);
  HEADER_EXPECT(s.bytes <= cache.budget());
  HEADER_EXPECT(cache.find(k));
  // Too big for a shard, or with the wrong token: not kept.
  HEADER_EXPECT(!cache.insert(k, token, erofsfs::decoded_buffer::make(1 << 20)));
  HEADER_EXPECT(!cache.insert(k, std::make_shared<int>(1), make(0)));
  cache.forget(token.get());
  HEADER_EXPECT(cache.stats().entries == 0);
  cache.clear();
  return 0;
}
