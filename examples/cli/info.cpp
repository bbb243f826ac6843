// `erofsfs info IMG`: the superblock in readable form, with feature names as dump.erofs prints
// them (or as one JSON object with --json).
#include "common.hpp"
#include "json.hpp"

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

// The names of the set bits, in table order.
template <std::size_t N>
std::vector<const char*> feature_names(std::uint32_t bits, const feature_name (&names)[N]) {
  std::vector<const char*> out;
  for (const auto& f : names)
    if (bits & f.bit) out.push_back(f.name);
  return out;
}

// Set bits no table row names.
template <std::size_t N>
std::uint32_t unknown_features(std::uint32_t bits, const feature_name (&names)[N]) {
  for (const auto& f : names) bits &= ~f.bit;
  return bits;
}

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

// One JSON object with the same facts as the text output.
int print_json(const opened_image& o) {
  const superblock& sb = o.img.sb();
  auto names = [](const std::vector<const char*>& list) {
    json::array arr;
    for (const char* n : list) arr.add(json::quote(n));
    return arr.str();
  };
  json::object j;
  j.number("block_size", sb.block_size)
      .raw("compat_features", names(feature_names(sb.feature_compat, compat_names)))
      .number("compat_unknown_bits", unknown_features(sb.feature_compat, compat_names))
      .raw("incompat_features", names(feature_names(sb.feature_incompat, incompat_names)))
      .number("incompat_unknown_bits", unknown_features(sb.feature_incompat, incompat_names))
      .string("uuid", uuid_string(sb.uuid))
      .string("volume_name", sb.volume_name())
      .number("build_time", sb.epoch + static_cast<std::int64_t>(sb.build_time))
      .number("epoch", sb.epoch)
      .number("inodes", sb.inos)
      .number("blocks", sb.blocks)
      .number("root_nid", sb.root_nid)
      .number("meta_blkaddr", sb.meta_blkaddr)
      .number("xattr_blkaddr", sb.xattr_blkaddr);
  if (sb.has_packed_inode())
    j.number("packed_nid", sb.packed_nid);
  else
    j.null("packed_nid");
  if (sb.has_metabox())
    j.number("metabox_nid", sb.metabox_nid);
  else
    j.null("metabox_nid");
  j.number("long_xattr_prefixes", unsigned{sb.xattr_prefix_count});
  json::array devices;
  const auto devs = o.img.device_table();
  for (std::size_t i = 0; i < devs.size(); ++i) {
    json::object d;
    d.number("device", i + 1)
        .string("tag", devs[i].tag())
        .number("blocks", devs[i].blocks)
        .number("uniaddr", devs[i].uniaddr);
    if (i < o.device_paths.size())
      d.string("file", o.device_paths[i]);
    else
      d.null("file");
    devices.add(d.str());
  }
  j.raw("devices", devices.str());
  json::array algs;
  const compression_configs& cc = sb.compression;
  for (unsigned alg = 0; alg < disk::compression_max; ++alg) {
    if (!(sb.available_compr_algs & (1u << alg))) continue;
    json::object a;
    a.string("algorithm", algorithm_name(alg));
    switch (alg) {
      case disk::compression_lz4:
        a.number("max_distance", unsigned{cc.lz4_max_distance})
            .number("max_pcluster_blocks", unsigned{cc.lz4_max_pclusterblks});
        break;
      case disk::compression_lzma: a.number("dictionary_size", cc.lzma_dict_size); break;
      case disk::compression_deflate: a.number("window_bits", unsigned{cc.deflate_windowbits}); break;
      case disk::compression_zstd: a.number("window_log", unsigned{cc.zstd_windowlog}); break;
    }
    algs.add(a.str());
  }
  j.raw("compression", algs.str());
  json::array decoders;
  std::string_view list = decoder_names();
  while (!list.empty()) {  // bounded: list shrinks every pass
    const std::size_t sp = list.find(' ');
    decoders.add(json::quote(list.substr(0, sp)));
    list = sp == std::string_view::npos ? std::string_view() : list.substr(sp + 1);
  }
  j.raw("decoders", decoders.str());
  json::print_line(j);
  return exit_ok;
}

int run_info(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  if (a.has("json")) return print_json(*o);
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
  std::printf("decoders in this build: %s\n", decoder_names());
  return exit_ok;
}

constexpr option_def options[] = {
    common::json,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}};

}  // namespace

const command_spec info_command{
    "info", "superblock summary: block size, features, uuid, counts, devices, compression",
    options, common::image_options, positionals, run_info};

}  // namespace erofsfs::cli
