#!/bin/sh
# Runs every erofsfs test: the g++ build (-Werror) and the clang-14 build under ASan+UBSan,
# each with the full ctest suite (unit tests, fixture manifests, kernel oracle and fanotify
# tests when run as root, fuzz corpus replays, CMake consumer tests), plus short libFuzzer
# runs. Set EROFSFS_E2E=1 to also boot the cachefiles on-demand test kernel in qemu.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

echo "== g++ $(g++ -dumpversion), -Werror"
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEROFSFS_WERROR=ON >/dev/null
cmake --build build/gcc -j"$jobs"
(cd build/gcc && ctest --output-on-failure -j"$jobs")

echo "== clang++-14, -Werror, ASan+UBSan"
CXX=clang++-14 cmake -S . -B build/clang-asan -DCMAKE_BUILD_TYPE=Debug -DEROFSFS_WERROR=ON \
  -DEROFSFS_SANITIZE=address,undefined >/dev/null
cmake --build build/clang-asan -j"$jobs"
(cd build/clang-asan && ctest --output-on-failure -j"$jobs")

echo "== libFuzzer, ${FUZZ_SECONDS:-40}s per target"
FUZZ_SECONDS=${FUZZ_SECONDS:-40} scripts/fuzz.sh

echo "== all tests passed"
