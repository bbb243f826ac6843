// erofsfs: inspect, read, check and serve EROFS images. One file per subcommand; this file is
// the table and the dispatcher.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.hpp"
#include "common.hpp"

namespace erofsfs::cli {

namespace {
// One row per subcommand, in the order `erofsfs --help` lists them.
constexpr command commands[] = {
    {"info", "IMG", "superblock summary: block size, features, uuid, counts, devices, compression",
     run_info},
    {"ls", "[-l] [-R] [-a] IMG [PATH]", "list a directory (-l long format, -R recursive, -a all)",
     run_ls},
    {"cat", "[--cache-size MIB] IMG PATH...", "write files to standard output", run_cat},
    {"stat", "IMG PATH", "every inode field, including xattrs", run_stat},
    {"map", "IMG PATH", "the extents of a file: where each byte range is stored", run_map},
    {"extract", "IMG DIR [PATH]",
     "recreate the tree (or PATH's subtree) under DIR with owners, modes, times, xattrs",
     run_extract},
    {"fsck", "IMG", "read every inode, directory, xattr and byte of data; report each problem",
     run_fsck},
    {"serve-cachefiles", "--blobs DIR (--cache DIR [--tag T] | --restore) [--device-fd N] [-v]",
     "serve blob files to EROFS fscache mounts (cachefiles on-demand daemon)",
     run_serve_cachefiles},
    {"serve-fanotify", "IMG SPARSE [--device SRC SPARSE]... [--mount DIR]",
     "lazy-load IMG into SPARSE on fanotify pre-content events (root, Linux 6.14+)",
     run_serve_fanotify},
    {"mount", "IMG MOUNTPOINT [-o allow_other[,default_permissions]] [-f] [--cache-size MIB]",
     "serve IMG through FUSE on MOUNTPOINT (any user; -f stays in the foreground)", run_mount},
};

void print_help(std::FILE* out) {
  std::fprintf(out,
               "usage: erofsfs COMMAND [--device FILE]... ARGS\n"
               "Reads EROFS images. Exit status: 0 ok, 1 a problem, 2 bad usage.\n\n"
               "commands:\n");
  for (const command& c : commands) std::fprintf(out, "  %-17s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`erofsfs COMMAND --help` shows a command's arguments.\n");
}
}  // namespace

const command* find_command(std::string_view name) {
  for (const command& c : commands)
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace erofsfs::cli

int main(int argc, char** argv) {
  using namespace erofsfs::cli;
  if (argc < 2) {
    print_help(stderr);
    return exit_usage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    if (name == "help" && argc > 2) {
      if (const command* c = find_command(argv[2])) {
        print_usage(stdout, *c);
        return exit_ok;
      }
      std::fprintf(stderr, "erofsfs: unknown command '%s'\n", argv[2]);
      return exit_usage;
    }
    print_help(stdout);
    return exit_ok;
  }
  const command* c = find_command(name);
  if (!c) {
    std::fprintf(stderr, "erofsfs: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return exit_usage;
  }
  return c->run(argc - 1, argv + 1);
}
