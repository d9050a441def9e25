# SPDX-License-Identifier: GPL-2.0-only
# Automatic remapping with dm-flakey under the main device (6.1's flakey:
# error_writes fails writes and passes reads; no feature fails all I/O).
# A) live table switch of a segment to error_writes and back, by fio
#    between the parts of its write + verify: no verify/write error, remaps
#    exactly the blocks written while the segment failed writes; afterwards
#    writing the whole segment remaps all of it.
# B) transient write errors (error_writes, up 1 s / down 1 s) under fio
#    verify: no error reaches fio, remaps only inside the segment.
# C) a segment failing all I/O: reads EIO and go pending, full writes
#    remap, a partial write fails; once the segment heals, the rest reads
#    and leaves the pending list.
# The whole device equals the model at each step (EIO only where expected).
# vm-timeout: 480
. tests/vm/lib.sh
requires_module null_blk
requires_target flakey
requires_cmd fio python3
# Over 256 distinct blocks fail in its parts, perhaps within a second on a
# fast machine: outage_blocks=0, or that would be taken for an outage.
load_module outage_blocks=0
nullb_setup
BS=4096 BSS=8
nullb_create main0 32 512
nullb_create spare0 16 512
ML=$(sectors /dev/main0)
dmsetup create fmain --table "$(flakey_table /dev/main0 "$ML")"
dmsetup create r0 --table "0 $ML remap /dev/mapper/fmain /dev/spare0 0 $(sectors /dev/spare0)"
DEV=/dev/mapper/r0
M=/tmp/model
T0=$(now_ms)
check "fill the device (model)" "$IOTEST" fill "$DEV" "$M" 3

# fio_job NAME FIRST_BLOCK NBLOCKS RATE: random 4 KiB writes by 2 jobs over
# the blocks (each written once), then crc32c verify.
fio_job() {
	cat <<EOF
[global]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
[$1]
rw=randwrite
offset=$(($2 * BS))
size=$(($3 * BS / 2))
offset_increment=$(($3 * BS / 2))
numjobs=2
iodepth=8
rate_iops=$4
verify=crc32c
verify_fatal=1
verify_state_save=0
do_verify=1
EOF
}

# in_range FILE FIRST N: all blocks listed in FILE lie in [FIRST, FIRST+N).
in_range() { awk -v a="$2" -v b=$(($2 + $3)) '$1 < a || $1 >= b { bad = 1 } END { exit bad }' "$1"; }

# --- A: live switch to error_writes on blocks [2048, 2304) ---
# fio writes blocks [1024, 3072) in three parts, one after the other
# (stonewall), each written once and then verified; fio itself switches the
# segment to error_writes before part 2 and back before part 3
# (exec_prerun), so exactly the segment blocks of part 2, [2176, 2240), are
# written while it fails writes, by construction.
A0=2048 AN=256
printf '%s\n' "$(flakey_table /dev/main0 "$ML" $((A0 * BSS)):$((AN * BSS)):0:1:error_writes)" >/tmp/a-down.table
printf '%s\n' "$(flakey_table /dev/main0 "$ML")" >/tmp/a-up.table
for t in down up; do
	printf 'dmsetup reload fmain /tmp/a-%s.table && dmsetup suspend fmain && dmsetup resume fmain && echo %s\n' \
		$t $t >/tmp/a-$t.sh
done
cat >/tmp/a.fio <<EOF
[global]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
rw=randwrite
iodepth=8
verify=crc32c
verify_fatal=1
verify_state_save=0
do_verify=1
[a1]
offset=$((1024 * BS))
size=$(((2176 - 1024) * BS))
[a2]
stonewall
exec_prerun=bash /tmp/a-down.sh
offset=$((2176 * BS))
size=$((64 * BS))
[a3]
stonewall
exec_prerun=bash /tmp/a-up.sh
offset=$((2240 * BS))
size=$(((3072 - 2240) * BS))
EOF
if (cd /tmp && fio --output-format=json --output=/tmp/a.json /tmp/a.fio) >/tmp/a.err 2>&1; then
	ok "A: fio: no verify error, no write error"
else
	fail "A: fio failed: $(grep -v '^$' /tmp/a.err | tail -n 5)"
fi
check "A: fio switched the segment down and up between its parts, wrote 2048 blocks" \
	test "$(cat /tmp/a2.prerun.txt /tmp/a3.prerun.txt 2>&1 | tr '\n' ' ')$(fio_json /tmp/a.json "sum(x['write']['total_ios'] for x in jobs)")" = "down up 2048"
dmr_list_all r0 >/tmp/list
out=$(dmsetup status r0)
log "A: $out"
NR=$(kv_field remaps "$out")
check "A: exactly the 64 segment blocks written while it failed writes are remapped" \
	test "$NR $(cut -d' ' -f1 /tmp/list | paste -sd' ')" = "64 $(seq -s' ' 2176 2239)"
check "A: every remap lies in the flakey segment" in_range /tmp/list $A0 $AN
check "A: pending=0 (reads passed), bad_slots=0" \
	test "$(kv_field pending "$out") $(kv_field bad_slots "$out")" = "0 0"
dmr_image absorb "$DEV" "$M" $BS 1024 2048
# Writing the whole segment while it fails writes remaps all of it.
dm_switch fmain "$(flakey_table /dev/main0 "$ML" $((A0 * BSS)):$((AN * BSS)):0:1:error_writes)"
dmr_image pattern "$M" $BS a2 $(seq $A0 $((A0 + AN - 1)))
check "A: rewriting the segment succeeds" dmr_image put "$DEV" "$M" $BS $(seq $A0 $((A0 + AN - 1)))
dmr_remapped r0 >/tmp/a-remapped
check "A: now exactly the $AN segment blocks are remapped" \
	test "$(status_field r0 remaps) $(seq $A0 $((A0 + AN - 1)) | cmp - /tmp/a-remapped && echo same)" = "$AN same"
dm_switch fmain "$(flakey_table /dev/main0 "$ML")"
check "A: whole device = model" dmr_image check "$DEV" "$M" $BS -

# --- B: transient write errors on blocks [5120, 5376), up 1 s, down 1 s ---
B0=5120 BN=256
R0=$(status_field r0 remaps) E0=$(status_field r0 errors)
dm_switch fmain "$(flakey_table /dev/main0 "$ML" $((B0 * BSS)):$((BN * BSS)):1:1:error_writes)"
fio_job b $B0 $BN 40 >/tmp/b.fio
if fio --output-format=json --output=/tmp/b.json /tmp/b.fio >/tmp/b.err 2>&1; then
	ok "B: fio: no verify error, no write error"
else
	fail "B: fio failed: $(grep -v '^$' /tmp/b.err | tail -n 5)"
fi
dm_switch fmain "$(flakey_table /dev/main0 "$ML")"
out=$(dmsetup status r0)
log "B: $out"
dmr_remapped r0 | awk -v a=$B0 -v b=$((B0 + BN)) '$1 >= a && $1 < b' >/tmp/b-remapped
NB=$(wc -l </tmp/b-remapped)
log "B: errors before ${E0}, after $(kv_field errors "$out"); $NB of $BN blocks remapped"
check "B: transient errors remapped some blocks ($NB)" test "$NB" -gt 0
check "B: remaps only in the segment ($(kv_field remaps "$out") = $R0 + $NB)" \
	test "$(kv_field remaps "$out")" = $((R0 + NB))
check "B: pending=0" test "$(kv_field pending "$out")" = 0
dmr_image absorb "$DEV" "$M" $BS $B0 $BN
check "B: whole device = model" dmr_image check "$DEV" "$M" $BS -

# --- C: all I/O fails on blocks [6400, 6432), then the segment heals ---
C0=6400 CN=32
R0=$(status_field r0 remaps)
dm_switch fmain "$(flakey_table /dev/main0 "$ML" $((C0 * BSS)):$((CN * BSS)):0:1)"
seq $C0 $((C0 + CN - 1)) >/tmp/c-all
check "C: the 32 failing blocks read EIO, everything else = model" \
	dmr_image check "$DEV" "$M" $BS /tmp/c-all
dmr_pending r0 >/tmp/c-pending
check "C: exactly the 32 blocks are pending" cmp -s /tmp/c-all /tmp/c-pending
dmr_status r0
check "C: status pending=32 health=degraded" test "${ST[pending]} ${ST[health]}" = "32 degraded"
awk 'NR % 2' /tmp/c-all >/tmp/c-half
dmr_image pattern "$M" $BS c $(cat /tmp/c-half)
check "C: full-block writes to 16 pending blocks succeed" \
	dmr_image put "$DEV" "$M" $BS $(cat /tmp/c-half)
check "C: those 16 are remapped" \
	test "$(dmr_query_many r0 $BSS </tmp/c-half | grep -c ' remapped$')" = 16
expect_fail "C: a 512-byte write into a failing pending block fails" \
	dd if=/dev/urandom of="$DEV" bs=512 seek=$(((C0 + 1) * BSS + 2)) count=1 oflag=direct conv=notrunc
set_minus /tmp/c-all /tmp/c-half >/tmp/c-eio
dmr_status r0
check "C: pending=16 remaps=+16; EIO exactly on the 16 left" \
	test "${ST[pending]} $((ST[remaps] - R0))" = "16 16"
check "C: whole device = model, EIO on the 16 pending blocks" \
	dmr_image check "$DEV" "$M" $BS /tmp/c-eio
dm_switch fmain "$(flakey_table /dev/main0 "$ML")"
check "C: healed: every block reads as the model" dmr_image check "$DEV" "$M" $BS -
# Those reads found the 16 pending blocks readable whole: they leave the
# list (the worker reads each and commits) and stay on main.
check "C: the healed pending blocks left the list once read (pending=0)" \
	wait_until 60 eval '[ "$(status_field r0 pending)" = 0 ]'
check "C: ... and stay on main" \
	test "$(dmr_query_many r0 $BSS </tmp/c-eio | grep -c ' main$')" = 16
dmr_image pattern "$M" $BS c2 $(cat /tmp/c-eio)
check "C: writes to them succeed, on main" \
	dmr_image put "$DEV" "$M" $BS $(cat /tmp/c-eio)
check "C: remaps still +16" test $(($(status_field r0 remaps) - R0)) = 16
check "C: whole device = model" dmr_image check "$DEV" "$M" $BS -
out=$(dmsetup status r0)
log "$out"
check "metadata=ok bad_slots=0 copy_errors=0" test \
	"$(kv_field metadata "$out") $(kv_field bad_slots "$out") $(kv_field copy_errors "$out")" = "ok 0 0"
NR=$(kv_field remaps "$out")
dmsetup remove r0
check_tool_records /dev/spare0 $NR 0 0
dmsetup remove fmain
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
