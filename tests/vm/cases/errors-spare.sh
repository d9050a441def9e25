# SPDX-License-Identifier: GPL-2.0-only
# Errors in the SPARE device under already remapped blocks.
# 1) null_blk bad sectors under the slots of manually and automatically
#    remapped blocks: full-block writes to them still succeed, relocated to
#    other slots (bad_slots counts each failed slot, no failed slot is used
#    again, also after reload); reads of a block whose slot went bad and was
#    not rewritten fail with EIO; a partial write there fails (the rest of
#    the block is unreadable); several bad slots in a row are skipped.
# 2) dm-flakey error_writes under the slots (reads pass): partial writes
#    relocate too, merging the old slot's data; fio verify over remapped
#    blocks whose slots fail writes sees no error.
# Data equals the model throughout; dm-remap-tool check counts the bad slots.
# vm-timeout: 420
. tests/vm/lib.sh
requires_module null_blk
requires_target flakey
requires_cmd fio python3
load_module
nullb_setup
BS=4096 BSS=8
T0=$(now_ms)

# slot_of NAME BLOCK: the block's slot ("" unless remapped).
slot_of() { dmr_list_all "$1" | awk -v b="$2" '$1 == b && $2 != "pending" { print $2 }'; }

# --- 1: null_blk bad sectors under slots ---
remap_r0 16 8
M=/tmp/model
geometry_of $BS "$ML" 0 "$SL"
DS=$GEO_DATA_START
log "spare: $GEO_NR_SLOTS slots, data at sector $DS"
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 9
check "manual remap of blocks 100..109" \
	test "$(dmsetup message r0 0 remap 800 80)" = "remapped=10 already=0 no_space=0 copy_failed=0"
nullb_bad main0 + 1600 1679	# blocks 200..209
dmr_image pattern "$M" $BS auto $(seq 200 209)
check "auto remap of blocks 200..209 (writes succeed)" dmr_image put "$DEV" "$M" $BS $(seq 200 209)
check "20 remaps, bad_slots=0" \
	test "$(status_field r0 remaps) $(status_field r0 bad_slots)" = "20 0"
dmr_list_all r0 >/tmp/list0
# The slots of blocks 100..106 and 200..204 go bad.
awk '($1 >= 100 && $1 <= 106) || ($1 >= 200 && $1 <= 204) { print $1, $2 }' /tmp/list0 >/tmp/victims
while read -r b s; do
	nullb_bad spare0 + $((DS + s * BSS)) $((DS + s * BSS + BSS - 1))
done </tmp/victims
cut -d' ' -f2 /tmp/victims >/tmp/badslots
log "bad slots: $(tr '\n' ' ' </tmp/badslots)"

# Full-block writes to 100..104 and 200..204: relocated.
W="100 101 102 103 104 200 201 202 203 204"
dmr_image pattern "$M" $BS full $W
check "full-block writes to 10 blocks on bad slots succeed" dmr_image put "$DEV" "$M" $BS $W
out=$(dmsetup status r0)
log "$out"
check "bad_slots=10 remaps=20 pending=0" test \
	"$(kv_field bad_slots "$out") $(kv_field remaps "$out") $(kv_field pending "$out")" = "10 20 0"
check "spare used = 20 + 10 bad" test "$(kv_field spare "$out")" = "30/$GEO_NR_SLOTS"
dmr_list_all r0 >/tmp/list1
check "no block is on a bad slot any more, except the untouched 105, 106" \
	test "$(awk 'NR == FNR { bad[$1]; next } ($2 in bad) { print $1 }' /tmp/badslots /tmp/list1 | tr '\n' ' ')" = "105 106 "
# Block 105: a read fails (its slot is unreadable) and does not make it
# pending (pending is for main blocks); a partial write fails too.
expect_fail "read of block 105 (bad slot, not rewritten) fails" blk_read "$DEV" 105
check "block 105 is still remapped, not pending" test "$(dmr_query r0 105)" = remapped
expect_fail "512-byte write into block 105 fails (rest of the block unreadable)" \
	dd if=/dev/urandom of="$DEV" bs=512 seek=$((105 * BSS + 1)) count=1 oflag=direct conv=notrunc
check "block 105 keeps its slot" test "$(slot_of r0 105)" = "$(awk '$1 == 105 { print $2 }' /tmp/list0)"
printf '%s\n' 105 106 >/tmp/eio
check "whole device = model, EIO only on 105 and 106" dmr_image check "$DEV" "$M" $BS /tmp/eio

# Several bad slots in a row: the next free slots (the allocator's next
# picks) fail too; the write still lands on a good slot.
next=$(awk '{ print $2 }' /tmp/list1 | sort -n | tail -n1)
for s in $((next + 1)) $((next + 2)) $((next + 3)); do
	nullb_bad spare0 + $((DS + s * BSS)) $((DS + s * BSS + BSS - 1))
	echo $s >>/tmp/badslots
done
B0=$(status_field r0 bad_slots)
dmr_image pattern "$M" $BS again 106
check "full write to block 106 (bad slot) succeeds" dmr_image put "$DEV" "$M" $BS 106
s=$(slot_of r0 106)
check "block 106 moved to slot $s, not a bad one" \
	test -n "$s" -a -z "$(grep -x "$s" /tmp/badslots)"
d=$(($(status_field r0 bad_slots) - B0))
log "that write found $d bad slots"
check "bad_slots grew by 1..4 for it ($d)" test "$d" -ge 1 -a "$d" -le 4
printf '%s\n' 105 >/tmp/eio
check "whole device = model, EIO only on 105" dmr_image check "$DEV" "$M" $BS /tmp/eio

# New remaps never take a bad slot, also after remove + create.
NBAD=$(status_field r0 bad_slots) NR=$(status_field r0 remaps)
dmsetup remove r0
check_tool_records /dev/spare0 $NR $NBAD 0
dmsetup create r0 --table "$TABLE"
check "reload: bad_slots survive in the spare count" \
	test "$(status_field r0 spare)" = "$((NR + NBAD))/$GEO_NR_SLOTS"
nullb_bad main0 + 2400 2559	# blocks 300..319
dmr_image pattern "$M" $BS new $(seq 300 319)
check "reload: 20 more auto remaps succeed" dmr_image put "$DEV" "$M" $BS $(seq 300 319)
dmr_list_all r0 >/tmp/list2
check "reload: no live block on a bad slot but 105" \
	test "$(awk 'NR == FNR { bad[$1]; next } ($2 in bad) { print $1 }' /tmp/badslots /tmp/list2 | tr '\n' ' ')" = "105 "
check "reload: whole device = model, EIO only on 105" dmr_image check "$DEV" "$M" $BS /tmp/eio
dmsetup remove r0
nullb_remove main0
nullb_remove spare0

# --- 2: dm-flakey error_writes under slots: partial writes relocate ---
nullb_create main1 16 512
nullb_create spare1 8 512
SL=$(sectors /dev/spare1)
dmsetup create fspare --table "$(flakey_table /dev/spare1 "$SL")"
TABLE="0 $ML remap /dev/main1 /dev/mapper/fspare 0 $SL"
dmsetup create r1 --table "$TABLE"
DEV=/dev/mapper/r1
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 10
check "manual remap of blocks 1000..1063" \
	test "$(dmsetup message r1 0 remap 8000 512)" = "remapped=64 already=0 no_space=0 copy_failed=0"
dmr_list_all r1 >/tmp/list0
# Slots of all 64 blocks fail writes (slots are contiguous from the first).
s0=$(awk 'NR == 1 { print $2 }' /tmp/list0)
dm_switch fspare "$(flakey_table /dev/spare1 "$SL" $((DS + s0 * BSS)):$((64 * BSS)):0:1:error_writes)"
# Partial writes: sector 3 of blocks 1000..1007.
for b in $(seq 1000 1007); do
	dd if=/dev/urandom of=/tmp/sec bs=512 count=1 status=none
	dd if=/tmp/sec of="$M" bs=512 seek=$((b * BSS + 3)) conv=notrunc status=none
done
n=0
for b in $(seq 1000 1007); do
	dd if="$M" of="$DEV" bs=512 skip=$((b * BSS + 3)) seek=$((b * BSS + 3)) count=1 \
		oflag=direct conv=notrunc status=none 2>/dev/null || n=$((n + 1))
done
check "8 partial writes to blocks on write-failing slots succeed ($n failed)" test "$n" = 0
check "bad_slots=8" test "$(status_field r1 bad_slots)" = 8
check "whole device = model (old slot data merged)" dmr_image check "$DEV" "$M" $BS -
# fio writes and verifies the other 56 blocks while their slots fail.
if fio --name=s --filename="$DEV" --direct=1 --ioengine=libaio --bsrange=512-8k \
	--blockalign=512 --rw=randwrite --offset=$((1008 * BS)) --size=$((56 * BS)) \
	--iodepth=8 --verify=crc32c --verify_fatal=1 --verify_state_save=0 \
	--do_verify=1 --output=/tmp/s.out >/tmp/s.err 2>&1; then
	ok "fio 512 B..8 KiB writes + verify on blocks with failing slots"
else
	fail "fio: $(tail -n 5 /tmp/s.err /tmp/s.out)"
fi
log "after fio: $(dmsetup status r1)"
# Rewrite all 56 (same data) so that every block has met its failing slot.
dmr_image absorb "$DEV" "$M" $BS 1008 56
check "rewrite of the 56 blocks succeeds" dmr_image put "$DEV" "$M" $BS $(seq 1008 1063)
out=$(dmsetup status r1)
log "$out"
check "every one of the 64 slots failed once: bad_slots=64, remaps=64" \
	test "$(kv_field bad_slots "$out") $(kv_field remaps "$out")" = "64 64"
dmr_list_all r1 >/tmp/list1
check "no block is left on a failing slot" \
	awk -v a="$s0" -v b=$((s0 + 64)) '$2 >= a && $2 < b { bad = 1 } END { exit bad }' /tmp/list1
dm_switch fspare "$(flakey_table /dev/spare1 "$SL")"
check "spare healed: whole device = model" dmr_image check "$DEV" "$M" $BS -
dmsetup remove r1
check_tool_records /dev/mapper/fspare 64 64 0
dmsetup remove fspare
nullb_remove main1
nullb_remove spare1
log "total $(($(now_ms) - T0)) ms"
check "rmmod dm_remap" unload_module
finish
