// erofsfs/api/directory.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/directory.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  erofsfs::read_context ctx;
  erofsfs::dir_reader r(img, *in.root, ctx);
  erofsfs::dir_entry e;
  unsigned entries = 0;
  for (auto more = r.next(e); more && *more && entries < 1000; more = r.next(e)) ++entries;
  HEADER_EXPECT(entries >= 3 && r.dir().nid == in.root->nid);
  auto data = erofsfs::lookup(img, *in.root, "data", ctx);
  HEADER_EXPECT(data && data->type == erofsfs::file_type::directory);
  HEADER_EXPECT(erofsfs::lookup(img, *in.root, "no-such-name", ctx).error().code == erofsfs::errc::not_found);
  return 0;
}
