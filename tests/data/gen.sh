#!/bin/sh
# Regenerate the EROFS fixture images and their kernel-derived manifests.
#
# Needs: root, a Debian 12 (bookworm) host whose kernel mounts EROFS from files
# (Linux >= 6.12 with EROFS_FS_BACKED_BY_FILE and LZ4/LZMA/DEFLATE/ZSTD support),
# python3, GNU tar, and a reachable Debian mirror.  Only Debian packages are used:
#   host   : erofs-utils 1.5 (bookworm)                      -> images marked 1.5
#   chroot : debootstrap'ed sid with erofs-utils 1.9.4       -> images marked 1.9,
#            plus the trixie erofs-utils 1.8.6 .deb unpacked -> images marked 1.8
#            (dump.erofs/fsck.erofs 1.9.4 also come from the chroot)
#
# Environment (all optional):
#   WORK    working directory for the chroot, trees and builds (default /var/tmp/erofs-fixtures)
#   MIRROR  Debian mirror (default http://deb.debian.org/debian; a snapshot.debian.org
#           URL pins the exact package versions)
#   SEED    seed for the source trees (default pub1: the committed images)
#   MATRIX  image list (default matrix.txt next to this script)
#   OUT     output directory (default images/ next to this script)
#   ONLY    comma-separated image names to (re)build
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/var/tmp/erofs-fixtures}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SEED=${SEED:-pub1}
MATRIX=${MATRIX:-$HERE/matrix.txt}
OUT=${OUT:-$HERE/images}
CHROOT=$WORK/sid
APT="apt-get -o Acquire::Check-Valid-Until=false"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

need=""
command -v mkfs.erofs >/dev/null || need="$need erofs-utils"
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v python3 >/dev/null || need="$need python3"
[ -z "$need" ] || { apt-get update; apt-get install -y $need; }

if [ ! -x "$CHROOT/usr/bin/mkfs.erofs" ]; then
	mkdir -p "$WORK"
	debootstrap --variant=minbase sid "$CHROOT" "$MIRROR"
	echo "deb $MIRROR trixie main" > "$CHROOT/etc/apt/sources.list.d/trixie.list"
	chroot "$CHROOT" $APT update
	chroot "$CHROOT" $APT install -y erofs-utils
fi
if [ ! -x "$CHROOT/opt/erofs-utils-1.8.6/usr/bin/mkfs.erofs" ]; then
	chroot "$CHROOT" sh -c "cd /tmp && $APT download erofs-utils=1.8.6-1 &&
		dpkg -x erofs-utils_1.8.6-1_amd64.deb /opt/erofs-utils-1.8.6"
fi

# The committed images were made with exactly these versions; warn on drift.
v19=$(chroot "$CHROOT" dpkg-query -W -f '${Version}' erofs-utils)
v15=$(dpkg-query -W -f '${Version}' erofs-utils)
[ "$v19" = 1.9.4-1 ] || echo "warning: chroot has erofs-utils $v19, fixtures were made with 1.9.4-1" >&2
[ "$v15" = 1.5-1 ] || echo "warning: host has erofs-utils $v15, fixtures were made with 1.5-1" >&2

# mkcomposefs reads source trees through /proc/self/fd
mountpoint -q "$CHROOT/proc" || mount -t proc proc "$CHROOT/proc"
command -v "$CHROOT/usr/bin/mkcomposefs" >/dev/null 2>&1 || [ -x "$CHROOT/usr/bin/mkcomposefs" ] ||
	chroot "$CHROOT" $APT install -y composefs

mkdir -p "$OUT"
python3 "$HERE/tools/gen.py" --chroot "$CHROOT" --matrix "$MATRIX" --seed "$SEED" \
	--out "$OUT" ${ONLY:+--only "$ONLY"}
# images whose kernel view differs from the source (not ground truth; see FIXTURES.md)
if [ -z "${ONLY:-}" ] && [ "$MATRIX" = "$HERE/matrix.txt" ]; then
	python3 "$HERE/tools/gen.py" --chroot "$CHROOT" --matrix "$HERE/known-issues.txt" --seed "$SEED" \
		--out "$HERE/known-issues" --source-manifest
fi
