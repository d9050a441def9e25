# SPDX-License-Identifier: GPL-2.0-only
# Table reloads of a remap device whose live table keeps committing.
# 1) the new table's constructor has read the superblock, its reads of the
#    metadata pairs are parked in dm-delay, and the live table commits twice
#    (two blocks become pending): the reload must succeed (no EUCLEAN) and
#    the resumed table must serve both pending blocks.
# 2) a resume whose metadata reload fails (the pair blocks unreadable) and
#    then succeeds once they read again: the device must not stay failed
#    (metadata=ok, a manual remap works, the old table's remap is there).
# 3) reload + suspend + resume cycles, each after the live table committed,
#    while a writer auto-remaps bad blocks and status, list, query and stats
#    are polled: no cycle fails, every write reads back after re-create.
#    (A use after free of the remap table shows on the KASAN kernel.)
# vm-timeout: 600
. tests/vm/lib.sh
. tests/vm/race-lib.sh
requires_module null_blk
requires_target delay
requires_cmd python3
load_module
nullb_setup
T0=$(now_ms)
D=$((15000 * DMR_SCALE))	# ms the reload's pair reads stay parked

nullb_create main1 16 512
nullb_create spare1 8 512
ML=$(sectors /dev/main1) SL=$(sectors /dev/spare1)
geometry_of 4096 "$ML" 0 "$SL"
# dspare1: sectors 0-15 (both superblocks) plain, the rest with READ_MS
# read delay; writes and flushes are never delayed.
dspare_table() {
	echo "0 16 delay /dev/spare1 0 0 /dev/spare1 0 0"
	echo "16 $((SL - 16)) delay /dev/spare1 16 $1 /dev/spare1 16 0"
}
dmsetup create dspare1 --table "$(dspare_table 0)"
TABLE="0 $ML remap /dev/main1 /dev/mapper/dspare1 0 $SL"
dmsetup create r1 --table "$TABLE"
DEV=/dev/mapper/r1
M=/tmp/model1
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 1
check "remap block 0" test "$(dmsetup message r1 0 remap 0)" = "remapped=1 already=0 no_space=0 copy_failed=0"

# --- 1: two commits between the reload's superblock read and its pair reads ---
A=200 B=201
nullb_bad main1 + $((A * 8)) $((B * 8 + 7))
dm_switch dspare1 "$(dspare_table $D)"
s0=$(sectors_read spare1)
dmsetup reload r1 --table "$TABLE" 2>/tmp/reload.err &
RL=$!
sb_read_pairs_parked() {
	[ "$(sectors_read spare1)" -ge $((s0 + 16)) ] && [ "$(parked dspare1 R)" -ge 1 ]
}
if wait_until 60 eval 'sb_read_pairs_parked || ! running $RL'; then :; fi
if sb_read_pairs_parked; then
	g0=$(status_field r1 generation)
	expect_fail "1: read of bad block $A fails (pending, committed)" get "$DEV" $A /tmp/a
	expect_fail "1: read of bad block $B fails (pending, committed)" get "$DEV" $B /tmp/b
	g1=$(status_field r1 generation)
	if [ "$(parked dspare1 R)" -ge 1 ]; then
		log "1: the live table committed generations $g0 -> $g1 while the reload's pair reads were parked"
	else
		log "1: the reload read its pairs before the live table's commits finished (generations $g0 -> $g1)"
	fi
else
	log "1: the reload did not read the metadata while the live table was running"
	expect_fail "1: read of bad block $A fails" get "$DEV" $A /tmp/a
	expect_fail "1: read of bad block $B fails" get "$DEV" $B /tmp/b
fi
rc=0
wait_exit $RL $((D / 1000 + 120)) || rc=$?
dm_switch dspare1 "$(dspare_table 0)"
check "1: reload while the live table commits succeeds (exit $rc: $(tr '\n' ' ' </tmp/reload.err)$(dmesg | grep 'remap:' | tail -n 1))" \
	test $rc = 0
if [ $rc != 0 ]; then
	dmsetup reload r1 --table "$TABLE"
fi
check "1: suspend + resume with the new table" eval 'dmsetup suspend r1 && dmsetup resume r1'
dmr_status r1
log "1: ${ST[line]}"
check "1: new table: remaps=1 pending=2 metadata=ok" \
	test "${ST[remaps]} ${ST[pending]} ${ST[metadata]}" = "1 2 ok"
check "1: new table: blocks $A, $B pending" \
	test "$(dmr_query r1 $A) $(dmr_query r1 $B)" = "pending pending"

# --- 2: a failed metadata reload in preresume, then a good one ---
C=300 E=301
dmsetup reload r1 --table "$TABLE"
check "2: the live table remaps block $C after the reload read the metadata" \
	test "$(dmsetup message r1 0 remap $((C * 8)))" = "remapped=1 already=0 no_space=0 copy_failed=0"
nullb_bad spare1 + 16 $((GEO_DATA_START - 1))	# every pair block, not the superblocks
dmsetup suspend r1
if timeout 60 dmsetup resume r1 2>/tmp/resume.err; then
	log "2: resume with unreadable metadata pairs succeeded"
else
	log "2: resume with unreadable metadata pairs failed: $(dmesg | grep 'remap: cannot resume' | tail -n 1)"
fi
nullb_bad spare1 - 16 $((GEO_DATA_START - 1))
if dmsetup info r1 | grep -q SUSPENDED; then
	check "2: resume once the pairs read again succeeds" timeout 60 dmsetup resume r1
fi
dmr_status r1
log "2: ${ST[line]}"
check "2: metadata=ok, health not metadata_failed (${ST[metadata]} ${ST[health]})" \
	test "${ST[metadata]}" = ok -a "${ST[health]}" != metadata_failed
ans=$(dmsetup message r1 0 remap $((E * 8)) 2>&1) || ans="error: $ans"
check "2: a manual remap works ($ans)" test "$ans" = "remapped=1 already=0 no_space=0 copy_failed=0"
check "2: block $C (remapped by the old table) is remapped" test "$(dmr_query r1 $C)" = remapped
printf '%s\n' $A $B >/tmp/eio
check "2: whole device = model, EIO only on $A, $B" dmr_image check "$DEV" "$M" 4096 /tmp/eio
dmsetup remove r1
dmsetup remove dspare1
nullb_remove main1
nullb_remove spare1

# --- 3: reload cycles under a writer and pollers ---
nullb_create main3 32 512
nullb_create spare3 16 512
ML=$(sectors /dev/main3)
TABLE="0 $ML remap /dev/main3 /dev/spare3 0 $(sectors /dev/spare3)"
dmsetup create r3 --table "$TABLE"
DEV=/dev/mapper/r3
M=/tmp/model3
check "3: fill (model)" "$IOTEST" fill "$DEV" "$M" 3
check "3: remap 1000 blocks" \
	test "$(dmsetup message r3 0 remap 8000 8000)" = "remapped=1000 already=0 no_space=0 copy_failed=0"
W0=3000 WN=$(scaled 300 50)
nullb_bad main3 + $((W0 * 8)) $(((W0 + WN) * 8 - 1))
dmr_image pattern "$M" 4096 w $(seq $W0 $((W0 + WN - 1)))
dmr_image put "$DEV" "$M" 4096 $(seq $W0 $((W0 + WN - 1))) >/tmp/writer.out 2>&1 &
WRITER=$!
rm -f /tmp/stop
# One message process; the 0.05 s only paces how many messages queue up.
(
	while [ ! -e /tmp/stop ]; do
		printf '%s\n' "list 0 4096" "query $((1500 * 8))" stats
		sleep 0.05
	done | "$RT" batch r3 2>/dev/null |
		awk '/^ok/ { ok++ } !/^ok/ { bad++ } END { print ok + 0, bad + 0 }' >/tmp/poll-msg
) &
POLL1=$!
( n=0; while [ ! -e /tmp/stop ]; do dmsetup status r3 >/dev/null && n=$((n + 1)); done; echo $n >/tmp/poll-status ) &
POLL2=$!
N=$(scaled 12 3) failed=0
for i in $(seq $N); do
	timeout 60 dmsetup reload r3 --table "$TABLE" 2>/tmp/reload.err || {
		failed=$((failed + 1))
		log "3: cycle $i: reload failed: $(tr '\n' ' ' </tmp/reload.err) $(dmesg | grep 'remap:' | tail -n 1)"
		continue
	}
	dmsetup message r3 0 remap $(((2000 + i) * 8)) >/dev/null
	timeout 60 dmsetup suspend r3
	if ! timeout 60 dmsetup resume r3 2>/tmp/resume.err; then
		failed=$((failed + 1))
		log "3: cycle $i: resume failed: $(dmesg | grep 'remap:' | tail -n 1)"
		dmsetup reload r3 --table "$TABLE" && dmsetup resume r3
	fi
done
check "3: $N reload + resume cycles, none failed ($failed)" test $failed = 0
rc=0
wait_exit $WRITER 300 || rc=$?
check "3: the writer's $WN writes to bad blocks succeed: $(cat /tmp/writer.out)" test $rc = 0
touch /tmp/stop
wait_exit $POLL1 60 || true
wait_exit $POLL2 60 || true
read -r answered refused </tmp/poll-msg || answered=0
log "3: messages answered $answered, refused ${refused:-?}; status calls $(cat /tmp/poll-status)"
check "3: list/query/stats were answered during the cycles ($answered)" test "$answered" -gt 0
dmr_status r3
log "3: ${ST[line]}"
check "3: remaps = 1000 + $N + $WN, metadata=ok" \
	test "${ST[remaps]} ${ST[metadata]}" = "$((1000 + N + WN)) ok"
dmsetup remove r3
check_tool_records /dev/spare3 $((1000 + N + WN)) 0 0 "3"
dmsetup create r3 --table "$TABLE"
check "3: after re-create: whole device = model" dmr_image check "$DEV" "$M" 4096 -
dmsetup remove r3
nullb_remove main3
nullb_remove spare3

log "total $(($(now_ms) - T0)) ms"
check "rmmod dm_remap" unload_module
finish
