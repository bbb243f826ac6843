#!/bin/bash
# Differential test against the kernel on damaged images: deterministic mutants of the fixture
# images (byte flips and structure-aware mutations, mutate.cpp) are mounted and walked inside a
# qemu guest running the Linux 6.12 e2e kernel (never on the host kernel: a mutant may crash
# the kernel that mounts it), and read by erofsfs on the host. Where the kernel returns bytes
# without an error, erofsfs must return the same bytes or a named error (compare.py): the run
# fails only on DIFFERENT. Prints the counts: agree / erofsfs stricter / kernel stricter /
# DIFFERENT, per path and per mutant, and any guest hang or kernel fault (reported, not failed:
# those are the kernel's findings).
#
# Runs only with EROFSFS_E2E=1 (exit 77 = skipped otherwise); needs what the cachefiles e2e
# needs (see ../cachefiles/run.sh) and shares its kernel build.
#
# Knobs: MUTANTS (300), SEED (1), MUTANT_TIMEOUT (seconds per mutant in the guest, 20),
#        STALL (seconds without guest progress before the guest is stopped, 120),
#        ACCEL (tcg; "kvm" or "kvm,tcg" where nested KVM works), WORK (scratch dir; kept on failure),
#        CXX (g++), SAVE_DIR (write every DIFFERENT mutant's image there).
set -euo pipefail

if [ "${EROFSFS_E2E:-0}" != 1 ]; then
	echo "mutants e2e: skipped (set EROFSFS_E2E=1 to boot a 6.12 kernel in qemu)"
	exit 77
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
IMAGES=$ROOT/tests/data/images
CXX=${CXX:-g++}
MUTANTS=${MUTANTS:-300}
SEED=${SEED:-1}
MUTANT_TIMEOUT=${MUTANT_TIMEOUT:-20}
STALL=${STALL:-120}
ACCEL=${ACCEL:-tcg}
own_work=0
[ -z "${WORK:-}" ] && { WORK=$(mktemp -d /tmp/erofsfs-e2e-mutants.XXXXXX); own_work=1; }
mkdir -p "$WORK"
log() { echo "== $*" >&2; }

for tool in qemu-system-x86_64 cpio python3 "$CXX"; do
	command -v "$tool" >/dev/null || { echo "mutants e2e: missing $tool" >&2; exit 1; }
done
BUSYBOX=/bin/busybox
readelf -d "$BUSYBOX" 2>/dev/null | grep -q NEEDED && { echo "need busybox-static" >&2; exit 1; }

t0=$(date +%s)
BZIMAGE=$("$ROOT/tests/e2e/cachefiles/build-kernel.sh")
log "kernel: $BZIMAGE ($(( $(date +%s) - t0 ))s)"

t0=$(date +%s)
flags=(-std=c++20 -O2 -Wall -Wextra -Werror -I"$ROOT/include")
"$CXX" "${flags[@]}" -o "$WORK/mutate" "$HERE/mutate.cpp" -llzma -lz -lzstd
"$CXX" "${flags[@]}" -o "$WORK/host_walk" "$HERE/host_walk.cpp" -llzma -lz -lzstd
"$CXX" "${flags[@]}" -static -o "$WORK/guest_walk" "$HERE/guest_walk.cpp"
log "mutator, walkers: $(( $(date +%s) - t0 ))s"

# Every fixture with its blob devices: <name>\t<image>\t<devices|->, relative to $IMAGES.
python3 - "$IMAGES" >"$WORK/images.list" <<'EOF'
import glob, json, os, sys
for info in sorted(glob.glob(os.path.join(sys.argv[1], "*", "info.json"))):
    d = json.load(open(info))
    name = os.path.basename(os.path.dirname(info))
    devs = ",".join(f"{name}/{x['file']}" for x in d.get("devices") or []) or "-"
    print(f"{name}\t{name}/{d['image']['file']}\t{devs}")
EOF
MUTANTS_BASE=$IMAGES "$WORK/mutate" "$WORK/images.list" "$MUTANTS" "$SEED" >"$WORK/jobs"
njobs=$(wc -l <"$WORK/jobs")
log "$njobs jobs ($(wc -l <"$WORK/images.list") pristine images, then $MUTANTS mutants, seed $SEED)"

t0=$(date +%s)
"$WORK/host_walk" "$WORK/jobs" "$IMAGES" "$WORK/host.out"
log "erofsfs walked every job: $(( $(date +%s) - t0 ))s"

R=$WORK/rootfs
rm -rf "$R" && mkdir -p "$R"/{bin,dev,proc,sys,tmp,e2e,images}
cp "$BUSYBOX" "$R/bin/busybox"
cp "$WORK/guest_walk" "$R/bin/"
cp "$HERE/guest-init.sh" "$R/init" && chmod 755 "$R/init"
cp "$WORK/jobs" "$R/e2e/jobs"
while IFS=$'\t' read -r name image devices; do
	mkdir -p "$R/images/$name"
	cp "$IMAGES/$image" "$R/images/$image"
	[ "$devices" = - ] || for d in ${devices//,/ }; do cp "$IMAGES/$d" "$R/images/$d"; done
done <"$WORK/images.list"
(cd "$R" && find . | cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
log "initramfs: $(stat -c %s "$WORK/initramfs.cpio") bytes"

accel=()
for a in ${ACCEL//,/ }; do accel+=(-accel "$a"); done
# Boots the guest from job index $1 with a fresh results disk; returns when the guest powers
# off, or stops it once its console has been quiet for $STALL seconds (a hung kernel).
boot() {
	local start=$1 disk=$WORK/results.$1.img console=$WORK/guest.$1.log
	rm -f "$disk" && truncate -s $(( 64 + njobs / 2 ))M "$disk"
	: >"$console"
	qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$BZIMAGE" -initrd "$WORK/initramfs.cpio" \
		-drive "file=$disk,format=raw,if=virtio" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check mutants.start=$start mutants.timeout=$MUTANT_TIMEOUT" \
		</dev/null >"$console" 2>&1 &
	local qpid=$! last_size=-1 quiet=0
	while kill -0 $qpid 2>/dev/null; do
		sleep 2
		local size; size=$(stat -c %s "$console")
		if [ "$size" = "$last_size" ]; then quiet=$((quiet + 2)); else quiet=0; last_size=$size; fi
		if [ $quiet -ge "$STALL" ]; then
			log "guest quiet for ${STALL}s: stopping it"
			kill $qpid; break
		fi
	done
	wait $qpid || true
	# The results stream ends at the first NUL byte of the disk.
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d[:d.find(b"\0") if b"\0" in d else len(d)])' \
		"$disk" >>"$WORK/guest.out"
	rm -f "$disk"
}

t0=$(date +%s)
: >"$WORK/guest.out"
start=0 boots=0
while :; do
	boots=$((boots + 1))
	boot $start
	grep -aE 'MUTANTS:|Kernel panic|BUG|Oops' "$WORK/guest.$start.log" | grep -v '^MUTANT ' | tail -5 >&2 || true
	tail -n1 "$WORK/guest.out" | grep -qx DONE && break
	# The job that was running when the guest died: BEGIN without END.
	last=$(grep -a -E '^(BEGIN|END) ' "$WORK/guest.out" | tail -n1)
	case "$last" in
	"BEGIN "*) id=${last#BEGIN }; echo "HANG $id" >>"$WORK/guest.out"; log "guest died in $id" ;;
	*) log "guest died between jobs after: $last"; id=${last#END }; id=${id%% *} ;;
	esac
	[ -z "$id" ] && { log "no guest progress at all"; exit 1; }
	idx=$(cut -f1 "$WORK/jobs" | grep -nx -- "$id" | cut -d: -f1)
	start=$idx	# 1-based line number = 0-based index of the next job
	[ "$start" -ge "$njobs" ] && break
	[ $boots -ge 20 ] && { log "too many guest restarts"; break; }
done
log "guest ($ACCEL): $(( $(date +%s) - t0 ))s, $boots boot(s)"

rc=0
python3 "$HERE/compare.py" "$WORK/jobs" "$WORK/guest.out" "$WORK/host.out" || rc=$?
if [ $rc != 0 ] && [ -n "${SAVE_DIR:-}" ]; then
	mkdir -p "$SAVE_DIR"
	python3 "$HERE/compare.py" "$WORK/jobs" "$WORK/guest.out" "$WORK/host.out" --details 100000 |
		sed -n 's/^DIFFERENT \([^ ]*\) .*/\1/p' | sort -u | while read -r id; do
		"$WORK/host_walk" "$WORK/jobs" "$IMAGES" --save "$id" "$SAVE_DIR/$id.erofs"
		grep -P "^\Q$id\E\t" "$WORK/jobs" >"$SAVE_DIR/$id.job"
	done
	log "DIFFERENT mutants saved in $SAVE_DIR"
fi
if [ $rc = 0 ] && [ $own_work = 1 ]; then rm -rf "$WORK"; else log "work dir kept: $WORK"; fi
exit $rc
