// The command line of every erofsfs subcommand, from one table per command: its options (long
// name, one-letter alias, value, help) and positional arguments. One parser turns argv into
// `args` with the same rules and the same error messages everywhere, and `CMD --help` is
// generated from the same table, so the help always lists every option.
//
// Rules: options may come before, between or after the positionals; `--name=value`,
// `--name value`, `-x value`, `-xvalue` and clusters of one-letter flags (`-lR`) work; `--`
// ends the options; every command knows --help/-h and --version. Bad usage is exit 2 with
// "erofsfs: CMD: <what is wrong>" and the usage line on stderr.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace erofsfs::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_problem = 1;  // the image (or an output) had a problem
inline constexpr int exit_usage = 2;    // bad command line

enum class value_kind : std::uint8_t {
  none,    // a flag
  text,    // any string
  number,  // an unsigned 64-bit number: decimal, or hexadecimal with 0x
};

struct option_def {
  const char* name;          // long name without "--"
  char letter;               // one-letter alias, 0 for none
  value_kind value;
  const char* value_name;    // what the help calls the value ("FILE", "N"); nullptr for flags
  const char* help;          // one line
  bool repeatable = false;   // every occurrence is kept (otherwise the last one counts)
};

enum class arity : std::uint8_t { one, optional, one_or_more };

struct positional_def {
  const char* name;  // "IMG", "PATH"
  arity count;
  // An option that takes this argument's place (--nid for PATH): with it, the argument must
  // not be given; without it, the argument is counted as usual.
  const char* replaced_by = nullptr;
};

class args;

struct command_spec {
  const char* name;
  const char* summary;  // one line for `erofsfs --help`
  std::span<const option_def> options;
  // The options every image-reading command shares (common::image_options), listed after the
  // command's own; empty for a command that opens no image.
  std::span<const option_def> image_options;
  std::span<const positional_def> positionals;
  int (*run)(const args&);
  // Replaces the generated argument part of the usage line when the options themselves have a
  // structure the table cannot say (serve-cachefiles: --cache or --restore).
  const char* synopsis = nullptr;
};

// Options shared by commands, one definition each so every command describes them alike.
namespace common {
inline constexpr option_def device{"device", 0, value_kind::text, "FILE",
                                   "an extra blob device of the image, in device-table order "
                                   "(like mount -o device=)",
                                   true};
inline constexpr option_def layer{"layer", 0, value_kind::text, "DIGEST",
                                  "for an oci:// IMG: the layer (sha256:...) that is the EROFS "
                                  "image (default: the first EROFS layer)"};
inline constexpr option_def platform{"platform", 0, value_kind::text, "OS/ARCH[/VARIANT]",
                                     "for an oci:// image index: the platform's manifest "
                                     "(default: linux/amd64)"};
inline constexpr option_def offset{"offset", 0, value_kind::number, "N",
                                   "the EROFS image starts at byte N of IMG (e.g. inside a "
                                   "partition dump)"};
inline constexpr option_def nid{"nid", 0, value_kind::number, "N",
                                "address the inode with nid N instead of a PATH (debugging)"};
inline constexpr option_def json{"json", 0, value_kind::none, nullptr,
                                 "JSON output (one object per line where the output streams)"};
// Verification of the image file against a dm-verity tree (verity.hpp says how).
inline constexpr option_def verity_root{"verity-root", 0, value_kind::text, "HEX",
                                        "verify every block of IMG against this dm-verity root "
                                        "hash (a tree from veritysetup format)"};
inline constexpr option_def verity_hash{"verity-hash", 0, value_kind::text, "FILE",
                                        "the verity hash tree (default: IMG itself, the tree "
                                        "appended at --verity-offset)"};
inline constexpr option_def verity_offset{"verity-offset", 0, value_kind::number, "N",
                                          "byte offset of the verity tree's superblock in its "
                                          "file (default 0)"};
// How every image-reading command finds its image and devices: one list, so the commands
// cannot drift apart (open_image_from_args in common.hpp reads exactly these).
inline constexpr option_def image_options[] = {device, layer, platform, offset, verity_root,
                                               verity_hash, verity_offset};
}  // namespace common

// The result of parsing one command line. Option lookups name options of the command's table;
// naming any other option is a bug in the tool and aborts.
class args {
 public:
  const command_spec* spec = nullptr;
  const char* cmd = "";
  std::vector<std::string> positional;

  bool has(std::string_view name) const;
  // The last value given, or nullptr.
  const std::string* value(std::string_view name) const;
  // Every value given, in command-line order.
  std::vector<std::string> values(std::string_view name) const;
  // A number option's last value (the parser checked it), or `fallback` when not given.
  std::uint64_t number(std::string_view name, std::uint64_t fallback = 0) const;

  void add(const option_def& def, std::string value) { given_.emplace_back(&def, std::move(value)); }

 private:
  const option_def& lookup(std::string_view name) const;
  std::vector<std::pair<const option_def*, std::string>> given_;
};

// Parses argv[1..argc) (argv[0] is the command name). Returns -1 when the command should run,
// otherwise the exit code to return at once: 0 after --help or --version, exit_usage on a bad
// command line (the message is printed).
int parse_command_line(const command_spec& spec, int argc, char** argv, args& out);

// Parses and runs: what main() does for a subcommand.
int run_command(const command_spec& spec, int argc, char** argv);

// The usage line(s) and the option list of `spec`.
void print_usage(std::FILE* out, const command_spec& spec);
// "erofsfs VERSION" and the decoders compiled in.
void print_version(std::FILE* out);

// "erofsfs: CMD: message" and the usage line on stderr; returns exit_usage.
int usage_error(const args& a, std::string_view message);

// Parses a number option's text: decimal, or hexadecimal after 0x. False on anything else.
bool parse_number(std::string_view text, std::uint64_t& out);

}  // namespace erofsfs::cli
