# SPDX-License-Identifier: GPL-2.0-only
# Allocation failures in the worker lose nothing and leave the bookkeeping
# consistent. A bpftrace override() of should_failslab fails one allocation
# at a chosen point (needs FUNCTION_ERROR_INJECTION and BPF_KPROBE_OVERRIDE:
# the debug kernel of `make check-debug`; Debian's kernel skips):
# 1) `remap` of 8 blocks, one of them with a bad sector on main: the run's
#    read fails and the block-by-block retry cannot allocate. No block may
#    be remapped to a slot its data never reached.
# 2) A whole-block write to a pending block, in a fresh table, whose
#    pending record cannot be queued: if the write is acknowledged the data
#    must be there, live and after re-create; if not, the block stays
#    pending, and status agrees with list.
# 3) A whole-block write to a bad block whose commit cannot allocate: the
#    write fails, and the records it queued must not go out with a later
#    commit (they would name a slot the block no longer has).
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/bpftrace.sh
. tests/vm/race-lib.sh
requires_module null_blk
requires_cmd bpftrace python3
grep -qw should_failslab /sys/kernel/debug/error_injection/list 2>/dev/null ||
	skip "kernel $(uname -r) cannot inject allocation failures (no FUNCTION_ERROR_INJECTION)"
load_module
nullb_setup
nullb_create main0 16 512
nullb_create spare0 8 512
ML=$(sectors /dev/main0)
TABLE="0 $ML remap /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)"
dmsetup create r0 --table "$TABLE"
DEV=/dev/mapper/r0
M=/tmp/model
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 3

# consistent LABEL: status counts = list counts, spare used = remaps + bad.
consistent() {
	local lr lp
	dmr_status r0
	lr=$(dmr_remapped r0 | wc -l)
	lp=$(dmr_pending r0 | wc -l)
	log "$1: ${ST[line]}"
	check "$1: status remaps=${ST[remaps]} pending=${ST[pending]} = list ($lr, $lp)" \
		test "${ST[remaps]} ${ST[pending]}" = "$lr $lp"
	check "$1: spare used = remaps + bad_slots (${ST[spare]} ${ST[remaps]} ${ST[bad_slots]})" \
		test "${ST[spare]%/*}" = $((ST[remaps] + ST[bad_slots]))
}

# inject NAME FUNCTION DEPTH: fail the first slab allocation made at
# recursion depth DEPTH of FUNCTION (a module function), once.
inject() {
	bt_start "$1" --unsafe -e "
		BEGIN { printf(\"Tracing allocations of $2\\n\"); }
		kprobe:$2 { @d[tid]++; }
		kretprobe:$2 { @d[tid]--; }
		kprobe:should_failslab /@d[tid] == $3 && @injected == 0/ {
			override(-12);
			@injected = 1;
			printf(\"injected ENOMEM in $2 (depth $3)\\n\");
		}
		END { clear(@d); }"
	bt_wait "$1"
}
injected() {
	bt_stop "$1"
	check "$1: the allocation failure was injected" \
		grep -q "^injected ENOMEM" "$OUT/$1.out"
}

# --- 1: the block-by-block retry of a failed copy run cannot allocate ---
B=200
nullb_bad main0 + $(((B + 3) * 8 + 5)) $(((B + 3) * 8 + 5))
echo $((B + 3)) >/tmp/eio
inject copy dmr_copy_blocks 2
rc=0
out=$(dmsetup message r0 0 remap $((B * 8)) 64 2>&1) || rc=$?
log "1: remap $B..$((B + 7)) -> rc=$rc '$out'"
injected copy
check "1: blocks $B..$((B + 7)) = model, $((B + 3)) (bad sector on main) fails: nothing invented" \
	dmr_image check "$DEV" "$M" 4096 /tmp/eio $B 8
consistent "1"
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
check "1: after re-create the same" dmr_image check "$DEV" "$M" 4096 /tmp/eio $B 8
consistent "1 re-created"
out=$(dmsetup message r0 0 remap $((B * 8)) 64 2>&1) || true
log "1: remap again without injection: '$out'"
check "1: after it the same" dmr_image check "$DEV" "$M" 4096 /tmp/eio $B 8
consistent "1 remapped"

# --- 2: the pending record of a rewritten pending block cannot be queued ---
P=300
nullb_bad main0 + $((P * 8)) $((P * 8 + 7))
expect_fail "2: read of bad block $P fails" blk_read "$DEV" $P
check "2: block $P is pending" test "$(dmr_query r0 $P)" = pending
# A fresh table: its queue of record changes is not allocated yet.
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
pattern /tmp/p-new 2-p
inject queue dmr_md_set 1
if put "$DEV" $P /tmp/p-new; then W=acknowledged; else W=failed; fi
log "2: whole-block write to pending block $P: $W"
injected queue
if [ $W = acknowledged ]; then
	check "2: the acknowledged write reads back" eval 'get "$DEV" $P /tmp/p-got && cmp -s /tmp/p-new /tmp/p-got'
else
	check "2: the failed write left $P pending" test "$(dmr_query r0 $P)" = pending
	expect_fail "2: ... and unreadable" blk_read "$DEV" $P
fi
consistent "2"
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
if [ $W = acknowledged ]; then
	check "2: after re-create the acknowledged write reads back" \
		eval 'get "$DEV" $P /tmp/p-got && cmp -s /tmp/p-new /tmp/p-got'
else
	check "2: after re-create $P is pending" test "$(dmr_query r0 $P)" = pending
fi
consistent "2 re-created"
check "2: the write without injection succeeds" put "$DEV" $P /tmp/p-new
check "2: ... and reads back" eval 'get "$DEV" $P /tmp/p-got && cmp -s /tmp/p-new /tmp/p-got'
consistent "2 rewritten"
dd if=/tmp/p-new of="$M" bs=4096 seek=$P conv=notrunc status=none

# --- 3: a commit that cannot allocate takes its queued records with it ---
# The round undoes the remap in memory; records left queued would go out
# with the next commit, naming a freed slot for the block.
Q=400
nullb_bad main0 + $((Q * 8 + 2)) $((Q * 8 + 2))
pattern /tmp/q-new 3-q
inject commit dmr_md_commit 1
if put "$DEV" $Q /tmp/q-new; then W=acknowledged; else W=failed; fi
log "3: whole-block write to bad block $Q, its commit cannot allocate: $W"
injected commit
check "3: that write failed (its remap was not committed)" test $W = failed
check "3: block $Q is not remapped" test "$(dmr_query r0 $Q)" = main
consistent "3"
check "3: a commit message" dmsetup message r0 0 commit
check "3: the write without injection succeeds" put "$DEV" $Q /tmp/q-new
consistent "3 rewritten"
dmsetup remove r0
check "3: re-create loads the metadata" dmsetup create r0 --table "$TABLE"
check "3: after re-create $Q reads back the acknowledged write" \
	eval 'get "$DEV" $Q /tmp/q-got && cmp -s /tmp/q-new /tmp/q-got'
consistent "3 re-created"
dd if=/tmp/q-new of="$M" bs=4096 seek=$Q conv=notrunc status=none
check "the whole device = model, only block $((B + 3)) fails" \
	dmr_image check "$DEV" "$M" 4096 /tmp/eio
dmsetup remove r0
out=$("$DMR_TOOL" check /dev/spare0 2>&1) || true
check "dm-remap-tool check: clean" tool_says "$out" "^result: clean"
nullb_remove main0
nullb_remove spare0
finish
