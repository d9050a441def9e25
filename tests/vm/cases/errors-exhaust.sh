# SPDX-License-Identifier: GPL-2.0-only
# Spare exhaustion with a tiny spare (8 slots). One at a time: the first 8
# bad-block writes are remapped and succeed, later ones fail with EIO and
# change nothing; health goes ok -> degraded -> spare_low -> spare_full
# (spare_low_percent=50), each with one dm event; good blocks keep working;
# unremapping a block frees a slot for the next bad write; spare_full
# survives remove + create. Concurrently: 16 writers on 16 bad blocks with
# 8 free slots: exactly 8 succeed, and those are exactly the remapped
# blocks, holding the written data. Pending list exhaustion: 5000
# unreadable blocks read by fio: all EIO, pending stops at the list's
# capacity (4048, persisted), unlisted ones still remap on a full write.
# vm-timeout: 420
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
# Thousands of blocks fail within seconds here, faster than media defects
# arrive: outage_blocks=0, or that would be taken for an outage.
load_module outage_blocks=0
nullb_setup
BS=4096 BSS=8
nullb_create main0 16 512
nullb_create spare0 1 512
ML=$(sectors /dev/main0)
geometry_of $BS "$ML" 0 224
check "224 spare sectors hold 8 slots" test "$GEO_NR_SLOTS" = 8
TABLE="0 $ML remap /dev/main0 /dev/spare0 0 224"
dmsetup create r0 --table "$TABLE"
DEV=/dev/mapper/r0
M=/tmp/model
T0=$(now_ms)
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 4
check "health=ok" test "$(status_field r0 health)" = ok
echo 50 >/sys/module/dm_remap/parameters/spare_low_percent
EV=$(dm_events r0)

# One good block remapped by hand (to be unremapped later), then bad blocks
# 100..111 written one at a time.
check "manual remap of good block 50" \
	test "$(dmsetup message r0 0 remap 400)" = "remapped=1 already=0 no_space=0 copy_failed=0"
nullb_bad main0 + 800 895	# blocks 100..111
dmr_image pattern "$M" $BS a $(seq 100 111)
H=""
n=0
for b in $(seq 100 111); do
	if dmr_image put "$DEV" "$M" $BS "$b" >/dev/null; then
		n=$((n + 1))
		echo "$b" >>/tmp/ok
	else
		echo "$b" >>/tmp/failed
	fi
	H="$H $(status_field r0 health)"
done
log "health after each write:$H"
check "the first 7 bad writes succeed (1 slot was taken), the other 5 fail" \
	test "$n $(tr '\n' ' ' </tmp/ok)" = "7 100 101 102 103 104 105 106 "
check "health: degraded with 2..4 slots used, spare_low with 5..7, then spare_full" \
	test "$H" = "$(printf ' degraded%.0s' 1 2 3)$(printf ' spare_low%.0s' 1 2 3)$(printf ' spare_full%.0s' 1 2 3 4 5 6)"
check "one dm event per new remap: 1 manual + 7 automatic ($EV -> $(dm_events r0))" \
	test "$(dm_events r0)" = $((EV + 8))
out=$(dmsetup status r0)
log "$out"
check "spare=8/8 remaps=8 health=spare_full" test \
	"$(kv_field spare "$out") $(kv_field remaps "$out") $(kv_field health "$out")" = "8/8 8 spare_full"
# The failed blocks still hold their old data on main, unreadable: EIO,
# and pending (no slot needed for that).
for b in $(seq 107 111); do dmr_image pattern "$M" $BS x "$b"; done
cp /tmp/failed /tmp/eio
check "whole device = model except the 5 failed blocks (EIO)" \
	dmr_image check "$DEV" "$M" $BS /tmp/eio
check "the 5 failed blocks are pending" test "$(status_field r0 pending)" = 5
expect_fail "a full write to a pending block fails (no slot)" blk_write "$DEV" 107 "$M"
dmr_image pattern "$M" $BS good $(seq 2000 2063)
check "good blocks still take writes" dmr_image put "$DEV" "$M" $BS $(seq 2000 2063)
check "whole device = model except the 5 (EIO)" dmr_image check "$DEV" "$M" $BS /tmp/eio

# Unremap block 50 (good on main): one slot frees, the next bad write works.
check "unremap block 50" \
	test "$(dmsetup message r0 0 unremap 400)" = "unremapped=1 not_remapped=0 copy_failed=0"
check "health back to spare_low (7 of 8 used)" test "$(status_field r0 health)" = spare_low
check "full write to pending block 107 now succeeds" blk_write "$DEV" 107 "$M"
check "block 107 remapped, spare full again" test \
	"$(dmr_query r0 107) $(status_field r0 health) $(status_field r0 spare)" = "remapped spare_full 8/8"
printf '%s\n' 108 109 110 111 >/tmp/eio
check "whole device = model except 108..111 (EIO)" dmr_image check "$DEV" "$M" $BS /tmp/eio
dmsetup remove r0
check_tool_records /dev/spare0 8 0 4
dmsetup create r0 --table "$TABLE"
check "reload: health=spare_full spare=8/8 pending=4" test \
	"$(status_field r0 health) $(status_field r0 spare) $(status_field r0 pending)" = "spare_full 8/8 4"
check "reload: whole device = model except 108..111 (EIO)" \
	dmr_image check "$DEV" "$M" $BS /tmp/eio
dmsetup remove r0

# Concurrent: 16 bad blocks, 8 free slots, 16 writers at once; errors
# wait up to 1 s to be handled together (commit_interval), so one round
# meets more bad blocks than free slots.
dd if=/dev/zero of=/dev/spare0 bs=4096 count=64 oflag=direct status=none
nullb_bad main0 + 24000 24127	# blocks 3000..3015
dmsetup create r0 --table "$TABLE 2 commit_interval 1000"
check "fresh spare: spare=0/8 health=ok" \
	test "$(status_field r0 spare) $(status_field r0 health)" = "0/8 ok"
dmr_image pattern "$M" $BS c $(seq 3000 3015)
pids=""
for b in $(seq 3000 3015); do
	(blk_write "$DEV" "$b" "$M" && echo "$b" >"/tmp/c-ok.$b") &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || true; done
cat /tmp/c-ok.* 2>/dev/null | sort -n >/tmp/c-ok
dmr_remapped r0 >/tmp/c-remapped
log "concurrent: $(wc -l </tmp/c-ok) writes succeeded: $(tr '\n' ' ' </tmp/c-ok)"
check "exactly 8 of 16 concurrent bad writes succeed" test "$(wc -l </tmp/c-ok)" = 8
check "the successful ones are exactly the remapped ones" cmp -s /tmp/c-ok /tmp/c-remapped
check "health=spare_full spare=8/8" \
	test "$(status_field r0 health) $(status_field r0 spare)" = "spare_full 8/8"
seq 3000 3015 >/tmp/c-all
set_minus /tmp/c-all /tmp/c-ok >/tmp/c-eio
check "the successful blocks read their data; the failed ones EIO" \
	dmr_image check "$DEV" "$M" $BS /tmp/c-eio 3000 16
dmsetup remove r0

# Pending list exhaustion: 5000 unreadable blocks, read at QD 32.
nullb_create main1 32 512
nullb_create spare1 8 512
nullb_bad main1 + $((1000 * BSS)) $((1500 * BSS - 1))	# blocks 1000..1499
nullb_bad main1 + $((2000 * BSS)) $((6500 * BSS - 1))	# blocks 2000..6499
TABLE="0 $(sectors /dev/main1) remap /dev/main1 /dev/spare1 0 $(sectors /dev/spare1)"
M=/tmp/model1
dmsetup create r0 --table "$TABLE"
t=$(now_ms)
fio --name=pr --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k --rw=randread \
	--offset=$((1000 * BS)) --size=$((5500 * BS)) --iodepth=32 --continue_on_error=read \
	--ignore_error=EIO --output-format=json --output=/tmp/pr.json >/tmp/pr.err 2>&1 ||
	fail "fio: $(tail -n 3 /tmp/pr.err)"
log "5500 reads, 5000 of them failing, in $(($(now_ms) - t)) ms"
check "fio: exactly the 5000 bad blocks read EIO" \
	test "$(fio_json /tmp/pr.json "jobs[0]['total_err']")" = 5000
dmr_status r0
log "${ST[line]}"
check "pending = 4048 (the list is full), health=degraded, metadata=ok" \
	test "${ST[pending]} ${ST[health]} ${ST[metadata]}" = "4048 degraded ok"
dmr_pending r0 >/tmp/pl
check "every pending block is a bad one" \
	awk '($1 < 1000 || ($1 >= 1500 && $1 < 2000) || $1 >= 6500) { bad = 1 } END { exit bad }' /tmp/pl
seq 1000 1499 >/tmp/allbad
seq 2000 6499 >>/tmp/allbad
set_minus /tmp/allbad /tmp/pl >/tmp/unlisted-all
head -n 20 /tmp/unlisted-all >/tmp/unlisted
dmr_image pattern "$M" $BS u $(cat /tmp/unlisted)
check "20 bad blocks that are not pending take a full write (remapped)" \
	dmr_image put "$DEV" "$M" $BS $(cat /tmp/unlisted)
check "remaps=20 pending=4048" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "20 4048"
head -n 5 /tmp/pl >/tmp/pl5
dmr_image pattern "$M" $BS p $(cat /tmp/pl5)
check "5 pending blocks take a full write (remapped, list shrinks)" \
	dmr_image put "$DEV" "$M" $BS $(cat /tmp/pl5)
check "remaps=25 pending=4043" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "25 4043"
dmsetup remove r0
check_tool_records /dev/spare1 25 0 4043
dmsetup create r0 --table "$TABLE"
check "reload: pending=4043 remaps=25" \
	test "$(status_field r0 pending) $(status_field r0 remaps)" = "4043 25"
dmsetup remove r0
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
nullb_remove main1
nullb_remove spare1
check "rmmod dm_remap" unload_module
finish
