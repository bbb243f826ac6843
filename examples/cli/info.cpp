// `erofsfs info IMG`: the superblock in readable form, with feature names as dump.erofs prints
// them.
#include "common.hpp"

namespace erofsfs::cli {

namespace {

struct feature_name {
  std::uint32_t bit;
  const char* name;
};

// Some incompat bits have two names (one per feature that introduced them).
constexpr feature_name compat_names[] = {
    {disk::compat_sb_chksum, "sb_csum"},
    {disk::compat_mtime, "mtime"},
    {disk::compat_xattr_filter, "xattr_filter"},
    {disk::compat_shared_ea_in_metabox, "shared_ea_in_metabox"},
    {disk::compat_plain_xattr_pfx, "plain_xattr_pfx"},
    {disk::compat_ishare_xattrs, "ishare_xattrs"},
};
constexpr feature_name incompat_names[] = {
    {disk::incompat_lz4_0padding, "lz4_0padding"},
    {disk::incompat_compr_cfgs, "compr_cfgs"},
    {disk::incompat_big_pcluster, "big_pcluster"},
    {disk::incompat_chunked_file, "chunked_file"},
    {disk::incompat_device_table, "device_table"},
    {disk::incompat_ztailpacking, "ztailpacking"},
    {disk::incompat_fragments, "fragments"},
    {disk::incompat_dedupe, "dedupe"},
    {disk::incompat_xattr_prefixes, "xattr_prefixes"},
    {disk::incompat_48bit, "48bit"},
    {disk::incompat_metabox, "metabox"},
};

template <std::size_t N>
std::string feature_list(std::uint32_t bits, const feature_name (&names)[N]) {
  std::string s;
  std::uint32_t known = 0;
  for (const auto& f : names) {
    known |= f.bit;
    if (bits & f.bit) {
      if (!s.empty()) s += ' ';
      s += f.name;
    }
  }
  if (bits & ~known) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%sunknown(0x%x)", s.empty() ? "" : " ", bits & ~known);
    s += buf;
  }
  return s.empty() ? "(none)" : s;
}

std::string uuid_string(const std::array<std::uint8_t, 16>& u) {
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

}  // namespace

int run_info(int argc, char** argv) {
  args a;
  if (int rc = parse_args(argc, argv, {}, 1, 1, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  const superblock& sb = o->img.sb();

  std::printf("block size: %" PRIu32 "\n", sb.block_size);
  std::printf("compat features: %s\n", feature_list(sb.feature_compat, compat_names).c_str());
  std::printf("incompat features: %s\n",
              feature_list(sb.feature_incompat, incompat_names).c_str());
  std::printf("uuid: %s\n", uuid_string(sb.uuid).c_str());
  std::printf("volume name: \"%s\"\n", escape_value(sb.volume_name()).c_str());
  // build_time counts from the epoch (6.15+); older images keep the build time in epoch itself.
  const std::int64_t built = sb.epoch + static_cast<std::int64_t>(sb.build_time);
  std::printf("build time: %" PRId64 " (%s UTC)\n", built, utc_time(built).c_str());
  std::printf("epoch: %" PRId64 "\n", sb.epoch);
  std::printf("inodes: %" PRIu64 "\n", sb.inos);
  std::printf("blocks: %" PRIu64 "\n", sb.blocks);
  std::printf("root nid: %" PRIu64 "\n", sb.root_nid);
  std::printf("meta blkaddr: %" PRIu32 "\n", sb.meta_blkaddr);
  std::printf("xattr blkaddr: %" PRIu32 "\n", sb.xattr_blkaddr);
  if (sb.has_packed_inode()) std::printf("packed nid: %" PRIu64 "\n", sb.packed_nid);
  if (sb.has_metabox()) std::printf("metabox nid: %" PRIu64 "\n", sb.metabox_nid);
  if (sb.xattr_prefix_count)
    std::printf("long xattr prefixes: %u\n", unsigned{sb.xattr_prefix_count});

  const auto devs = o->img.device_table();
  std::printf("devices: %zu\n", devs.size());
  for (std::size_t i = 0; i < devs.size(); ++i) {
    std::printf("  device %zu: tag \"%s\", blocks %" PRIu64 ", uniaddr %" PRIu64, i + 1,
                escape_value(devs[i].tag()).c_str(), devs[i].blocks, devs[i].uniaddr);
    if (i < o->device_paths.size()) std::printf(", file %s", escape(o->device_paths[i]).c_str());
    std::printf("\n");
  }

  std::string algs;
  const compression_configs& cc = sb.compression;
  for (unsigned alg = 0; alg < disk::compression_max; ++alg) {
    if (!(sb.available_compr_algs & (1u << alg))) continue;
    char buf[96] = "";
    switch (alg) {
      case disk::compression_lz4:
        std::snprintf(buf, sizeof buf, " (max distance %u, max pcluster blocks %u)",
                      unsigned{cc.lz4_max_distance}, unsigned{cc.lz4_max_pclusterblks});
        break;
      case disk::compression_lzma:
        std::snprintf(buf, sizeof buf, " (dictionary %" PRIu32 ")", cc.lzma_dict_size);
        break;
      case disk::compression_deflate:
        std::snprintf(buf, sizeof buf, " (window bits %u)", unsigned{cc.deflate_windowbits});
        break;
      case disk::compression_zstd:
        std::snprintf(buf, sizeof buf, " (window log %u)", unsigned{cc.zstd_windowlog});
        break;
    }
    if (!algs.empty()) algs += ", ";
    algs += algorithm_name(alg);
    algs += buf;
  }
  std::printf("compression: %s\n", algs.empty() ? "none" : algs.c_str());
  return exit_ok;
}

}  // namespace erofsfs::cli
