#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `make check-debug [CASES="pattern ..."]`: the VM tests on a debug kernel
# (all of them, or those whose name contains one of the patterns).
#
# 1. Builds (once; cached in /var/cache/dm-remap/debug-<version>-<hash>/)
#    Debian's linux-source-6.1 with a trimmed config and KASAN (inline),
#    PROVE_LOCKING, PROVE_RCU, DEBUG_ATOMIC_SLEEP, DEBUG_KMEMLEAK and
#    DEBUG_OBJECTS_RCU_HEAD (tests/kernel/debug.config), under nice -n 19.
# 2. Builds dm-remap.ko against it with W=1 (build/debug/module/).
# 3. Boots it for every tests/vm/cases/*.sh (run-vm --kernel --moddir), with
#    tests/vm/debug-case.sh around the case: the debug module in place of
#    dm-remap.ko, DMR_DEBUG_KERNEL=1 and DMR_SCALE for the case, a kmemleak
#    scan after it. run-vm fails a case on any KASAN, lockdep, RCU,
#    kmemleak, "sleeping function" or other kernel report in the guest log.
# Logs: build/vm-logs-debug/<case>/; ends with "N passed, N failed".
#
# Environment: DMR_SCALE (default 4), DMR_DEBUG_TIMEOUT_FACTOR (default 10:
# a case's "# vm-timeout:" is multiplied by it, plus 300 s for the boot),
# DMR_DEBUG_MEM (MiB, default 3072), DMR_JOBS (guests at a time, default 2).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1
only=${1:-${CASES:-}}
factor=${DMR_DEBUG_TIMEOUT_FACTOR:-10}
mem=${DMR_DEBUG_MEM:-3072}
jobs=${DMR_JOBS:-2}
export DMR_SCALE=${DMR_SCALE:-4}

start=$SECONDS
tree=$(tests/kernel/build-tree.sh --series 6.1 --name debug \
	--base x86_64_defconfig --frag kernel/configs/kvm_guest.config \
	--frag tests/kernel/debug.config --targets "bzImage modules" \
	--modules-install | tail -n1)
[ -n "$tree" ] && [ -f "$tree/.done" ] || {
	echo "check-debug: debug kernel build failed"
	echo "0 passed, 1 failed"
	exit 1
}
release=$(cat "$tree/kernelrelease")
echo "check-debug: kernel $release ready in $((SECONDS - start))s" \
	"(built once in $(cat "$tree/build-seconds")s): $tree"

# The userspace helpers the cases use, and the Debian-kernel module that the
# guest's bind mount replaces.
make -s userspace >/dev/null || { echo "check-debug: make userspace failed"; exit 1; }
[ -f dm-remap.ko ] || make -s module >/dev/null || {
	echo "check-debug: make module failed"
	exit 1
}

mdir=build/debug/module
rm -rf "$mdir"
mkdir -p "$mdir"
cp -a Kbuild src include "$mdir/"
find "$mdir" \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' -o -name '*.mod' \
	-o -name '*.mod.c' \) -delete
if ! make -C "$tree/build" M="$top/$mdir" W=1 modules >"$mdir/build.log" 2>&1 ||
	grep -E 'warning:|error:|WARNING:' "$mdir/build.log"; then
	echo "check-debug: module build against $release failed or warned ($mdir/build.log)"
	tail -n 20 "$mdir/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "check-debug: dm-remap.ko built against $release (W=1, clean)"

# 4-level paging: with 5-level paging (QEMU's -cpu max offers LA57) this
# KASAN kernel reports a wild-memory-access in an interrupt taken during
# identify_boot_cpu(), before any test runs.
cmdline="no5lvl"

logs=$top/build/vm-logs-debug
mkdir -p "$logs"
. tests/results.sh
# run_case NAME SCRIPT: one guest; "rc seconds" in $logs/NAME.rc.
run_case() {
	local name=$1 t=$2 timeout opts t0=$SECONDS
	timeout=$(sed -n 's/^# vm-timeout: *//p' "$t")
	timeout=$((${timeout:-600} * factor + 300))
	opts=$(sed -n 's/^# vm-options: *//p' "$t")
	# shellcheck disable=SC2086
	tests/vm/run-vm --kernel "$tree/build/arch/x86/boot/bzImage" \
		--kver "$release" --moddir "$tree/mods/lib/modules" \
		--logs "$logs" --name "$name" --mem "$mem" --timeout "$timeout" \
		--cmdline "$cmdline" \
		$opts tests/vm/debug-case.sh "$top/$mdir/dm-remap.ko" "$t" \
		>"$logs/$name.log" 2>&1
	echo "$? $((SECONDS - t0))" >"$logs/$name.rc"
}
# $jobs guests at a time (each keeps about one host CPU busy).
names=()
for t in tests/vm/cases/*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "$only" ]; then
		hit=0
		for p in $only; do [[ "$name" != *$p* ]] || hit=1; done
		[ $hit = 1 ] || continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	rm -f "$logs/$name.rc"
	run_case "$name" "$t" &
	names+=("$name")
done
wait
for name in "${names[@]}"; do
	read -r rc secs <"$logs/$name.rc" 2>/dev/null || rc=1 secs='?'
	result "debug/$name" "$rc" "$secs" "$logs/$name.log"
done
echo "check-debug: total $((SECONDS - start))s"
summary
