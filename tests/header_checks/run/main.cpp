// The run checks' main: opens the image given as the only argument and runs the check.
#include "check.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
    return 2;
  }
  const header_check_input* in = header_check_open(argv[1]);
  return in ? header_check(*in) : 1;
}
