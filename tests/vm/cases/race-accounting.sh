# SPDX-License-Identifier: GPL-2.0-only
# Slot and pending bookkeeping of the error worker in corner cases:
# 1) an 8-slot spare, 7 slots remapped by hand, the 8th bad on the spare
#    device; a whole-block write to a bad block of main fails with EIO, and
#    afterwards spare used = remaps + bad slots (8/8), live and after
#    re-create, and dm-remap-tool check is clean.
# 2) one round frees a pending position (a whole-block write remaps pending
#    block P) and reuses it (a read of bad block Q makes Q pending): after
#    re-create Q is still pending and P remapped.
# vm-timeout: 300
. tests/vm/lib.sh
. tests/vm/race-lib.sh
requires_module null_blk
requires_cmd python3
load_module
nullb_setup
T0=$(now_ms)

# --- 1: the fix runs out of slots after the only free one fails ---
nullb_create main1 4 512
nullb_create spare1 1 512
ML=$(sectors /dev/main1)
TABLE="0 $ML remap /dev/main1 /dev/spare1 0 224"
dmsetup create r1 --table "$TABLE"
DEV=/dev/mapper/r1
geometry_of 4096 "$ML" 0 224
check "1: the spare has 8 slots" test "$GEO_NR_SLOTS" = 8
M=/tmp/model1
check "1: fill (model)" "$IOTEST" fill "$DEV" "$M" 1
check "1: remap 7 blocks by hand" \
	test "$(dmsetup message r1 0 remap 800 56)" = "remapped=7 already=0 no_space=0 copy_failed=0"
free=$(dmr_list_all r1 | awk '{ used[$2] } END { for (s = 0; s < 8; s++) if (!(s in used)) print s }')
log "1: free slot: $free"
nullb_bad spare1 + $((GEO_DATA_START + free * 8)) $((GEO_DATA_START + free * 8 + 7))
Z=200
nullb_bad main1 + $((Z * 8)) $((Z * 8 + 7))
pattern /tmp/z-new 1-z
expect_fail "1: whole-block write to bad block $Z fails (the only free slot is bad)" \
	put "$DEV" $Z /tmp/z-new
dmr_status r1
log "1: ${ST[line]}"
used=${ST[spare]%/*}
check "1: spare used = remaps + bad_slots (${ST[spare]} remaps=${ST[remaps]} bad_slots=${ST[bad_slots]})" \
	test "$used" = $((ST[remaps] + ST[bad_slots]))
check "1: spare=8/8 remaps=7 bad_slots=1" \
	test "${ST[spare]} ${ST[remaps]} ${ST[bad_slots]}" = "8/8 7 1"
check "1: health=spare_full" test "${ST[health]}" = spare_full
check "1: block $Z is not remapped" test "$(dmr_query r1 $Z)" = main
check "1: blocks 0..$((Z - 1)) = model" dmr_image check "$DEV" "$M" 4096 - 0 $Z
dmsetup remove r1
check_tool_records /dev/spare1 7 1 0 "1"
dmsetup create r1 --table "$TABLE"
dmr_status r1
check "1: after re-create spare=8/8 remaps=7 bad_slots counted in spare (${ST[spare]})" \
	test "${ST[spare]} ${ST[remaps]}" = "8/8 7"
dmsetup remove r1
nullb_remove main1
nullb_remove spare1

# --- 2: a pending position freed and reused in one round ---
nullb_create main2 4 512 $WCACHE
nullb_create spare2 1 512
ML=$(sectors /dev/main2)
TABLE="0 $ML remap /dev/main2 /dev/spare2 0 $(sectors /dev/spare2) 2 commit_interval 60000"
dmsetup create r2 --table "$TABLE"
DEV=/dev/mapper/r2
M=/tmp/model2
check "2: fill (model)" "$IOTEST" fill "$DEV" "$M" 2
P=300 Q=301
nullb_bad main2 + $((P * 8)) $((Q * 8 + 7))
# P becomes pending (the round is kicked, not waited for).
r0=$(err_count r2 R)
get "$DEV" $P /tmp/p-read &
J=$!
check "2: the read of block $P failed and is held" wait_until 60 err_grew r2 R "$r0"
kick "$DEV"
rc=0
wait_exit $J 120 || rc=$?
check "2: the read of block $P fails (dd exit $rc)" test $rc != 0
check "2: block $P is pending" test "$(dmr_query r2 $P)" = pending
# One round: the whole-block write of P (held by map) and the read of Q.
pattern /tmp/p-new 2-p
w0=$(status_field r2 writes)
put "$DEV" $P /tmp/p-new &
JW=$!
check "2: the whole-block write of pending block $P is held" \
	wait_until 60 field_above r2 writes "$w0"
r0=$(err_count r2 R)
get "$DEV" $Q /tmp/q-read &
JR=$!
check "2: the read of block $Q failed and is held" wait_until 60 err_grew r2 R "$r0"
kick "$DEV"
rc=0
wait_exit $JW 120 || rc=$?
check "2: the write of block $P succeeds (dd exit $rc)" test $rc = 0
rc=0
wait_exit $JR 120 || rc=$?
check "2: the read of block $Q fails (dd exit $rc)" test $rc != 0
check "2: live: $P remapped, $Q pending" \
	test "$(dmr_query r2 $P) $(dmr_query r2 $Q)" = "remapped pending"
dmsetup remove r2
check_tool_records /dev/spare2 1 0 1 "2"
dmsetup create r2 --table "$TABLE"
check "2: after re-create: $P remapped, $Q pending" \
	test "$(dmr_query r2 $P) $(dmr_query r2 $Q)" = "remapped pending"
got=$(which_data "$DEV" $P new=/tmp/p-new)
check "2: after re-create block $P reads the write (reads: $got)" test "$got" = new
dmsetup remove r2
nullb_remove main2
nullb_remove spare2

log "total $(($(now_ms) - T0)) ms"
check "rmmod dm_remap" unload_module
finish
