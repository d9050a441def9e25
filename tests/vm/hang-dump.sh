#!/bin/busybox sh
# Run by the guest's /init (from the initramfs, so that it works even when
# the 9p mounts are what hangs) shortly before run-vm's timeout: say where
# every task waits, on the console and, with dmesg, in the file $1.
full=$1

# User tasks that are not running, and blocked kernel threads (the worker
# waiting on a bio or kcopyd), with their kernel stacks.
tasks() {
	for d in /proc/[0-9]*; do
		[ -r "$d/stat" ] || continue
		state=$(sed 's/.*) //' "$d/stat" | cut -d' ' -f1)
		args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | cut -c1-70)
		case "$args" in *hang-dump* | "sleep "* | sed\ * | "cut "* | "tr "*) continue ;; esac
		if [ -z "$args" ]; then
			[ "$state" = D ] || continue
			args="[$(cat "$d/comm")]"
		fi
		echo "${d#/proc/} $state $(cat "$d/wchan" 2>/dev/null) $args"
		[ "$state" = R ] || grep -v -e do_syscall -e entry_SYSCALL "$d/stack" 2>/dev/null |
			sed -n '1,8s/^\[<0>\] /    /p'
	done
}

t=$(tasks)
echo "dmr-hang: the case is about to time out; where its tasks wait:"
echo "$t" | sed 's/^/dmr-hang: /'
timeout 30 chroot /host /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c 'dmsetup info -c -o name,attr,open,events
	dmsetup status | cut -c1-200
	grep -H . /sys/block/dm-*/inflight' 2>&1 | sed 's/^/dmr-hang: /'
{
	echo "$t"
	echo "-- blocked tasks (sysrq w) and the end of dmesg"
	echo w >/proc/sysrq-trigger
	sleep 1
	dmesg | tail -n 300
} >"$full" 2>&1
