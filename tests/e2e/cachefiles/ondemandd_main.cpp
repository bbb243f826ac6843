// The e2e guest's daemon: the erofsfs serve-cachefiles command as a standalone static binary
// (the guest initramfs has no libc), built by run.sh from the same source as the CLI.
#include "../../../examples/cli/commands.hpp"

int main(int argc, char** argv) { return erofsfs::cli::run_serve_cachefiles(argc, argv); }
