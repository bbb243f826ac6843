// `erofsfs map IMG PATH` (or `--nid N IMG`): the extent table of one file (FIEMAP-like:
// neighbouring extents that continue each other are merged), with devices already resolved;
// --json writes one object per extent.
#include "common.hpp"
#include "json.hpp"

namespace erofsfs::cli {

namespace {

constexpr std::pair<std::uint8_t, const char*> flag_table[] = {
    {extent_flags::in_metabox, "in_metabox"},
    {extent_flags::in_metadata, "in_metadata"},
    {extent_flags::partial_ref, "partial_ref"},
    {extent_flags::interlaced, "interlaced"},
};

std::string flag_names(std::uint8_t flags) {
  std::string s;
  for (const auto& [bit, name] : flag_table)
    if (flags & bit) {
      if (!s.empty()) s += ',';
      s += name;
    }
  return s.empty() ? "-" : s;
}

// Extents on a device say which one; extents in metadata or holes have none.
bool shows_device(const extent& e) {
  const bool on_device = e.kind == extent_kind::mapped || e.kind == extent_kind::encoded;
  return on_device && !(e.flags & extent_flags::in_metadata);
}

void print_json_extent(const std::string& name, std::uint64_t nid, const extent& e) {
  json::object j;
  j.string("path", name)
      .number("nid", nid)
      .number("logical", e.logical)
      .number("length", e.length)
      .string("kind", extent_kind_name(e.kind));
  if (shows_device(e))
    j.number("device", unsigned{e.device});
  else
    j.null("device");
  if (e.kind != extent_kind::hole)
    j.number("physical", e.physical).number("physical_length", e.physical_length);
  else
    j.null("physical").null("physical_length");
  if (e.kind == extent_kind::encoded)
    j.string("algorithm", algorithm_name(e.algorithm));
  else
    j.null("algorithm");
  json::array flags;
  for (const auto& [bit, flag] : flag_table)
    if (e.flags & bit) flags.add(json::quote(flag));
  j.raw("flags", flags.str());
  json::print_line(j);
}

void print_text_extent(const extent& e) {
  char device[16] = "-", physical[24] = "-", plen[24] = "-";
  if (shows_device(e)) std::snprintf(device, sizeof device, "%u", unsigned{e.device});
  if (e.kind != extent_kind::hole) {
    std::snprintf(physical, sizeof physical, "%" PRIu64, e.physical);
    std::snprintf(plen, sizeof plen, "%" PRIu64, e.physical_length);
  }
  std::printf("%12" PRIu64 " %12" PRIu64 " %-8s %6s %14s %12s %-10s %s\n", e.logical, e.length,
              extent_kind_name(e.kind), device, physical, plen,
              e.kind == extent_kind::encoded ? algorithm_name(e.algorithm) : "-",
              flag_names(e.flags).c_str());
}

int run_map(const args& a) {
  auto o = open_image(a, a.positional[0]);
  if (!o) return exit_problem;
  read_context ctx;
  const std::string* path = a.positional.size() > 1 ? &a.positional[1] : nullptr;
  const std::string name = subject_name(a, path);
  auto ino = find_subject(*o, path, a.number("nid"), ctx, false);
  if (!ino) {
    report(a.cmd, name, ino.error());
    return exit_problem;
  }
  if (!ino->has_data()) {
    report(a.cmd, escape(name) + ": " + file_type_name(ino->type()) + " has no data");
    return exit_problem;
  }
  const bool as_json = a.has("json");
  if (!as_json)
    std::printf("%12s %12s %-8s %6s %14s %12s %-10s %s\n", "logical", "length", "kind", "device",
                "physical", "phys_length", "algorithm", "flags");
  extent_iterator it(o->img, *ino);
  extent e;
  while (true) {  // bounded: the iterator advances through the file and stops at its end
    auto more = it.next(e);
    if (!more) {
      std::fflush(stdout);
      report(a.cmd, name, more.error());
      return exit_problem;
    }
    if (!*more) break;
    if (as_json)
      print_json_extent(name, ino->nid, e);
    else
      print_text_extent(e);
  }
  return exit_ok;
}

constexpr option_def options[] = {
    common::json,
    common::nid,
};
constexpr positional_def positionals[] = {{"IMG", arity::one}, {"PATH", arity::one, "nid"}};

}  // namespace

const command_spec map_command{"map", "the extents of a file: where each byte range is stored",
                               options, common::image_options, positionals, run_map};

}  // namespace erofsfs::cli
