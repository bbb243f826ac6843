// erofsfs/decode/read_context.hpp alone: its entry points link and work on a real image.
#include <erofsfs/decode/read_context.hpp>

#include "check.hpp"

int header_check(const header_check_input& in) {
  (void)in;
  erofsfs::read_context ctx;
  ctx.invalidate();
  ctx.release();
  return 0;
}
