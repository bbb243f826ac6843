// `erofsfs map IMG PATH`: the extent table of one file (FIEMAP-like: neighbouring extents that
// continue each other are merged), with devices already resolved.
#include "common.hpp"

namespace erofsfs::cli {

namespace {

std::string flag_names(std::uint8_t flags) {
  static constexpr std::pair<std::uint8_t, const char*> names[] = {
      {extent_flags::in_metabox, "in_metabox"},
      {extent_flags::in_metadata, "in_metadata"},
      {extent_flags::partial_ref, "partial_ref"},
      {extent_flags::interlaced, "interlaced"},
  };
  std::string s;
  for (const auto& [bit, name] : names)
    if (flags & bit) {
      if (!s.empty()) s += ',';
      s += name;
    }
  return s.empty() ? "-" : s;
}

}  // namespace

int run_map(int argc, char** argv) {
  args a;
  if (int rc = parse_args(argc, argv, {}, 2, 2, a); rc >= 0) return rc;
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  read_context ctx;
  const std::string& path = a.positional[1];
  auto ino = resolve_path(o->img, path, ctx, false);
  if (!ino) {
    report(a.cmd, path, ino.error());
    return exit_problem;
  }
  if (!ino->has_data()) {
    report(a.cmd, path + ": " + file_type_name(ino->type()) + " has no data");
    return exit_problem;
  }
  std::printf("%12s %12s %-8s %6s %14s %12s %-10s %s\n", "logical", "length", "kind", "device",
              "physical", "phys_length", "algorithm", "flags");
  extent_iterator it(o->img, *ino);
  extent e;
  while (true) {  // bounded: the iterator advances through the file and stops at its end
    auto more = it.next(e);
    if (!more) {
      report(a.cmd, path, more.error());
      return exit_problem;
    }
    if (!*more) break;
    const bool stored = e.kind != extent_kind::hole;
    const bool on_device = e.kind == extent_kind::mapped || e.kind == extent_kind::encoded;
    char device[16] = "-", physical[24] = "-", plen[24] = "-";
    if (on_device && !(e.flags & extent_flags::in_metadata))
      std::snprintf(device, sizeof device, "%u", unsigned{e.device});
    if (stored) {
      std::snprintf(physical, sizeof physical, "%" PRIu64, e.physical);
      std::snprintf(plen, sizeof plen, "%" PRIu64, e.physical_length);
    }
    std::printf("%12" PRIu64 " %12" PRIu64 " %-8s %6s %14s %12s %-10s %s\n", e.logical, e.length,
                extent_kind_name(e.kind), device, physical, plen,
                e.kind == extent_kind::encoded ? algorithm_name(e.algorithm) : "-",
                flag_names(e.flags).c_str());
  }
  return exit_ok;
}

}  // namespace erofsfs::cli
