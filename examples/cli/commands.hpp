// The subcommand table of the erofsfs tool. Adding a subcommand = one file defining its run
// function, one declaration here and one row in the table in main.cpp.
#pragma once

#include <string_view>

namespace erofsfs::cli {

struct command {
  const char* name;
  const char* usage;    // arguments after the command name, e.g. "[-l] IMG [PATH]"
  const char* summary;  // one line for `erofsfs --help`
  // argv[0] is the command name; returns the process exit code (see common.hpp).
  int (*run)(int argc, char** argv);
};

// The table in main.cpp; nullptr if there is no such command.
const command* find_command(std::string_view name);

int run_info(int argc, char** argv);
int run_ls(int argc, char** argv);
int run_cat(int argc, char** argv);
int run_stat(int argc, char** argv);
int run_map(int argc, char** argv);
int run_extract(int argc, char** argv);
int run_fsck(int argc, char** argv);
int run_serve_cachefiles(int argc, char** argv);
int run_serve_fanotify(int argc, char** argv);
int run_cache(int argc, char** argv);
int run_mount(int argc, char** argv);

}  // namespace erofsfs::cli
