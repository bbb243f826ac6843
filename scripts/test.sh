#!/bin/sh
# Runs every erofsfs test: the g++ build (-Werror) and the clang-14 build under ASan+UBSan,
# each with the full ctest suite (unit tests, fixture manifests, kernel oracle and fanotify
# tests when run as root, fuzz corpus replays, CMake consumer tests), plus short libFuzzer
# runs. Set EROFSFS_E2E=1 to also boot the cachefiles on-demand test kernel in qemu.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ "${EROFSFS_E2E:-0}" = 1 ]; then
  # The cachefiles end-to-end test builds a 6.12 kernel once (cached in /var/cache/erofsfs-e2e)
  # and boots it in qemu.
  scripts/deps.sh linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev cpio \
    qemu-system-x86 busybox-static python3
fi
jobs=$(nproc)

echo "== g++ $(g++ -dumpversion), -Werror"
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEROFSFS_WERROR=ON >/dev/null
cmake --build build/gcc -j"$jobs"
(cd build/gcc && ctest --output-on-failure -j"$jobs")

echo "== clang++-14, -Werror, ASan+UBSan"
CXX=clang++-14 cmake -S . -B build/clang-asan -DCMAKE_BUILD_TYPE=Debug -DEROFSFS_WERROR=ON \
  -DEROFSFS_SANITIZE=address,undefined >/dev/null
cmake --build build/clang-asan -j"$jobs"
# The qemu e2e test exercises the kernel, not the sanitizers: it runs once, in the g++ pass.
(cd build/clang-asan && ctest --output-on-failure -j"$jobs" -LE e2e)

echo "== libFuzzer, ${FUZZ_SECONDS:-40}s per target"
FUZZ_SECONDS=${FUZZ_SECONDS:-40} scripts/fuzz.sh

echo "== all tests passed"
