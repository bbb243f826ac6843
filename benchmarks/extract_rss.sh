#!/bin/bash
# Peak memory (max RSS) and elapsed time of `erofsfs fsck` and `erofsfs extract` against
# `fsck.erofs` and `fsck.erofs --extract=DIR`, on the same images, interleaved round by round
# so machine load hits every side alike. One or more erofsfs binaries can be compared (e.g.
# before and after a change).
#
#   benchmarks/extract_rss.sh [-r ROUNDS] [-o OUTDIR] IMAGE... -- ERofsFS_BIN...
#
#   FSCK_EROFS  the reference fsck.erofs command (default: fsck.erofs; for a Debian sid chroot
#               at $SID without chrooting:
#               FSCK_EROFS="$SID/lib64/ld-linux-x86-64.so.2 --library-path
#               $SID/usr/lib/x86_64-linux-gnu $SID/usr/bin/fsck.erofs")
#   OUTDIR      where extractions go, deleted after each run (default /dev/shm/erofsfs-rss: tmpfs,
#               so the figures are about reading and decoding, not the disk)
#
# Prints one line per run and, at the end, the median of each (side, work, image):
# elapsed seconds and max RSS in MiB, from /usr/bin/time.
set -euo pipefail

rounds=3
out=/dev/shm/erofsfs-rss
while getopts "r:o:" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
images=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do images+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
bins=("$@")
if [ ${#images[@]} -eq 0 ] || [ ${#bins[@]} -eq 0 ]; then
  echo "usage: $0 [-r ROUNDS] [-o OUTDIR] IMAGE... -- EROFSFS_BIN..." >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
read -r -a ref <<< "${FSCK_EROFS:-fsck.erofs}"

results=$(mktemp)
trap 'rm -rf "$results" "$results.one" "$out"' EXIT

# measure LABEL WORK IMAGE CMD...: runs CMD once, appends "label work image seconds rss_kb".
measure() {
  local label=$1 work=$2 img=$3
  shift 3
  rm -rf "$out"
  /usr/bin/time -o "$results.one" -f "%e %M" "$@" > /dev/null 2>&1 || true
  echo "$label $work $(basename "$img") $(tail -1 "$results.one")" | tee -a "$results"
  rm -rf "$out"
}

for ((r = 1; r <= rounds; r++)); do
  for img in "${images[@]}"; do
    for b in "${bins[@]}"; do
      measure "$b" fsck "$img" "$b" fsck "$img"
      measure "$b" extract "$img" "$b" extract "$img" "$out"
    done
    measure fsck.erofs fsck "$img" "${ref[@]}" "$img"
    measure fsck.erofs extract "$img" "${ref[@]}" --extract="$out" "$img"
  done
done

echo
printf "%-50s %-8s %-22s %10s %12s\n" side work image "elapsed" "max RSS"
sort -k1,1 -k2,2 -k3,3 "$results" | awk '
  function flush() {
    if (n == 0) return
    # medians of elapsed and rss (n is small: insertion sort)
    for (i = 1; i <= n; i++) for (j = i; j > 1 && t[j-1] > t[j]; j--) { x = t[j]; t[j] = t[j-1]; t[j-1] = x }
    for (i = 1; i <= n; i++) for (j = i; j > 1 && m[j-1] > m[j]; j--) { x = m[j]; m[j] = m[j-1]; m[j-1] = x }
    printf "%-50s %-8s %-22s %8.2f s %8.1f MiB\n", key1, key2, key3, t[int((n+1)/2)], m[int((n+1)/2)] / 1024
    n = 0
  }
  { k = $1 " " $2 " " $3; if (k != last) { flush(); last = k; key1 = $1; key2 = $2; key3 = $3 }
    n++; t[n] = $4; m[n] = $5 }
  END { flush() }'
