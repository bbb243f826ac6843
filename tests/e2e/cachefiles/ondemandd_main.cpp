// The e2e guest's daemon: the erofsfs serve-cachefiles command as a standalone static binary
// (the guest initramfs has no libc), built by run.sh from the same source as the CLI.
int run_serve_cachefiles(int argc, char** argv);

int main(int argc, char** argv) { return run_serve_cachefiles(argc, argv); }
