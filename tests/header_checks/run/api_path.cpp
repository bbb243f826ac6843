// erofsfs/api/path.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/path.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  erofsfs::read_context ctx;
  auto f = erofsfs::resolve_path(img, header_check_file, ctx);
  HEADER_EXPECT(f && f->nid == in.file->nid);
  auto link = erofsfs::resolve_path(img, "/links/sym-dir", ctx);
  auto dir = erofsfs::resolve_path(img, "/links/sym-dir", ctx, true);
  HEADER_EXPECT(link && link->is_symlink() && dir && dir->is_dir());
  HEADER_EXPECT(erofsfs::resolve_path(img, "/no/such", ctx).error().code == erofsfs::errc::not_found);
  return 0;
}
