#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Remaps and data survive a reboot: two raw disk images (main 64 MiB, spare
# 32 MiB). Boot 1 creates the remap device on /dev/vda + /dev/vdb, writes
# data, remaps and unremaps blocks, records the model on the checkout share
# and powers off with the device still active. Boot 2 creates the same
# table: the same remaps are listed, the data is identical, more remaps work,
# and dm-remap-tool check is clean (in the guest and on the host image).
#
# Host mode (no arguments): run by tests/run-all. Guest mode: this same file
# run by tests/vm/run-vm with "guest 1" or "guest 2".
set -euo pipefail

if [ "${1:-}" = guest ]; then
	boot=$2
	. tests/vm/lib.sh
	W=$TOP/build/vm/persist-reboot-$(uname -r)
	load_module
	L=$(sectors /dev/vda)
	SL=$(sectors /dev/vdb)
	TABLE="0 $L remap /dev/vda /dev/vdb 0 $SL"
	geometry_of 4096 "$L" 0 "$SL"
	dev=/dev/mapper/r0
	if [ "$boot" = 1 ]; then
		dmsetup create r0 --table "$TABLE"
		check "boot 1: blank disk formatted (generation 2)" \
			test "$(status_field r0 generation)" = 2
		: >/tmp/set
		check "boot 1: fill" "$IOTEST" fill "$dev" /tmp/model 71
		out=$("$RT" storm r0 /tmp/set bs=8 blocks="$GEO_NR_BLOCKS" slots="$GEO_NR_SLOTS" \
			seed=7 msgs=40 maxrun=50 unremap=25 hit=50 2>&1) &&
			ok "boot 1: remaps: $out" || fail "boot 1: storm: $out"
		check "boot 1: writes across remapped blocks" \
			"$RT" bwrite "$dev" /tmp/model 72 150 /tmp/set 4096 direct
		check "boot 1: random writes" "$IOTEST" write "$dev" /tmp/model 73 150 512 1048576 direct
		check "boot 1: buffered writes" "$IOTEST" write "$dev" /tmp/model 74 50 1 1048576 buffered
		check "boot 1: identical" "$IOTEST" verify "$dev" /tmp/model
		"$RT" list r0 256 >/tmp/list 2>/dev/null || true
		check "boot 1: list = model" "$RT" checkmap r0 /tmp/set /tmp/list bs=8 \
			blocks="$GEO_NR_BLOCKS" data_start="$GEO_DATA_START" samples=20
		status_field r0 generation >/tmp/generation
		cp /tmp/model /tmp/set /tmp/list /tmp/generation "$W/"
		sync
		log "boot 1: $(wc -l </tmp/set) remaps, generation $(cat /tmp/generation); powering off with r0 active"
	else
		dmsetup create r0 --table "$TABLE"
		"$RT" list r0 256 >/tmp/list 2>/dev/null || true
		check "boot 2: same remaps listed ($(wc -l </tmp/list))" cmp -s /tmp/list "$W/list"
		check "boot 2: same generation ($(cat "$W/generation"))" \
			test "$(status_field r0 generation)" = "$(cat "$W/generation")"
		cp "$W/model" "$W/set" /tmp/
		check "boot 2: data identical" "$IOTEST" verify "$dev" /tmp/model
		check "boot 2: list/query = model" "$RT" checkmap r0 /tmp/set /tmp/list bs=8 \
			blocks="$GEO_NR_BLOCKS" data_start="$GEO_DATA_START" samples=50
		out=$("$RT" storm r0 /tmp/set bs=8 blocks="$GEO_NR_BLOCKS" slots="$GEO_NR_SLOTS" \
			seed=8 msgs=10 maxrun=50 unremap=30 hit=50 2>&1) &&
			ok "boot 2: more remaps: $out" || fail "boot 2: storm: $out"
		check "boot 2: writes" "$IOTEST" write "$dev" /tmp/model 75 100 512 1048576 direct
		check "boot 2: identical" "$IOTEST" verify "$dev" /tmp/model
		"$RT" list r0 256 >"$W/list2" 2>/dev/null || true
		dmsetup remove r0
		check "boot 2: dm-remap-tool check clean" "$DMR_TOOL" check -q /dev/vdb
		check "rmmod dm_remap" unload_module
	fi
	finish
	exit
fi

top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
# The kernel KVER names (tests/kver; tests/run-all sets it): run-vm boots
# it, and its work and log directories are its own.
KVER=$(tests/kver "${KVER:-}") || exit 1
export KVER
W=build/vm/persist-reboot-$KVER
logs=${DMR_VM_LOGS:-build/vm-logs}
rm -rf "$W"
mkdir -p "$W"
truncate -s 64M "$W/main.img"
truncate -s 32M "$W/spare.img"
rc=0
for boot in 1 2; do
	if tests/vm/run-vm --timeout 600 --name "persist-reboot-$boot" \
		--disk "$W/main.img" --disk "$W/spare.img" \
		tests/vm/host/persist-reboot.sh guest "$boot"; then
		echo "PASS: boot $boot ($(grep -c '^ok:' "$logs/persist-reboot-$boot/console.log") checks)"
	else
		echo "FAIL: boot $boot (log: $logs/persist-reboot-$boot/console.log)"
		grep -E '^FAIL|run-vm|DMR-RESULT' "$logs/persist-reboot-$boot/console.log" || true
		rc=1
		break
	fi
done
if [ $rc = 0 ]; then
	if out=$(tools/dm-remap-tool check "$W/spare.img" 2>&1); then
		echo "PASS: dm-remap-tool check of spare.img on the host: $(tail -n1 <<<"$out")"
	else
		echo "FAIL: dm-remap-tool check of spare.img on the host:"
		echo "$out"
		rc=1
	fi
	# The host's dump of the image maps the blocks the guest listed last.
	tools/dm-remap-tool dump "$W/spare.img" | awk '$1 == "map" { print $2, $3 }' |
		sort -n >"$W/host-map"
	awk '{ print $2, $3 }' "$W/list2" >"$W/guest-map"
	if [ -s "$W/guest-map" ] && cmp -s "$W/host-map" "$W/guest-map"; then
		echo "PASS: host dump of spare.img = guest list ($(wc -l <"$W/host-map") remaps)"
	else
		echo "FAIL: host dump of spare.img differs from the guest's list"
		rc=1
	fi
fi
[ $rc = 0 ] && rm -f "$W/main.img" "$W/spare.img" "$W/model"
exit $rc
