#!/bin/sh
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp) with clang-14, ASan and UBSan, and runs each
# for FUZZ_SECONDS seconds (default 30). Seeds: fuzz/corpus/<name>/ plus, for the whole-image
# targets, the fixture images under tests/data/images. New corpus entries go to
# build/fuzz/work/<name>/ (not committed); crashing inputs go to fuzz/crashes/<name>/, where the
# replay tests (ctest fuzz_replay.<name>) keep running them forever.
# Usage: scripts/fuzz.sh [target...]   (default: every target)
set -eu
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
build=build/fuzz

CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEROFSFS_WERROR=ON \
  -DEROFSFS_BUILD_FUZZERS=ON -DEROFSFS_FUZZ_REPLAY=OFF -DEROFSFS_BUILD_TESTS=OFF \
  -DEROFSFS_BUILD_EXAMPLES=OFF >/dev/null

if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(for f in fuzz/fuzz_*.cpp; do basename "$f" .cpp | sed 's/^fuzz_//'; done)
fi
for t in $targets; do
  cmake --build "$build" -j"$(nproc)" --target "fuzz_$t" >/dev/null
done

status=0
for t in $targets; do
  work="$build/work/$t"
  seeds="$build/seeds/$t"
  mkdir -p "$work" "$seeds" "fuzz/crashes/$t"
  if [ "$t" = image ] || [ "$t" = mapper ]; then
    # Fixture images as extra seeds, linked rather than copied; the 1.7 MB one is left out to
    # keep mutation fast.
    find tests/data/images -name '*.erofs' -size -600k | while read -r f; do
      ln -sf "$PWD/$f" "$seeds/$(basename "$f")"
    done
  fi
  echo "== fuzz_$t for ${secs}s"
  # -timeout: a single input taking 60 s is a hang (generous: CI machines are shared);
  # -rss_limit_mb: a huge allocation is a bug.
  if ! "$build/fuzz/fuzz_$t" "$work" "fuzz/corpus/$t" "$seeds" \
      -max_total_time="$secs" -timeout=60 -report_slow_units=60 -rss_limit_mb=2048 -max_len=1048576 \
      -print_final_stats=1 -artifact_prefix="fuzz/crashes/$t/" 2>"$build/fuzz_$t.log"; then
    echo "fuzz_$t found a problem; see $build/fuzz_$t.log and fuzz/crashes/$t/" >&2
    tail -n 40 "$build/fuzz_$t.log" >&2
    status=1
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$build/fuzz_$t.log" || true
  fi
done
exit $status
