// erofsfs/backends/fuse/nodeid.hpp alone: its entry points link and work on a real image.
#include <erofsfs/backends/fuse/nodeid.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  // The image's root nid, from the superblock (nodeid.hpp knows nothing of inodes).
  const std::uint64_t root = static_cast<std::uint64_t>(in.bytes[1024 + 14]) |
                             static_cast<std::uint64_t>(in.bytes[1024 + 15]) << 8;
  auto node = erofsfs::fuse::node_id_of(root, root);
  HEADER_EXPECT(node && *node == erofsfs::fuse::root_node_id);
  auto back = erofsfs::fuse::nid_of(*node, root);
  HEADER_EXPECT(back && *back == root);
  auto other = erofsfs::fuse::node_id_of(root + 1, root);
  HEADER_EXPECT(other && *other == root + 3);  // plain nid n is node n + 2
  HEADER_EXPECT(!erofsfs::fuse::nid_of(0, root));
  return 0;
}
