#!/bin/busybox sh
# /init of the mutant guest (busybox, no libc): walks every job from the index given on the
# kernel command line (mutants.start=N) with guest_walk, which writes its results to the virtio
# disk /dev/vda, then powers off. A mutant that hangs or crashes the kernel ends the run early;
# the host boots again from the next job.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
start=0 timeout=20
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	mutants.start=*) start=${arg#mutants.start=} ;;
	mutants.timeout=*) timeout=${arg#mutants.timeout=} ;;
	esac
done
echo "MUTANTS: userspace up at $(cut -d' ' -f1 /proc/uptime)s, jobs from $start"
/bin/guest_walk /e2e/jobs /images /dev/vda "$start" "$timeout"
echo "MUTANTS: guest_walk exited with $? at $(cut -d' ' -f1 /proc/uptime)s"
sync
reboot -f	# qemu runs with -no-reboot: this ends it
