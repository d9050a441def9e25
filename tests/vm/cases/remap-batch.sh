# SPDX-License-Identifier: GPL-2.0-only
# One message remapping 100000 blocks runs as one worker batch (stats
# batches +1), remaps every block and keeps the data identical, also for a
# reader running during the migration; the time it takes is printed. Then
# spare exhaustion: the answer says how many blocks got a slot and how many
# did not (no_space=), I/O keeps working, freed slots are reused, and the
# answer stays exact when the request spans several batches.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
nullb_create main0 64 512
nullb_create spare0 56 512
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
dmsetup create r0 --table "0 $L remap /dev/main0 /dev/spare0 0 $SL 2 block_size 512"
dev=/dev/mapper/r0
geometry_of 512 "$L" 0 "$SL"
NR=$GEO_NR_SLOTS
N=100000
log "$L blocks of 512 B, $NR spare slots"
check "the spare holds $N blocks ($NR slots)" test "$NR" -ge $N

check "fill" "$IOTEST" fill "$dev" /tmp/model 31
b0=$(kv_field batches "$(dmsetup message r0 0 stats)")
g0=$(status_field r0 generation)

# A reader compares the device with the model while the blocks move.
"$IOTEST" verify "$dev" /tmp/model >/tmp/reader.log 2>&1 &
rpid=$!
t0=$(now_ms)
out=$(dmsetup message r0 0 remap 0 $N)
t1=$(now_ms)
log "remap 0 $N: '$out' in $((t1 - t0)) ms (guest wall time, TCG)"
echo "MEASURE: batch of $N blocks (512 B) remapped in $((t1 - t0)) ms"
check "remap 0 $N -> remapped=$N" test "$out" = "remapped=$N already=0 no_space=0 copy_failed=0"
if wait $rpid; then
	ok "reader during the migration saw identical data: $(cat /tmp/reader.log)"
else
	fail "reader during the migration: $(cat /tmp/reader.log)"
fi
st=$(dmsetup message r0 0 stats)
check "one worker batch (batches $b0 -> $((b0 + 1)))" test "$(kv_field batches "$st")" = $((b0 + 1))
check "one commit (generation $g0 -> $((g0 + 1)))" test "$(status_field r0 generation)" = $((g0 + 1))
check "status remaps=$N spare=$N/$NR" \
	test "$(status_field r0 remaps) $(status_field r0 spare)" = "$N $N/$NR"
check "identical after the batch" "$IOTEST" verify "$dev" /tmp/model
seq 0 $((N - 1)) >/tmp/set
t0=$(now_ms)
"$RT" list r0 4096 >/tmp/list 2>/tmp/list.err || true
log "listing $N remaps: $(cat /tmp/list.err) in $(($(now_ms) - t0)) ms"
check "list/query: exactly blocks 0..$((N - 1)), distinct slots" \
	"$RT" checkmap r0 /tmp/set /tmp/list bs=1 blocks="$L" \
	data_start="$GEO_DATA_START" samples=200 qmax=500
check "the spare holds the data of all $N blocks" \
	"$RT" sparecheck /dev/spare0 /tmp/model /tmp/list 512

# Spare exhaustion.
free=$((NR - N))
rest=$((L - N))
out=$(dmsetup message r0 0 remap $N $rest)
check "remap of $rest more blocks with $free free slots: $out" \
	test "$out" = "remapped=$free already=0 no_space=$((rest - free)) copy_failed=0"
check "spare=$NR/$NR remaps=$NR" \
	test "$(status_field r0 spare) $(status_field r0 remaps)" = "$NR/$NR $NR"
out=$(dmsetup message r0 0 remap $((L - 1)))
check "one more block: no_space=1 ($out)" test "$out" = "remapped=0 already=0 no_space=1 copy_failed=0"
out=$(dmsetup message r0 0 remap 0 10)
check "remapped blocks need no slot: $out" test "$out" = "remapped=0 already=10 no_space=0 copy_failed=0"
check "direct writes on a full spare" "$IOTEST" write "$dev" /tmp/model 32 300 512 1048576 direct
check "buffered writes on a full spare" "$IOTEST" write "$dev" /tmp/model 33 100 1 1048576 buffered
check "identical with a full spare" "$IOTEST" verify "$dev" /tmp/model
out=$(dmsetup message r0 0 unremap 0 100)
check "unremap 100: $out" test "$out" = "unremapped=100 not_remapped=0 copy_failed=0"
out=$(dmsetup message r0 0 remap $((L - 150)) 150)
check "freed slots are reused: $out" test "$out" = "remapped=100 already=0 no_space=50 copy_failed=0"
check "identical after reuse" "$IOTEST" verify "$dev" /tmp/model
st=$(dmsetup status r0)
log "status: $st"
check "no errors, metadata ok" test \
	"$(kv_field copy_errors "$st") $(kv_field errors "$st") $(kv_field metadata "$st")" = "0 W0:R0 ok"
dmsetup remove r0
check "dm-remap-tool check clean with a full spare" "$DMR_TOOL" check -q /dev/spare0
nullb_remove spare0

# A request larger than batch_blocks runs in several batches; when the
# spare fills up in one of them the answer must still account for every
# block asked for (remapped + already + no_space = blocks requested).
BB=/sys/module/dm_remap/parameters/batch_blocks
bb0=$(cat $BB)
echo 1000 >$BB
nullb_create spare1 1 512
SL=$(sectors /dev/spare1)
geometry_of 512 "$L" 0 "$SL"
dmsetup create r1 --table "0 $L remap /dev/main0 /dev/spare1 0 $SL 2 block_size 512"
check "fill r1" "$IOTEST" fill /dev/mapper/r1 /tmp/model 41
b0=$(kv_field batches "$(dmsetup message r1 0 stats)")
out=$(dmsetup message r1 0 remap 0 2500)
check "2500 blocks in batches of 1000 with $GEO_NR_SLOTS slots: $out" \
	test "$out" = "remapped=$GEO_NR_SLOTS already=0 no_space=$((2500 - GEO_NR_SLOTS)) copy_failed=0"
check "ran as 2 batches" test "$(kv_field batches "$(dmsetup message r1 0 stats)")" = $((b0 + 2))
out=$(dmsetup message r1 0 unremap 0 2000)
check "unremap 2000 in batches: $out" \
	test "$out" = "unremapped=$GEO_NR_SLOTS not_remapped=$((2000 - GEO_NR_SLOTS)) copy_failed=0"
check "ran as 2 more batches" test "$(kv_field batches "$(dmsetup message r1 0 stats)")" = $((b0 + 4))
out=$(dmsetup message r1 0 remap 200 5000)
check "remap 5000 sectors from 200 with $GEO_NR_SLOTS slots: $out" \
	test "$out" = "remapped=$GEO_NR_SLOTS already=0 no_space=$((5000 - GEO_NR_SLOTS)) copy_failed=0"
echo "$bb0" >$BB
check "identical after the batched remaps" "$IOTEST" verify /dev/mapper/r1 /tmp/model
dmsetup remove r1
nullb_remove spare1
check "rmmod dm_remap" unload_module
nullb_remove main0
finish
