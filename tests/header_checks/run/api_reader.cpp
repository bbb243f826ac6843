// erofsfs/api/reader.hpp alone: its entry points link and work on a real image.
#include <erofsfs/api/reader.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  erofsfs::reader fs(*in.img);
  HEADER_EXPECT(&fs.img() == in.img);
  (void)fs.context();
  auto root = fs.root();
  auto same = fs.inode_at(in.root->nid);
  HEADER_EXPECT(root && same && root->nid == same->nid);
  auto f = fs.open(header_check_file);
  auto link = fs.stat("/links/sym-rel");
  HEADER_EXPECT(f && link && link->is_symlink());
  std::byte buf[64];
  auto n = fs.read(*f, 0, buf);
  HEADER_EXPECT(n && *n == 64);
  auto by_path = fs.read_file(header_check_file);
  auto by_inode = fs.read_file(*f);
  HEADER_EXPECT(by_path && by_inode && by_path->size() == header_check_file_size && *by_path == *by_inode);
  auto target = fs.read_link(*link);
  HEADER_EXPECT(target && !target->empty());
  HEADER_EXPECT(fs.lookup(*root, "data"));
  erofsfs::dir_reader d = fs.open_dir(*root);
  erofsfs::dir_entry e;
  HEADER_EXPECT(d.next(e));
  unsigned entries = 0, walked = 0;
  HEADER_EXPECT(fs.for_each_entry(*root, [&](const erofsfs::dir_entry&) -> erofsfs::status {
    ++entries;
    return {};
  }));
  HEADER_EXPECT(fs.walk([&](const erofsfs::walk_entry&) -> erofsfs::status {
    ++walked;
    return {};
  }));
  HEADER_EXPECT(entries > 0 && walked > entries);
  auto xs = fs.xattrs(*root);
  HEADER_EXPECT(xs && xs->size() == 1 && fs.xattr_value(*root, "user.root"));
  HEADER_EXPECT(fs.map(*f, 0));
  erofsfs::extent x;
  auto it = fs.extents(*f);
  HEADER_EXPECT(it.next(x));
  return 0;
}
