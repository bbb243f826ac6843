#!/bin/busybox sh
# /init of the e2e guest (busybox, no libc): serves fixture images to EROFS in fscache mode
# with the erofsfs daemon, checks every mount against the fixture manifest, then kills the
# daemon in the middle of a read and checks that a restarted one recovers with `restore`, then
# kills it with SIGKILL at 20+ random points of two cold reads and checks every byte.
# Prints "E2E-RESULT: PASS|FAIL" and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "E2E: userspace up, guest uptime $(cut -d' ' -f1 /proc/uptime)s"

rc=0
finish() {
	echo "--- kernel messages about erofs/cachefiles"
	dmesg | grep -i -E 'erofs|cachefiles|fscache' | tail -20
	[ $rc = 0 ] && echo "E2E-RESULT: PASS" || echo "E2E-RESULT: FAIL"
	sync
	reboot -f	# qemu runs with -no-reboot: this ends it
}
fatal() { echo "E2E: FAIL ($*)"; rc=1; for l in /tmp/d*.log; do echo "--- $l"; tail -20 "$l"; done; finish; }

# cachefiles needs a backing fs with xattrs, O_TMPFILE, ->sync_fs and real SEEK_DATA/HOLE.
mke2fs -q -b 4096 /dev/ram0 || fatal mke2fs
mkdir -p /cache
mount -t ext4 /dev/ram0 /cache || fatal "mount cache fs"
mkdir -p /cache/fscache

# This shell holds the device open for the whole run: the cache (and the mounts) survive a
# daemon's death only while the device stays open somewhere.
exec 3<>/dev/cachefiles || fatal "open /dev/cachefiles"

DPID=
start_daemon() {	# start_daemon LOG ARGS...: background daemon on fd 3, waits for "ready"
	log=$1; shift
	/bin/ondemandd --devnode-fd 3 --blobs /blobs "$@" 2>"$log" &
	DPID=$!
	i=0
	while ! grep -q 'serve-cachefiles: ready' "$log"; do
		kill -0 $DPID 2>/dev/null || { cat "$log"; return 1; }
		i=$((i + 1)); [ $i -gt 300 ] && return 1
		usleep 100000
	done
}
reads() { grep -c ' READ ' "$1"; }

start_daemon /tmp/d1.log --cache /cache/fscache --tag erofsfs-e2e -v || fatal "daemon bind"
echo "E2E: daemon bound"

# --- every fixture: mount, verify the whole tree, unmount ---
while read label image fsid device; do
	opts="fsid=$fsid"
	[ -n "$device" ] && opts="$opts,device=$device"
	mkdir -p "/mnt/$label"
	r0=$(reads /tmp/d1.log)
	if ! mount -t erofs none -o "$opts" "/mnt/$label"; then
		echo "E2E: FAIL mount $label ($opts)"; rc=1; continue
	fi
	known=; [ -f "/e2e/$image.known" ] && known="/e2e/$image.known"
	/bin/check_tree "/mnt/$label" "/e2e/$image.list" $known >/tmp/check.out
	st=$?
	tail -6 /tmp/check.out
	[ $st = 0 ] || { echo "E2E: FAIL check $label"; rc=1; }
	echo "E2E: $label ($opts): $(( $(reads /tmp/d1.log) - r0 )) READ requests"
	umount "/mnt/$label" || { echo "E2E: FAIL umount $label"; rc=1; }
done </e2e/mounts

# --- warm cache: the cache files keep what was fetched ---
first=$(head -n1 /e2e/mounts)
set -- $first
label=$1 image=$2 fsid=$3
r0=$(reads /tmp/d1.log)
mount -t erofs none -o "fsid=$fsid" /mnt/$label || { echo "E2E: FAIL remount $label"; rc=1; }
/bin/check_tree "/mnt/$label" "/e2e/$image.list" >/dev/null || { echo "E2E: FAIL warm $label"; rc=1; }
echo "E2E: warm re-read of $label: $(( $(reads /tmp/d1.log) - r0 )) READ requests"
umount /mnt/$label

# --- clean shutdown on SIGTERM ---
kill -TERM $DPID
wait $DPID
st=$?
grep -q 'shutting down' /tmp/d1.log && [ $st = 0 ] ||
	{ echo "E2E: FAIL daemon exit status $st on SIGTERM"; rc=1; }
echo "E2E: daemon 1: $(tail -1 /tmp/d1.log)"

# --- failover: the daemon dies holding an unanswered READ; a new one restores ---
FAILOVER=$(cat /e2e/failover)
set -- $FAILOVER
label=$1 image=$2 fsid=$3 device=$4
opts="fsid=$fsid"
[ -n "$device" ] && opts="$opts,device=$device"
start_daemon /tmp/d2.log --restore --exit-after-reads 3 || fatal "daemon 2"
mkdir -p /mnt/failover
# Mount and check in the background: both block while no daemon answers.
( mount -t erofs none -o "$opts" /mnt/failover &&
	/bin/check_tree /mnt/failover "/e2e/$image.list" ) >/tmp/failover.out 2>&1 &
CPID=$!
i=0
while kill -0 $DPID 2>/dev/null; do	# it must die on its 4th READ
	i=$((i + 1)); [ $i -gt 600 ] && { echo "E2E: FAIL daemon 2 never saw 4 READs"; kill $DPID; rc=1; break; }
	usleep 100000
done
wait $DPID
st=$?
echo "E2E: daemon 2 exited with $st: $(grep 'unanswered' /tmp/d2.log)"
[ $st = 3 ] || { echo "E2E: FAIL daemon 2 did not die mid-read"; rc=1; }
usleep 300000
kill -0 $CPID 2>/dev/null && echo "E2E: reader is blocked while no daemon runs"
start_daemon /tmp/d3.log --restore -v || fatal "daemon 3"
i=0
while kill -0 $CPID 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 1200 ] && { echo "E2E: FAIL reader still blocked after restore"; rc=1; break; }
	usleep 100000
done
wait $CPID || { echo "E2E: FAIL failover check"; rc=1; }
tail -3 /tmp/failover.out
echo "E2E: daemon 3 after restore: $(grep -c ' OPEN ' /tmp/d3.log) OPEN, $(reads /tmp/d3.log) READ"
[ "$(grep -c ' OPEN ' /tmp/d3.log)" -gt 0 ] || { echo "E2E: FAIL no re-OPEN after restore"; rc=1; }
umount /mnt/failover || rc=1

# --- chaos: SIGKILL the daemon at random points of two cold reads (a large file and a whole
# tree); each time a new daemon restores. Every byte must be right, no reader stuck. How many
# kills fit into the reads depends on how fast this machine reads and restarts daemons (18 to
# 24 of the 24 asked for have been seen), so the floor is 12: enough kills to land before,
# during and after READs, without making the test a timing test. ---
kill -9 $DPID; wait $DPID
start_daemon /tmp/c0.log --restore -v || fatal "chaos daemon 0"
PIDS=
while read label image fsid; do
	mkdir -p "/mnt/$label"
	( mount -t erofs none -o "fsid=$fsid" "/mnt/$label" &&
		/bin/check_tree "/mnt/$label" "/e2e/$image.list" ) >"/tmp/$label.out" 2>&1 &
	PIDS="$PIDS $!"
done </e2e/chaos
alive() { for p in $PIDS; do kill -0 $p 2>/dev/null && return 0; done; return 1; }
kills=0
while [ $kills -lt ${CHAOS_KILLS:-24} ] && alive; do
	# Kill at a random instant once the daemon has started serving: before, during or after
	# it writes a READ's data to the cache file and answers.
	r0=$(reads /tmp/c$kills.log); i=0
	while [ "$(reads /tmp/c$kills.log)" -le "$r0" ] && [ $i -lt 100 ] && alive; do usleep 20000; i=$((i + 1)); done
	usleep $(( (RANDOM % 30) * 1000 ))
	kill -9 $DPID; wait $DPID
	kills=$((kills + 1))
	start_daemon /tmp/c$kills.log --restore -v || fatal "chaos daemon $kills"
done
echo "E2E: chaos: $kills SIGKILLs during the cold reads"
[ $kills -ge 12 ] || { echo "E2E: FAIL chaos: the reads ended after $kills kills, want >= 12"; rc=1; }
i=0
while alive; do
	i=$((i + 1)); [ $i -gt 1200 ] && { echo "E2E: FAIL chaos: reader stuck after the last restore"; rc=1; break; }
	usleep 100000
done
for p in $PIDS; do wait $p || { echo "E2E: FAIL chaos reader $p"; rc=1; }; done
while read label image fsid; do
	tail -3 "/tmp/$label.out"
	umount "/mnt/$label" || rc=1
done </e2e/chaos
kill -TERM $DPID
wait $DPID || { echo "E2E: FAIL last chaos daemon exit"; rc=1; }
[ $rc = 0 ] || for l in /tmp/d*.log; do echo "--- $l"; grep -v -E ' (READ|OPEN|CLOSE) ' "$l" | tail -20; done
finish
