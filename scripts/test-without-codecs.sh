#!/bin/sh
# Builds and tests erofsfs the way a machine without liblzma, zlib and libzstd does: pkg-config
# sees only liblz4 and fuse3 (copies of their .pc files), so the tool, the tests and the fuzz
# replays are configured without the three codec libraries. Everything must build, and every
# case that needs a missing codec must be reported skipped ("codec skipped: ..."), not passed.
set -eu
cd "$(dirname "$0")/.."
pc=$(mktemp -d)
trap 'rm -rf "$pc"' EXIT
for module in liblz4 fuse3; do
  if dir=$(pkg-config --variable=pcfiledir "$module" 2>/dev/null); then
    cp "$dir/$module.pc" "$pc/"
  fi
done
# Exported for the build too: a build that re-runs CMake would otherwise find the libraries.
export PKG_CONFIG_LIBDIR="$pc"
jobs=$(nproc)
cmake -S . -B build/no-codecs -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEROFSFS_WERROR=ON >/dev/null
cmake --build build/no-codecs -j"$jobs"
(cd build/no-codecs && ctest --output-on-failure -j"$jobs" -LE e2e)
