// The table-driven command-line parser of every erofsfs subcommand (see options.hpp).
#include "options.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <erofsfs/version.hpp>

#include "decoders.hpp"

#ifndef EROFSFS_CLI_VERSION  // CMake passes the project version; standalone builds use the header
#define EROFSFS_CLI_STR2(x) #x
#define EROFSFS_CLI_STR(x) EROFSFS_CLI_STR2(x)
#define EROFSFS_CLI_VERSION                                                           \
  EROFSFS_CLI_STR(EROFSFS_VERSION_MAJOR) "." EROFSFS_CLI_STR(EROFSFS_VERSION_MINOR) "." \
      EROFSFS_CLI_STR(EROFSFS_VERSION_PATCH)
#endif

namespace erofsfs::cli {

namespace {

// Options every command has; they end the parse at once and are not stored.
constexpr option_def help_option{"help", 'h', value_kind::none, nullptr, "this text"};
constexpr option_def version_option{"version", 0, value_kind::none, nullptr,
                                    "the version and the decoders compiled in"};

void message(std::string_view cmd, std::string_view text) {
  std::fprintf(stderr, "erofsfs: %.*s: %.*s\n", static_cast<int>(cmd.size()), cmd.data(),
               static_cast<int>(text.size()), text.data());
}

int bad_usage(const command_spec& spec, std::string_view text) {
  message(spec.name, text);
  std::fprintf(stderr, "Try 'erofsfs %s --help'.\n", spec.name);
  return exit_usage;
}

// The command's own options, then the shared image options: the order of --help.
template <class Visit>
void each_option(const command_spec& spec, Visit&& visit) {
  for (const option_def& o : spec.options) visit(o);
  for (const option_def& o : spec.image_options) visit(o);
}

const option_def* find_in_table(const command_spec& spec, std::string_view name) {
  const option_def* found = nullptr;
  each_option(spec, [&](const option_def& o) {
    if (!found && name == o.name) found = &o;
  });
  return found;
}

const option_def* find_long(const command_spec& spec, std::string_view name) {
  if (const option_def* o = find_in_table(spec, name)) return o;
  if (name == help_option.name) return &help_option;
  if (name == version_option.name) return &version_option;
  return nullptr;
}

const option_def* find_letter(const command_spec& spec, char letter) {
  const option_def* found = nullptr;
  each_option(spec, [&](const option_def& o) {
    if (!found && o.letter == letter) found = &o;
  });
  if (found) return found;
  if (letter == help_option.letter) return &help_option;
  return nullptr;
}

std::string spelled(const option_def& o) { return std::string("--") + o.name; }

// The arguments part of the usage line: the one-letter flags, then the positionals.
std::string synopsis(const command_spec& spec, const positional_def* replaced) {
  if (spec.synopsis) return spec.synopsis;
  std::string s;
  each_option(spec, [&](const option_def& o) {
    if (o.letter && o.value == value_kind::none) {
      s += s.empty() ? "[-" : " [-";
      s += o.letter;
      s += ']';
    }
  });
  if (replaced) {
    s += s.empty() ? "--" : " --";
    s += replaced->replaced_by;
    s += " N";
  }
  for (const positional_def& p : spec.positionals) {
    if (replaced == &p) continue;
    if (!s.empty()) s += ' ';
    switch (p.count) {
      case arity::one: s += p.name; break;
      case arity::optional: s += std::string("[") + p.name + "]"; break;
      case arity::one_or_more: s += std::string(p.name) + "..."; break;
    }
  }
  return s;
}

void print_option(std::FILE* out, const option_def& o) {
  std::string left = o.letter ? std::string("-") + o.letter + ", " : std::string("    ");
  left += spelled(o);
  if (o.value != value_kind::none) {
    left += ' ';
    left += o.value_name ? o.value_name : "VALUE";
  }
  constexpr int column = 22;  // a longer left part gets a line of its own
  if (left.size() > column)
    std::fprintf(out, "  %s\n  %-*s", left.c_str(), column, "");
  else
    std::fprintf(out, "  %-*s", column, left.c_str());
  std::fprintf(out, " %s%s\n", o.help, o.repeatable ? " (repeatable)" : "");
}

}  // namespace

bool parse_number(std::string_view text, std::uint64_t& out) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

const option_def& args::lookup(std::string_view name) const {
  if (spec)
    if (const option_def* o = find_in_table(*spec, name)) return *o;
  std::fprintf(stderr, "erofsfs: %s: internal error: option --%.*s is not in the table\n", cmd,
               static_cast<int>(name.size()), name.data());
  std::abort();
}

bool args::has(std::string_view name) const {
  const option_def& def = lookup(name);
  for (const auto& g : given_)
    if (g.first == &def) return true;
  return false;
}

const std::string* args::value(std::string_view name) const {
  const option_def& def = lookup(name);
  const std::string* v = nullptr;
  for (const auto& g : given_)
    if (g.first == &def) v = &g.second;
  return v;
}

std::vector<std::string> args::values(std::string_view name) const {
  const option_def& def = lookup(name);
  std::vector<std::string> out;
  for (const auto& g : given_)
    if (g.first == &def) out.push_back(g.second);
  return out;
}

std::uint64_t args::number(std::string_view name, std::uint64_t fallback) const {
  const std::string* v = value(name);
  std::uint64_t n = fallback;
  if (v && !parse_number(*v, n)) return fallback;  // unreachable: the parser checked it
  return n;
}

void print_usage(std::FILE* out, const command_spec& spec) {
  const positional_def* replaced = nullptr;
  for (const positional_def& p : spec.positionals)
    if (p.replaced_by) replaced = &p;
  std::fprintf(out, "usage: erofsfs %s %s\n", spec.name, synopsis(spec, nullptr).c_str());
  if (replaced) std::fprintf(out, "   or: erofsfs %s %s\n", spec.name, synopsis(spec, replaced).c_str());
  std::fprintf(out, "  %s\n\noptions (anywhere on the line; -- ends them):\n", spec.summary);
  each_option(spec, [&](const option_def& o) { print_option(out, o); });
  print_option(out, help_option);
  print_option(out, version_option);
}

void print_version(std::FILE* out) {
  std::fprintf(out, "erofsfs %s\ndecoders: %s\n", EROFSFS_CLI_VERSION, decoder_names());
}

int usage_error(const args& a, std::string_view text) {
  if (a.spec) return bad_usage(*a.spec, text);
  message(a.cmd, text);
  return exit_usage;
}

int parse_command_line(const command_spec& spec, int argc, char** argv, args& out) {
  out.spec = &spec;
  out.cmd = spec.name;
  bool options_done = false;
  // Stores one option occurrence; `value` is nullptr for a flag. Returns -1 or an exit code.
  auto take = [&](const option_def& o, const char* value) -> int {
    if (&o == &help_option) {
      print_usage(stdout, spec);
      return exit_ok;
    }
    if (&o == &version_option) {
      print_version(stdout);
      return exit_ok;
    }
    std::uint64_t n;
    if (o.value == value_kind::number && !parse_number(value, n))
      return bad_usage(spec, "option '" + spelled(o) + "' needs a number, not '" + value + "'");
    out.add(o, value ? value : "");
    return -1;
  };
  for (int i = 1; i < argc; ++i) {  // bounded: i only grows
    const std::string_view a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a.substr(0, 2) == "--") {
      std::string_view name = a.substr(2);
      const char* inline_value = nullptr;
      if (const std::size_t eq = name.find('='); eq != std::string_view::npos) {
        inline_value = argv[i] + 2 + eq + 1;
        name = name.substr(0, eq);
      }
      const option_def* o = find_long(spec, name);
      if (!o) return bad_usage(spec, "unknown option '--" + std::string(name) + "'");
      const char* value = nullptr;
      if (o->value == value_kind::none) {
        if (inline_value) return bad_usage(spec, "option '" + spelled(*o) + "' takes no value");
      } else if (inline_value) {
        value = inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return bad_usage(spec, "option '" + spelled(*o) + "' needs a value");
      }
      if (const int rc = take(*o, value); rc >= 0) return rc;
      continue;
    }
    // A cluster of one-letter options, "-lR"; a value-taking letter ends it ("-oVAL", "-o VAL").
    for (std::size_t k = 1; k < a.size(); ++k) {  // bounded by the argument's length
      const option_def* o = find_letter(spec, a[k]);
      if (!o) return bad_usage(spec, std::string("unknown option '-") + a[k] + "'");
      if (o->value == value_kind::none) {
        if (const int rc = take(*o, nullptr); rc >= 0) return rc;
        continue;
      }
      const char* value = nullptr;
      if (k + 1 < a.size())
        value = argv[i] + k + 1;
      else if (i + 1 < argc)
        value = argv[++i];
      else
        return bad_usage(spec, std::string("option '-") + a[k] + "' needs a value");
      if (const int rc = take(*o, value); rc >= 0) return rc;
      break;
    }
  }
  // Count the positionals the table asks for, without those an option replaced.
  std::size_t min = 0, max = 0;
  for (const positional_def& p : spec.positionals) {
    if (p.replaced_by && out.has(p.replaced_by)) continue;
    min += p.count == arity::optional ? 0 : 1;
    max = p.count == arity::one_or_more ? ~std::size_t{0} : max + 1;
    if (max == ~std::size_t{0}) break;  // a repeated argument is the last one
  }
  if (out.positional.size() < min) {
    std::string missing;
    for (std::size_t i = 0, seen = 0; i < spec.positionals.size(); ++i) {
      const positional_def& p = spec.positionals[i];
      if ((p.replaced_by && out.has(p.replaced_by)) || p.count == arity::optional) continue;
      if (seen++ >= out.positional.size()) missing += std::string(missing.empty() ? "" : " ") + p.name;
    }
    return bad_usage(spec, "missing arguments: " + missing);
  }
  if (out.positional.size() > max) {
    for (const positional_def& p : spec.positionals)
      if (p.replaced_by && out.has(p.replaced_by))
        return bad_usage(spec, "too many arguments: --" + std::string(p.replaced_by) +
                                   " takes the place of " + p.name);
    return bad_usage(spec, "too many arguments");
  }
  return -1;
}

int run_command(const command_spec& spec, int argc, char** argv) {
  args a;
  if (const int rc = parse_command_line(spec, argc, argv, a); rc >= 0) return rc;
  return spec.run(a);
}

}  // namespace erofsfs::cli
