#!/bin/sh
# Builds the erofsfs tool and runs it on a bundled sample image: superblock summary, a
# directory listing, a file's extents and a full consistency check.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEROFSFS_BUILD_TESTS=OFF >/dev/null
cmake --build build --target erofsfs_cli -j"$(nproc)" >/dev/null
img=tests/data/images/plain-4k/plain-4k.erofs
set -x
build/examples/erofsfs info "$img"
build/examples/erofsfs ls -l "$img" /links
build/examples/erofsfs map "$img" /data/mixed-36k
build/examples/erofsfs fsck "$img"
