// erofsfs: inspect, read, check and serve EROFS images. One file per subcommand.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "erofsfs: no subcommands yet\n");
  return 2;
}
