#!/bin/bash
# Issue 12's benchmark, in one run: erofsfs extract/fsck against fsck.erofs 1.9.x (Debian sid,
# from a chroot) and against the kernel's mount, on two real trees and five images of each.
# Every pair is run interleaved (A B A B ...) ROUNDS times; the table prints medians and
# ratio = reference / erofsfs (> 1: erofsfs is faster), plus peak RSS of each extract.
#
# Usage (root): benchmarks/extract_vs_fsck.sh ERORFSFS_BIN
#   CHROOT=DIR   a Debian sid tree with erofs-utils 1.9.x (default /var/tmp/erofs-fixtures/sid,
#                which tests/data/gen.sh makes); its mkfs.erofs builds the images
#   TREES="..."  source trees (default: /usr/lib/x86_64-linux-gnu /usr/share)
#   ROUNDS=N     interleaved rounds per pair (default 3)
#   JOBS=N       passed to erofsfs as -j N when the tool has it (default: all cores)
# Images live under $CHROOT/var/tmp/erofsfs-bench (built once, reused); outputs go to a tmpfs.
set -euo pipefail
BIN=$(readlink -f "$1")
CHROOT=${CHROOT:-/var/tmp/erofs-fixtures/sid}
TREES=${TREES:-/usr/lib/x86_64-linux-gnu /usr/share}
ROUNDS=${ROUNDS:-3}
[ "$(id -u)" = 0 ] || { echo "run as root (chroot, mounts, drop_caches)" >&2; exit 2; }
[ -x "$CHROOT/usr/bin/fsck.erofs" ] || { echo "no fsck.erofs in $CHROOT (run tests/data/gen.sh)" >&2; exit 2; }
IN=/var/tmp/erofsfs-bench          # path inside the chroot
W=$CHROOT$IN
OUT=$CHROOT/run/erofsfs-bench-out   # tmpfs, seen by both sides
mkdir -p "$W" "$OUT"
mountpoint -q "$OUT" || mount -t tmpfs -o size=4g tmpfs "$OUT"
trap 'umount "$OUT/m" 2>/dev/null || true; umount "$OUT" 2>/dev/null || true' EXIT
v=$(chroot "$CHROOT" fsck.erofs -V 2>&1 | head -1)

# The five image kinds of the issue, named by the mkfs.erofs options that make them.
declare -A KIND=(
  [plain]=""
  [lz4]="-zlz4"
  [lz4hc]="-zlz4hc -C65536"
  [zstd]="-zzstd -C131072 -Eztailpacking,fragments"
  [lzma]="-zlzma -C65536 -Eall-fragments,dedupe"
)
KINDS="plain lz4 lz4hc zstd lzma"

jobs_flag=""
"$BIN" extract --help 2>&1 | grep -q -- '-j' && jobs_flag="-j ${JOBS:-$(nproc)}"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clean() { rm -rf "$OUT/x"; sync; echo 3 > /proc/sys/vm/drop_caches; }
# time_cmd FILE CMD... : runs CMD, appends "seconds peak_rss_kib" to FILE
time_cmd() {
  local f=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -o "$f.rss" -f '%M' "$@" >/dev/null 2>&1 || true
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc -l) $(tail -1 "$f.rss")" >> "$f"
}

printf '# %s, %s cores, fsck.erofs: %s, rounds: %s, erofsfs flags: %s\n' "$(date -u +%F\ %H:%M)" \
  "$(nproc)" "$v" "$ROUNDS" "${jobs_flag:-none}"
printf '| tree | image | work | erofsfs s | reference s | ratio | erofsfs RSS MiB | ref RSS MiB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for tree in $TREES; do
  tname=$(basename "$tree")
  for k in $KINDS; do
    img=$W/$tname-$k.erofs
    if [ ! -s "$img" ]; then
      mkdir -p "$W/src"
      [ -d "$W/src/$tname" ] || cp -a "$tree" "$W/src/$tname"
      # shellcheck disable=SC2086
      chroot "$CHROOT" mkfs.erofs --quiet ${KIND[$k]} "$IN/$tname-$k.erofs" "$IN/src/$tname" >&2
    fi
    r_e=$OUT/r.e; r_f=$OUT/r.f; : > "$r_e"; : > "$r_f"
    for _ in $(seq "$ROUNDS"); do
      clean; time_cmd "$r_e" "$BIN" extract $jobs_flag "$img" "$OUT/x"
      clean; time_cmd "$r_f" chroot "$CHROOT" fsck.erofs "--extract=${OUT#$CHROOT}/x" "$IN/$tname-$k.erofs"
    done
    te=$(cut -d' ' -f1 "$r_e" | median); tf=$(cut -d' ' -f1 "$r_f" | median)
    me=$(cut -d' ' -f2 "$r_e" | median); mf=$(cut -d' ' -f2 "$r_f" | median)
    printf '| %s | %s | extract vs fsck.erofs --extract | %.2f | %.2f | %.2f | %d | %d |\n' \
      "$tname" "$k" "$te" "$tf" "$(echo "$tf / $te" | bc -l)" $((me / 1024)) $((mf / 1024))
    : > "$r_e"; : > "$r_f"
    for _ in $(seq "$ROUNDS"); do
      clean; time_cmd "$r_e" "$BIN" fsck $jobs_flag "$img"
      clean; time_cmd "$r_f" chroot "$CHROOT" fsck.erofs --extract "$IN/$tname-$k.erofs"
    done
    te=$(cut -d' ' -f1 "$r_e" | median); tf=$(cut -d' ' -f1 "$r_f" | median)
    me=$(cut -d' ' -f2 "$r_e" | median); mf=$(cut -d' ' -f2 "$r_f" | median)
    printf '| %s | %s | fsck vs fsck.erofs --extract (no dir) | %.2f | %.2f | %.2f | %d | %d |\n' \
      "$tname" "$k" "$te" "$tf" "$(echo "$tf / $te" | bc -l)" $((me / 1024)) $((mf / 1024))
    if [ "$k" = lz4 ]; then
      # Against the kernel: cp -a out of a warm mount, and a warm second read-all (the kernel
      # keeps decoded pages; erofsfs is measured as a second `fsck` pass, which decodes again
      # unless a decoded cache serves it).
      mkdir -p "$OUT/m"; mount -t erofs -o ro "$img" "$OUT/m"
      find "$OUT/m" -type f -print0 | xargs -0 cat > /dev/null   # warm
      : > "$r_e"; : > "$r_f"
      for _ in $(seq "$ROUNDS"); do
        rm -rf "$OUT/x"; time_cmd "$r_e" "$BIN" extract $jobs_flag "$img" "$OUT/x"
        rm -rf "$OUT/x"; time_cmd "$r_f" cp -a "$OUT/m" "$OUT/x"
      done
      te=$(cut -d' ' -f1 "$r_e" | median); tf=$(cut -d' ' -f1 "$r_f" | median)
      printf '| %s | %s | extract vs cp -a from a warm kernel mount | %.2f | %.2f | %.2f | | |\n' \
        "$tname" "$k" "$te" "$tf" "$(echo "$tf / $te" | bc -l)"
      : > "$r_e"; : > "$r_f"
      for _ in $(seq "$ROUNDS"); do
        time_cmd "$r_e" "$BIN" fsck $jobs_flag "$img"
        time_cmd "$r_f" sh -c "find '$OUT/m' -type f -print0 | xargs -0 cat"
      done
      te=$(cut -d' ' -f1 "$r_e" | median); tf=$(cut -d' ' -f1 "$r_f" | median)
      printf '| %s | %s | warm read-all vs the kernel mount | %.2f | %.2f | %.2f | | |\n' \
        "$tname" "$k" "$te" "$tf" "$(echo "$tf / $te" | bc -l)"
      umount "$OUT/m"
    fi
  done
done
rm -rf "$OUT/x"
