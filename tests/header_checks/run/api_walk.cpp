// erofsfs/api/walk.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/walk.hpp>

#include <string_view>

#include "check.hpp"

int header_check(const header_check_input& in) {
  const erofsfs::image& img = *in.img;
  erofsfs::read_context ctx;
  unsigned all = 0, below = 0;
  HEADER_EXPECT(erofsfs::walk(img, ctx, [&](const erofsfs::walk_entry&) -> erofsfs::status {
    ++all;
    return {};
  }));
  auto data = erofsfs::read_inode(img, in.root->nid);
  HEADER_EXPECT(data);
  HEADER_EXPECT(erofsfs::walk_from(img, in.root->nid, ctx, [&](const erofsfs::walk_entry&) -> erofsfs::status {
    ++below;
    return {};
  }));
  struct counter {
    unsigned entered = 0, left = 0, problems = 0;
    erofsfs::result<bool> enter(const erofsfs::walk_entry& e) {
      ++entered;
      return e.ino.is_dir();
    }
    void leave(const erofsfs::walk_entry&) { ++left; }
    void problem(std::string_view, const erofsfs::error&) { ++problems; }
  } v;
  erofsfs::walk_options opt;
  opt.on_error = erofsfs::walk_errors::report;
  opt.check_dot_entries = true;
  HEADER_EXPECT(erofsfs::walk_tree(img, *in.root, "/", ctx, v, opt));
  HEADER_EXPECT(all > 100 && below == all && v.entered == all && v.left > 0 && v.problems == 0);
  return 0;
}
