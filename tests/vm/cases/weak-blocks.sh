# SPDX-License-Identifier: GPL-2.0-only
# Weak blocks: main is a composite table, linear except a dm-flakey segment
# (blocks 100..103, up 5 s, down 1 s) and a dm-delay segment (blocks
# 200..203, 2 s a read). A read that fails once and works on the retry (the
# round waits commit_interval 1 s, past the 1 s down) moves its block to the
# spare; a read slower than slow_read_ms does too, only the slow block of
# the segment; beyond weak_budget a weak block stays (counted, logged). A
# scrub over the delay segment finds the remaining slow blocks. Every block
# reads back as written, nothing is pending, and nothing else moved.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_target flakey delay
load_module
nullb_setup
nullb_create mainwn 64 512
nullb_create sparew 16 512
M=/tmp/model
BS=4096
ML=$(sectors /dev/mainwn) SL=$(sectors /dev/sparew)
check "fill main (model)" "$IOTEST" fill /dev/mainwn "$M" 5

# main_table FLAKEY: the composite main; FLAKEY 0 makes blocks 100..103 linear.
main_table() {
	local seg="800 32 flakey /dev/mainwn 800 5 1"
	[ "$1" = 1 ] || seg="800 32 linear /dev/mainwn 800"
	printf '%s\n' "0 800 linear /dev/mainwn 0" "$seg" \
		"832 768 linear /dev/mainwn 832" \
		"1600 32 delay /dev/mainwn 1600 2000" \
		"1632 $((ML - 1632)) linear /dev/mainwn 1632"
}
main_table 1 | dmsetup create mainw
T="0 $ML remap /dev/mapper/mainw /dev/sparew 0 $SL"
check "r0 with weak_budget 2, slow_read_ms 700" \
	dmsetup create r0 --table "$T 6 weak_budget 2 slow_read_ms 700 commit_interval 1000"
DEV=/dev/mapper/r0

# same_block B: block B of r0 equals the model.
same_block() {
	test "$(dd if=$DEV bs=$BS skip="$1" count=1 iflag=direct status=none | md5sum)" = \
		"$(dd if=$M bs=$BS skip="$1" count=1 status=none | md5sum)"
}
# remapped B: block B lives in a spare slot.
remapped() { dmsetup message r0 0 query $(($1 * 8)) | grep -q "slot="; }
# read_until_error: one read of block 100; true once the status counts a read
# error (some read hit flakey's down second).
read_until_error() {
	dd if=$DEV of=/dev/null bs=$BS skip=100 count=1 iflag=direct status=none || true
	[ "$(status_field r0 errors)" != W0:R0 ]
}

# Retry: block 100 is read until one read lands in flakey's down second;
# that read is retried a second later, works, and the block moves.
check "a read of block 100 failed once (errors=R1)" wait_until 120 read_until_error
check "block 100 moved (weak_remaps=1)" wait_until 60 status_is r0 weak_remaps 1
check "block 100 is remapped" remapped 100
check "block 100 reads as written" same_block 100
check "stats: weak_found=1 weak_remaps=1 weak_skipped=0" \
	grep -q "weak_found=1 weak_remaps=1 weak_skipped=0" <<<"$(dmsetup message r0 0 stats)"
for b in 101 102 103; do
	expect_fail "block $b not moved" remapped $b
done

# Slow: one read of block 200 takes 2 s; the worker times it again alone.
check "block 200 read (slow)" blk_read "$DEV" 200
check "block 200 moved (weak_remaps=2)" wait_until 60 status_is r0 weak_remaps 2
check "block 200 is remapped" remapped 200
check "block 200 reads as written" same_block 200
expect_fail "block 201 not moved (not read)" remapped 201

# Budget: 2 an hour are spent; block 201 is weak and stays.
dmesg_mark
check "block 201 read (slow)" blk_read "$DEV" 201
check "block 201 counted weak, skipped" wait_until 60 \
	sh -c "dmsetup message r0 0 stats | grep -q 'weak_found=3 weak_remaps=2 weak_skipped=1'"
expect_fail "block 201 not moved (over budget)" remapped 201
check "kernel log: block 201 stays" grep -q "weak block 201 (slow) stays" <<<"$(dmesg_new)"

# Scrub: blocks 100..103 linear again, a new table with a budget of 10.
main_table 0 | dmsetup load mainw
dmsetup suspend mainw
dmsetup resume mainw
dm_switch r0 "$T 6 weak_budget 10 slow_read_ms 700 scrub_rate 65536"
check "scrub start" dmsetup message r0 0 scrub start
check "the pass ends" wait_until 300 status_is r0 scrub idle
check "the scrub moved 201..203 (weak_remaps=3)" status_is r0 weak_remaps 3
dmr_remapped r0 | sort -n >/tmp/moved
printf '%s\n' 100 200 201 202 203 >/tmp/want
check "exactly 100, 200..203 are remapped" cmp /tmp/moved /tmp/want
check "nothing pending" status_is r0 pending 0
check "the whole device reads as written" "$IOTEST" verify "$DEV" "$M"
dmsetup remove r0
dmsetup remove mainw
check "rmmod dm_remap" unload_module
finish
