#!/bin/sh
# FUSE serving (erofsfs mount) against the kernel's own erofs mount, and erofsfuse when it is
# installed, in one run: cold-cache read-all throughput of an uncompressed and an LZ4 image of
# a tree (default /usr/include), and a metadata storm (stat of every path; readdir of a
# 10,000-entry directory). Prints seconds per row and ratio = other / erofsfs (> 1: erofsfs
# is faster). Needs root (kernel mounts, drop_caches). Usage: fuse_vs_kernel.sh ERORFSFS_BIN [TREE]
set -eu
BIN=$1
TREE=${2:-/usr/include}
# EROFSFUSE_CHROOT=DIR runs erofsfuse inside a chroot (e.g. a Debian sid tree with erofs-utils
# 1.9); the images and the mountpoint then live inside it so all three see the same paths.
C=${EROFSFUSE_CHROOT:-}
W=${C}${EROFSFS_BENCH_DIR:-/tmp/erofsfs-bench}/fuse
mkdir -p "$W/m"
[ -f "$W/plain.erofs" ] || mkfs.erofs --quiet "$W/plain.erofs" "$TREE"
[ -f "$W/lz4.erofs" ] || mkfs.erofs --quiet -zlz4 "$W/lz4.erofs" "$TREE"
if [ ! -f "$W/dir10k.erofs" ]; then
  rm -rf "$W/tree10k"; mkdir -p "$W/tree10k/d"
  i=0; while [ $i -lt 10000 ]; do : > "$W/tree10k/d/file-$i"; i=$((i+1)); done
  mkfs.erofs --quiet -T0 "$W/dir10k.erofs" "$W/tree10k"
fi
now() { date +%s.%N; }
ismnt() { [ "$(stat -f -c %t "$W/m")" != "$(stat -f -c %t "$W")" ]; }
mount_with() {  # kind image
  case $1 in
    kernel) mount -t erofs -o ro "$2" "$W/m" ;;
    erofsfs) "$BIN" mount "$2" "$W/m" ;;
    erofsfuse) if [ -n "$C" ]; then chroot "$C" erofsfuse "${2#$C}" "${W#$C}/m" >/dev/null 2>&1
               else erofsfuse "$2" "$W/m" >/dev/null 2>&1; fi ;;
  esac
  n=0; while ! ismnt && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done
}
run() {  # kind image what -> seconds
  mount_with "$1" "$2"
  sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(now)
  case $3 in
    readall) find "$W/m" -type f -print0 | xargs -0 cat > /dev/null ;;
    stat) find "$W/m" -printf '%i %s %m\n' > /dev/null ;;
    readdir) ls -f "$W/m/d" > /dev/null ;;
  esac
  t1=$(now)
  umount "$W/m" 2>/dev/null || fusermount3 -u "$W/m"
  echo "$t1 - $t0" | bc -l
}
kinds="kernel erofsfs"
have_erofsfuse() { if [ -n "$C" ]; then [ -x "$C/usr/bin/erofsfuse" ]; else command -v erofsfuse >/dev/null; fi; }
have_erofsfuse && kinds="$kinds erofsfuse"
for row in "readall plain" "readall lz4" "stat plain" "readdir dir10k"; do
  set -- $row
  line="$1 $2.erofs:"
  for k in $kinds; do eval "t_$k=\$(run $k $W/$2.erofs $1)"; line="$line $k $(eval echo \$t_$k)s"; done
  line="$line | kernel/erofsfs $(echo "$t_kernel / $t_erofsfs" | bc -l | cut -c1-5)"
  have_erofsfuse && line="$line erofsfuse/erofsfs $(echo "$t_erofsfuse / $t_erofsfs" | bc -l | cut -c1-5)"
  echo "$line"
done
