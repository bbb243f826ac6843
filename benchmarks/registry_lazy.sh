#!/bin/bash
# Issue 11's registry benchmark, in one run: an EROFS image pushed as a layer
# (application/vnd.erofs.layer.v1) to Debian's docker-registry on 127.0.0.1, read lazily by
# `erofsfs ... oci://` against pulling the whole blob first (curl to a local file) and then
# reading it. Every pair runs interleaved (A B A B ...) ROUNDS times; the table prints medians
# and ratio = reference / erofsfs (> 1: lazy is faster or fetches fewer bytes).
#
# Usage: benchmarks/registry_lazy.sh ERORFSFS_BIN [IMAGE]
#   IMAGE     default: the -zlz4 image of /usr/lib/x86_64-linux-gnu that extract_vs_fsck.sh
#             builds (~510 MiB)
#   FILE=P    the file whose first byte is timed (default /libc.so.6)
#   ROUNDS=N  interleaved rounds per pair (default 3)
# Needs docker-registry, curl, python3 and `script` (util-linux); root for the kernel mount that
# lists the files.
set -euo pipefail
BIN=$(readlink -f "$1")
IMG=$(readlink -f "${2:-/var/tmp/erofs-fixtures/sid/var/tmp/erofsfs-bench/x86_64-linux-gnu-lz4.erofs}")
FILE=${FILE:-/libc.so.6}
ROUNDS=${ROUNDS:-3}
for t in docker-registry curl python3 script; do
  command -v "$t" >/dev/null || { echo "registry_lazy.sh: needs $t" >&2; exit 2; }
done
[ -s "$IMG" ] || { echo "no image $IMG (run benchmarks/extract_vs_fsck.sh once)" >&2; exit 2; }

W=$(mktemp -d /var/tmp/erofsfs-registry-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/store}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$W/config.yml" > "$W/registry.log" 2>&1 &
rpid=$!
cleanup() { kill "$rpid" 2>/dev/null || true; umount "$W/m" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
R=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$R/v2/" >/dev/null && break; sleep 0.1; done

# Push: the image as the one layer, an OCI config, the manifest (the registry API, monolithic).
push_blob() {  # FILE -> prints its digest
  local d loc
  d=sha256:$(sha256sum "$1" | cut -d' ' -f1)
  loc=$(curl -sf -D - -o /dev/null -X POST "$R/v2/bench/blobs/uploads/" |
        tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $loc in http*) ;; *) loc=$R$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$loc" >/dev/null
  echo "$d"
}
layer=$(push_blob "$IMG")
size=$(stat -c %s "$IMG")
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$layer" > "$W/config.json"
config=$(push_blob "$W/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.erofs.layer.v1","digest":"%s","size":%s}]}' \
  "$config" "$(stat -c %s "$W/config.json")" "$layer" "$size" > "$W/manifest.json"
curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$W/manifest.json" "$R/v2/bench/manifests/latest" >/dev/null
REF=oci://127.0.0.1:$port/bench:latest

# The workload: every 20th regular file (5%), as the kernel lists them.
mkdir -p "$W/m"
mount -t erofs -o ro "$IMG" "$W/m"
(cd "$W/m" && find . -type f | sort | sed 's|^\.||') > "$W/all"
umount "$W/m"
awk 'NR % 20 == 1' "$W/all" > "$W/five"
nfiles=$(wc -l < "$W/all"); nfive=$(wc -l < "$W/five")
mapfile -t FIVE < "$W/five"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
since() { echo "$(now) - $1" | bc -l; }
# The tool prints what a remote source fetched on a terminal: give its stderr one.
fetched() {  # CMD... -> bytes the remote source fetched
  script -qec "$(printf '%q ' "$@") >/dev/null" /dev/null |
    tr -d '\r' | sed -n 's/.*: fetched \([0-9]*\) bytes.*/\1/p' | awk '{s+=$1} END {print s+0}'
}
pull() { curl -sf -o "$W/blob" "$R/v2/bench/blobs/$layer"; }
drop() { rm -f "$W/blob"; sync; echo 3 > /proc/sys/vm/drop_caches; }

: > "$W/t.lazy"; : > "$W/t.pull"; : > "$W/t5.lazy"; : > "$W/t5.pull"; : > "$W/ra.http"; : > "$W/ra.local"
for _ in $(seq "$ROUNDS"); do
  drop; t0=$(now); "$BIN" cat "$REF" "$FILE" | head -c1 >/dev/null || true; since "$t0" >> "$W/t.lazy"
  drop; t0=$(now); pull; "$BIN" cat "$W/blob" "$FILE" | head -c1 >/dev/null || true; since "$t0" >> "$W/t.pull"
  drop; t0=$(now); "$BIN" cat "$REF" "${FIVE[@]}" >/dev/null; since "$t0" >> "$W/t5.lazy"
  drop; t0=$(now); pull; "$BIN" cat "$W/blob" "${FIVE[@]}" >/dev/null; since "$t0" >> "$W/t5.pull"
  # Read-all: fsck reads every byte; over loopback HTTP from the registry against the local
  # file (warm: the registry's store and the file are both in the page cache).
  t0=$(now); "$BIN" fsck "$REF" >/dev/null 2>&1; since "$t0" >> "$W/ra.http"
  t0=$(now); "$BIN" fsck "$IMG" >/dev/null 2>&1; since "$t0" >> "$W/ra.local"
done
b5=$(fetched "$BIN" cat "$REF" "${FIVE[@]}")
bttfb=$(fetched "$BIN" cat "$REF" "$FILE")
m() { median < "$W/$1"; }
ratio() { echo "$1 / $2" | bc -l; }

printf '# %s, %s cores, image %s (%s bytes, %s files), rounds %s\n' "$(date -u +%F\ %H:%M)" \
  "$(nproc)" "$(basename "$IMG")" "$size" "$nfiles" "$ROUNDS"
printf '| work | erofsfs oci:// (lazy) | pull whole blob, then read | ratio |\n|---|---|---|---|\n'
printf '| time to first byte of %s | %.2f s | %.2f s | %.1f |\n' "$FILE" "$(m t.lazy)" "$(m t.pull)" \
  "$(ratio "$(m t.pull)" "$(m t.lazy)")"
printf '| bytes transferred for the first byte of %s | %s | %s | %.1f |\n' "$FILE" "$bttfb" "$size" \
  "$(ratio "$size" "$bttfb")"
printf '| read %s files (5%%): time | %.2f s | %.2f s | %.1f |\n' "$nfive" "$(m t5.lazy)" "$(m t5.pull)" \
  "$(ratio "$(m t5.pull)" "$(m t5.lazy)")"
printf '| read %s files (5%%): bytes transferred | %s | %s | %.1f |\n' "$nfive" "$b5" "$size" \
  "$(ratio "$size" "$b5")"
printf '| read-all (fsck), loopback HTTP vs local file | %.2f s | %.2f s (local) | %.2f |\n' \
  "$(m ra.http)" "$(m ra.local)" "$(ratio "$(m ra.local)" "$(m ra.http)")"
