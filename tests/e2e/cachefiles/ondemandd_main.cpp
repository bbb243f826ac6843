// The e2e guest's daemon: the erofsfs serve-cachefiles command as a standalone static binary
// (the guest initramfs has no libc), built by run.sh from the same sources as the CLI: the
// command, the option parser and the decoder list (LZ4 only: the daemon serves blobs, it never
// decodes).
#include "../../../examples/cli/commands.hpp"

int main(int argc, char** argv) {
  return erofsfs::cli::run_command(erofsfs::cli::serve_cachefiles_command, argc, argv);
}
