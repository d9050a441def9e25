#!/bin/bash
# Run by the guest's /init shortly before run-vm's timeout kills a stuck
# case: say where every task waits, on the console and in $1 (hang.txt).
full=${1:-/dev/null}

# The user tasks that are not running, with their kernel stacks: a hung
# case is one of them waiting on I/O, a suspend or the worker.
summary() {
	# (not kernel threads: those are kthreadd and its children)
	ps --deselect --ppid 2 -p 2 -o pid=,stat=,wchan:28=,etimes=,args= |
	while read -r pid stat wchan secs args; do
		case "$args" in *hang-dump* | ps\ * | "sleep "* | *dmr-hang*) continue ;; esac
		printf '%6s %-4s %-28s %5ss %.70s\n' "$pid" "$stat" "$wchan" "$secs" "$args"
		case "$stat" in
		R*) ;;
		*) grep -v -E 'entry_SYSCALL|do_syscall_64|^\[<0>\] 0x' "/proc/$pid/stack" 2>/dev/null |
			head -n 8 | sed 's/^\[<0>\] /         /' ;;
		esac
	done
	# Kernel threads only when blocked: the worker waiting on a bio or kcopyd.
	ps --ppid 2 -o pid=,stat=,wchan:28=,comm= | while read -r pid stat wchan comm; do
		case "$stat" in D*) ;; *) continue ;; esac
		printf '%6s %-4s %-28s [%s]\n' "$pid" "$stat" "$wchan" "$comm"
		head -n 8 "/proc/$pid/stack" 2>/dev/null | sed 's/^\[<0>\] /         /'
	done
	echo "-- dmsetup info / status"
	dmsetup info -c -o name,attr,open,events 2>&1
	dmsetup status 2>&1 | cut -c1-200
	for f in /sys/block/dm-*/inflight; do
		[ -f "$f" ] && echo "$f: $(cat "$f")"
	done
}

echo "dmr-hang: the case is about to time out; where every task waits:"
summary | sed 's/^/dmr-hang: /'
{
	summary
	echo "-- blocked tasks (sysrq w) and the end of dmesg"
	echo w >/proc/sysrq-trigger
	sleep 1
	dmesg | tail -n 300
} >"$full" 2>&1
