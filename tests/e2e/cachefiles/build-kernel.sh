#!/bin/bash
# Builds (once) the guest kernel for the cachefiles e2e test and prints the
# bzImage path.  The result is cached outside the source tree, keyed by the
# kernel version and the kconfig fragment, so every clone shares one build.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KVER=${KVER:-6.12}
FRAGMENT=${FRAGMENT:-$HERE/kconfig.fragment}
CACHE_ROOT=${EROFSFS_E2E_CACHE:-/var/cache/erofsfs-e2e}
JOBS=${JOBS:-$(nproc)}
TARBALL=/usr/src/linux-source-$KVER.tar.xz

key="$KVER-$(sha256sum "$FRAGMENT" | cut -c1-16)"
OUT=$CACHE_ROOT/$key
if [ -s "$OUT/bzImage" ]; then echo "$OUT/bzImage"; exit 0; fi
[ -r "$TARBALL" ] || { echo "missing $TARBALL (apt-get install linux-source-$KVER)" >&2; exit 2; }

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$key"
flock 9   # two concurrent runs must not build into the same tree
if [ -s "$OUT/bzImage" ]; then echo "$OUT/bzImage"; exit 0; fi

SRC=$CACHE_ROOT/linux-source-$KVER
BUILD=$CACHE_ROOT/build-$key
if [ ! -f "$SRC/Makefile" ]; then
	rm -rf "$SRC.tmp" && mkdir -p "$SRC.tmp"
	tar -C "$SRC.tmp" -xf "$TARBALL"
	mv "$SRC.tmp/linux-source-$KVER" "$SRC" && rmdir "$SRC.tmp"
fi
mkdir -p "$BUILD"
make -s -C "$SRC" O="$BUILD" tinyconfig >/dev/null
"$SRC/scripts/kconfig/merge_config.sh" -O "$BUILD" -m "$BUILD/.config" "$FRAGMENT" >/dev/null
make -s -C "$SRC" O="$BUILD" olddefconfig >/dev/null
missing=0
while IFS= read -r l; do
	case "$l" in CONFIG_*=*) grep -qx "$l" "$BUILD/.config" || { echo "kconfig: $l did not stick" >&2; missing=1; } ;; esac
done <"$FRAGMENT"
[ $missing = 0 ] || exit 1
t0=$(date +%s)
nice -n 10 make -C "$SRC" O="$BUILD" -j"$JOBS" bzImage >"$BUILD/kbuild.log" 2>&1 ||
	{ tail -30 "$BUILD/kbuild.log" >&2; exit 1; }
echo "kernel build: $(( $(date +%s) - t0 ))s" >&2
mkdir -p "$OUT.tmp"
cp "$BUILD/arch/x86/boot/bzImage" "$BUILD/.config" "$OUT.tmp/"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "$OUT/bzImage"
