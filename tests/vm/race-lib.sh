# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the race-*.sh VM cases, sourced after tests/vm/lib.sh. They
# build interleavings step by step: a failed bio is "held" once the status
# counts its error, a round of the error worker runs when the test kicks it
# (an empty flush), and a dm-delay device parks bios until the test has done
# its part. Sleeps only bound the waiting loops.

# wait_exit PID SECONDS: the exit status of background job PID, or 124 if it
# is still running after SECONDS.
wait_exit() {
	local rc=0
	wait_until "$2" eval "! kill -0 $1 2>/dev/null" || return 124
	wait "$1" || rc=$?
	return $rc
}

running() { kill -0 "$1" 2>/dev/null; }

# err_count NAME W|R: write or read errors the target has seen (errors=W<n>:R<n>).
err_count() {
	status_field "$1" errors | sed -n "s/.*$2\([0-9]*\).*/\1/p"
}

# err_grew NAME W|R FROM: the count is above FROM.
err_grew() { [ "$(err_count "$1" "$2")" -gt "$3" ]; }

# kick DEV: an empty flush through DEV; the target starts the error round
# at once instead of after commit_interval. Its own result does not matter.
# The block layer drops empty flushes to devices without a volatile write
# cache: give main one (nullb_create ... $WCACHE).
kick() { dd if=/dev/null of="$1" conv=fsync,notrunc status=none 2>/dev/null || true; }
WCACHE=cache_size=1

# pattern FILE TAG: a 4 KiB block of content derived from TAG.
pattern() {
	rm -f "$1"
	dmr_image pattern "$1" 4096 "$2" 0
}

# put DEV BLOCK FILE [SECTOR_IN_BLOCK COUNT]: O_DIRECT write of FILE's block
# (or of COUNT sectors of it from SECTOR_IN_BLOCK) to block BLOCK of DEV.
# One write(2), so one bio: the retry of exactly that bio is what is tested.
put() {
	local off=${4:-0} n=${5:-8}
	dd if="$3" of="$1" bs=$((n * 512)) count=1 skip=$((off * 512)) \
		seek=$((($2 * 8 + off) * 512)) iflag=skip_bytes \
		oflag=direct,seek_bytes conv=notrunc status=none 2>/dev/null
}

# get DEV BLOCK OUT: O_DIRECT read of block BLOCK of DEV into OUT.
get() {
	dd if="$1" of="$3" bs=4096 skip="$2" count=1 iflag=direct status=none 2>/dev/null
}

# which DEV BLOCK NAME=FILE...: the NAME of the FILE that block BLOCK of DEV
# equals, "EIO" if it cannot be read, else "other".
which_data() {
	local dev=$1 b=$2 kv
	shift 2
	get "$dev" "$b" /tmp/which.blk || { echo EIO; return 0; }
	for kv in "$@"; do
		cmp -s /tmp/which.blk "${kv#*=}" && { echo "${kv%%=*}"; return 0; }
	done
	echo other
}

# model_block MODEL BLOCK OUT: block BLOCK of a dmr-iotest model file.
model_block() { dd if="$1" of="$3" bs=4096 skip="$2" count=1 status=none; }

# slot_of NAME BLOCK: the block's spare slot, empty unless remapped.
slot_of() {
	dmsetup message "$1" 0 query $(($2 * 8)) | sed -n 's/.* remapped slot=\([0-9]*\) .*/\1/p'
}

# delay_table DEV SECTORS READ_MS WRITE_MS: a dm-delay table over all of DEV
# (flushes not delayed).
delay_table() {
	echo "0 $2 delay $1 0 $3 $1 0 $4 $1 0 0"
}

# parked NAME R|W: bios a dm-delay device holds right now (all segments).
parked() {
	local col=4
	[ "$2" = W ] && col=5
	dmsetup status "$1" | awk -v c=$col '{ n += $c } END { print n + 0 }'
}

# parked_at_least NAME R|W N: NAME parks at least N bios (a predicate).
parked_at_least() { [ "$(parked "$1" "$2")" -ge "$3" ]; }

# field_above NAME FIELD FROM: the status field is above FROM (a predicate).
field_above() { [ "$(status_field "$1" "$2")" -gt "$3" ]; }

# sectors_read DEV: sectors read from block device DEV since boot.
sectors_read() { awk '{ print $3 }' "/sys/block/${1##*/}/stat"; }

# stack_create N SPARE_LEN [FEATURES]: null_blk main<N> (4 MiB, with a write
# cache) and spare<N> (1 MiB), main through dm-flakey fmain<N> then dm-delay
# dmain<N>, spare through dm-flakey fspare<N> (all passing everything until
# switched), and remap device r<N> over them with the spare area
# [0, SPARE_LEN). Sets DEV, TABLE, ML, SL and DS (slot 0's sector).
stack_create() {
	local n=$1
	nullb_create main$n 4 512 $WCACHE
	nullb_create spare$n 1 512
	ML=$(sectors /dev/main$n) SL=$2
	dmsetup create fmain$n --table "$(flakey_table /dev/main$n "$ML")"
	dmsetup create dmain$n --table "$(delay_table /dev/mapper/fmain$n "$ML" 0 0)"
	dmsetup create fspare$n --table "$(flakey_table /dev/spare$n "$(sectors /dev/spare$n)")"
	TABLE="0 $ML remap /dev/mapper/dmain$n /dev/mapper/fspare$n 0 $SL${3:+ $3}"
	dmsetup create r$n --table "$TABLE"
	DEV=/dev/mapper/r$n
	geometry_of 4096 "$ML" 0 "$SL"
	DS=$GEO_DATA_START
}

# stack_recreate N: remove and create r<N> again (the metadata is all it has).
stack_recreate() {
	dmsetup remove "r$1" && dmsetup create "r$1" --table "$TABLE"
}

stack_remove() {
	local n=$1
	[ ! -e "/dev/mapper/r$n" ] || dmsetup remove "r$n"
	dmsetup remove "dmain$n" "fmain$n" "fspare$n"
	nullb_remove "main$n"
	nullb_remove "spare$n"
}
