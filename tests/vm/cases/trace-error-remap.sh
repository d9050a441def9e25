# SPDX-License-Identifier: GPL-2.0-only
# trace/error-remap.bt against two remap devices over null_blk with bad
# blocks at the same block numbers (the script must keep the devices apart):
# one O_DIRECT write to each bad block (each fails on main, is retried and
# auto-remapped), and on r0 a read of another bad block (it becomes pending)
# followed by a full write of it (remapped). @error_to_remap_us[dm-N]
# must hold exactly one sample per auto remap of that device (status
# auto_remaps), @error_to_pending_us[dm-N] the pending block, @held_us
# every held bio by outcome, and the verbose lines every remapped block.
# Last, r1 with auto_remap off gets a write to one more bad block: the error
# is passed up (@passed).
# bpftrace output is kept in build/vm-logs/trace-error-remap/.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/bpftrace.sh
requires_module null_blk
requires_btf
requires_cmd bpftrace

load_module
nullb_setup
for d in 0 1; do
	nullb_create main$d 64 512
	nullb_create spare$d 16 4096
	remap_create r$d $(sectors /dev/main$d) /dev/main$d /dev/spare$d 0 $(sectors /dev/spare$d)
done
D0=$(dm_kname r0) D1=$(dm_kname r1)
log "r0 is $D0, r1 is $D1"
BAD0="100 200 300 400 500 600 700 800"
BAD1="100 200 300"
PASS1=400
PEND=1000
for b in $BAD0 $PEND; do
	echo "+$((b * 8))-$((b * 8 + 7))" >/sys/kernel/config/nullb/main0/badblocks
done
for b in $BAD1 $PASS1; do
	echo "+$((b * 8))-$((b * 8 + 7))" >/sys/kernel/config/nullb/main1/badblocks
done

bt_start error-remap trace/error-remap.bt 4096 1
bt_wait error-remap || { finish; exit 1; }

for d in 0 1; do
	eval "bad=\$BAD$d"
	for b in $bad; do
		check "r$d: write bad block $b" dd if=/dev/urandom of=/dev/mapper/r$d \
			bs=4096 seek=$b count=1 oflag=direct status=none
	done
done
expect_fail "r0: read of bad block $PEND fails" dd if=/dev/mapper/r0 of=/dev/null \
	bs=4096 skip=$PEND count=1 iflag=direct status=none
check "r0: block $PEND is pending" bash -c \
	"dmsetup message r0 0 query $((PEND * 8)) | grep -q pending"
check "r0: full write of pending block $PEND" dd if=/dev/urandom of=/dev/mapper/r0 \
	bs=4096 seek=$PEND count=1 oflag=direct status=none
check "r1: auto_remap off" dmsetup message r1 0 auto_remap off
expect_fail "r1: write of bad block $PASS1 fails" dd if=/dev/urandom of=/dev/mapper/r1 \
	bs=4096 seek=$PASS1 count=1 oflag=direct status=none
dmsetup status r0
dmsetup status r1
bt_stop error-remap
F=$OUT/error-remap.out

n0=$(echo $BAD0 | wc -w)
n1=$(echo $BAD1 | wc -w)
a0=$(status_field r0 auto_remaps)
a1=$(status_field r1 auto_remaps)
check "r0: auto_remaps = $((n0 + 1))" test "$a0" = $((n0 + 1))
check "r1: auto_remaps = $n1" test "$a1" = "$n1"
check "@error_to_remap_us[$D0]: one sample per auto remap ($a0)" \
	test "$(hist_count "$F" error_to_remap_us "$D0")" = "$a0"
check "@error_to_remap_us[$D1]: one sample per auto remap ($a1)" \
	test "$(hist_count "$F" error_to_remap_us "$D1")" = "$a1"
check "@error_to_pending_us[$D0]: the pending block" \
	test "$(hist_count "$F" error_to_pending_us "$D0")" = 1
check "@held_us[$D0, recovered]: every write ($((n0 + 1)))" \
	test "$(hist_count "$F" held_us "$D0, recovered")" = $((n0 + 1))
check "@held_us[$D1, recovered]: every write ($n1)" \
	test "$(hist_count "$F" held_us "$D1, recovered")" = "$n1"
check "@held_us[$D0, failed]: the read" test "$(hist_count "$F" held_us "$D0, failed")" = 1
for b in $BAD0 $PEND; do
	check "r0: remap line for block $b" \
		grep -qE "ms remap  dev=$D0 block=$b slot=[0-9]+ reason=auto after [0-9]+ us" "$F"
done
for b in $BAD1; do
	check "r1: remap line for block $b" \
		grep -qE "ms remap  dev=$D1 block=$b slot=[0-9]+ reason=auto" "$F"
done
check "pending line for block $PEND" \
	grep -qE "ms remap  dev=$D0 block=$PEND slot=[0-9]+ reason=pending" "$F"
check "usec bucket lines with counts" \
	grep -qE '^\[[0-9]+[KM]?, [0-9]+[KM]?\) +[1-9][0-9]* \|' "$F"
check "@passed: the write with auto_remap off" test "$(map_value "$F" @passed)" = 1

dmsetup remove r0
dmsetup remove r1
finish
