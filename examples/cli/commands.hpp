// The subcommands of the erofsfs tool. Adding one = one file defining its command_spec (name,
// summary, option and argument table, run function), one declaration here and one row in the
// list in main.cpp.
#pragma once

#include <span>

#include "options.hpp"

namespace erofsfs::cli {

extern const command_spec info_command;
extern const command_spec ls_command;
extern const command_spec cat_command;
extern const command_spec stat_command;
extern const command_spec map_command;
extern const command_spec extract_command;
extern const command_spec fsck_command;
extern const command_spec serve_cachefiles_command;
extern const command_spec serve_fanotify_command;
extern const command_spec cache_command;
extern const command_spec mount_command;

}  // namespace erofsfs::cli
