// erofsfs: inspect, read, check and serve EROFS images. One file per subcommand; this file is
// the list of commands and the dispatcher.
#include <cstdio>
#include <string_view>

#include "commands.hpp"

namespace erofsfs::cli {

namespace {

// In the order `erofsfs --help` lists them.
const command_spec* const commands[] = {
    &info_command,  &ls_command,   &cat_command,
    &stat_command,  &map_command,  &extract_command,
    &fsck_command,  &serve_cachefiles_command, &serve_fanotify_command,
    &cache_command, &mount_command,
};

const command_spec* find_command(std::string_view name) {
  for (const command_spec* c : commands)
    if (name == c->name) return c;
  return nullptr;
}

void print_help(std::FILE* out) {
  std::fprintf(out,
               "usage: erofsfs COMMAND [OPTIONS] ARGS\n"
               "       erofsfs --version\n"
               "Reads EROFS images. Exit status: 0 ok, 1 a problem, 2 bad usage.\n\n"
               "commands:\n");
  for (const command_spec* c : commands) std::fprintf(out, "  %-17s %s\n", c->name, c->summary);
  std::fprintf(out, "\n`erofsfs COMMAND --help` shows a command's arguments and options.\n");
}

}  // namespace

}  // namespace erofsfs::cli

int main(int argc, char** argv) {
  using namespace erofsfs::cli;
  if (argc < 2) {
    print_help(stderr);
    return exit_usage;
  }
  const std::string_view name = argv[1];
  if (name == "--version") {
    print_version(stdout);
    return exit_ok;
  }
  if (name == "--help" || name == "-h" || name == "help") {
    if (name == "help" && argc > 2) {
      if (const command_spec* c = find_command(argv[2])) {
        print_usage(stdout, *c);
        return exit_ok;
      }
      std::fprintf(stderr, "erofsfs: unknown command '%s'\n", argv[2]);
      return exit_usage;
    }
    print_help(stdout);
    return exit_ok;
  }
  const command_spec* c = find_command(name);
  if (!c) {
    std::fprintf(stderr, "erofsfs: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return exit_usage;
  }
  return run_command(*c, argc - 1, argv + 1);
}
