#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Guest side of `make check-debug` (tests/kernel/check-debug.sh): run one VM
# case on the debug kernel with the module built against that kernel, then
# scan for leaks. Usage (through run-vm): debug-case.sh KO CASE [args...]
#
# The case sees DMR_DEBUG_KERNEL=1 and DMR_SCALE (a divisor for sizes,
# durations and loop counts; lib.sh's `scaled N` applies it), so that it can
# do less work under TCG + KASAN; it must say so in its log when it does.
set -uo pipefail
ko=$1 case=$2
shift 2
TOP=${DMR_CHECKOUT:-$(pwd)}
OUT=${DMR_OUT:-/tmp}
export DMR_DEBUG_KERNEL=1 DMR_SCALE=${DMR_SCALE:-4}

echo "debug-case: kernel $(uname -r), module $ko, DMR_SCALE=$DMR_SCALE"
# Every case loads "$TOP/dm-remap.ko": in this guest (only) that is the
# module built against the debug tree.
mount --bind "$ko" "$TOP/dm-remap.ko" || {
	echo "debug-case: cannot bind $ko over $TOP/dm-remap.ko"
	exit 1
}

kml=/sys/kernel/debug/kmemleak
if [ ! -w $kml ]; then
	echo "debug-case: no $kml: is this the debug kernel?"
	exit 1
fi
# Whatever boot left behind is not ours: report it, then forget it.
echo scan >$kml
cat $kml >"$OUT/kmemleak-boot.txt"
if [ -s "$OUT/kmemleak-boot.txt" ]; then
	echo "debug-case: $(grep -c '^unreferenced object' "$OUT/kmemleak-boot.txt") leak(s) from boot, not counted:"
	head -n 20 "$OUT/kmemleak-boot.txt"
	# run-vm fails on the "new suspected memory leaks" line this scan
	# printed: keep the boot log aside, check it here for every other
	# report, and start the case with an empty kernel log.
	dmesg >"$OUT/dmesg-boot.log"
	if grep -v 'kmemleak: [0-9]* new suspected' "$OUT/dmesg-boot.log" |
		grep -E 'WARNING:|BUG:|Oops|sleeping function|lockdep|KASAN|UBSAN|RCU stall|rcu: INFO|Call Trace|suspicious RCU'; then
		echo "debug-case: kernel report during boot (dmesg-boot.log)"
		exit 1
	fi
	dmesg -C
fi
echo clear >$kml

bash "$case" "$@"
rc=$?
echo "debug-case: $case exited $rc"

# The module is normally unloaded by the case; objects must be 5 s old
# before kmemleak reports them, and two scans catch what the first missed.
sleep 6
echo scan >$kml
echo scan >$kml
cat $kml >"$OUT/kmemleak.txt"
if [ -s "$OUT/kmemleak.txt" ]; then
	echo "debug-case: KMEMLEAK REPORT:"
	cat "$OUT/kmemleak.txt"
	[ "$rc" != 0 ] || rc=1
else
	echo "debug-case: kmemleak: no leaks"
fi
grep '^dm_remap ' /proc/modules && echo "debug-case: note: dm_remap still loaded"
exit "$rc"
