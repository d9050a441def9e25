# SPDX-License-Identifier: GPL-2.0-only
# Automatic remapping over a scsi_debug disk whose reads fail with MEDIUM
# ERROR (unrecovered read error sense) on a sector range switched on LIVE,
# by fio between the parts of its write: fio's crc32c verify sees no
# mismatch, exactly the blocks of the range fail with EIO (fio's read-error
# count = pending count = the range's blocks); a concurrent reader of a
# second range makes those pending too; a 64 KiB read across a range marks
# only the bad blocks pending; a second fio pass (full-block writes) remaps
# every pending block and then verifies clean. Remaps and pending blocks
# survive remove + create. A disk set offline: errors pass, nothing is
# remapped, health main_unavailable until it runs again. With the spare
# full, a full-block write of a pending block still reaches main.
# vm-timeout: 420
. tests/vm/lib.sh
requires_module null_blk scsi_debug sd_mod
requires_cmd fio python3
load_module
nullb_setup
BS=4096 BSS=8
modprobe sd_mod
modprobe scsi_debug dev_size_mb=32 delay=0 sector_size=512 opts=0
SD=$(scsi_debug_disk) || { fail "no scsi_debug disk"; finish; }
log "scsi_debug disk: $SD ($(sectors "$SD") sectors)"
nullb_create spare0 16 512
ML=$(sectors "$SD")
TABLE="0 $ML remap $SD /dev/spare0 0 $(sectors /dev/spare0)"
dmsetup create r0 --table "$TABLE"
DEV=/dev/mapper/r0
M=/tmp/model
T0=$(now_ms)
check "fill the device (model)" "$IOTEST" fill "$DEV" "$M" 5

# F = blocks [1024, 3072): fio writes it in two halves, one after the
# other (stonewall), then verifies it (verify_only). Medium errors at sectors
# 12004..12103 (blocks 1500..1512, in the first half) are switched on by fio
# itself (exec_prerun) between the halves: while fio runs, after those blocks
# were written and before they are read, by construction.
F0=1024 FN=2048
SDP=/sys/module/scsi_debug/parameters
printf '%s\n' "echo 12004 >$SDP/medium_error_start" "echo 100 >$SDP/medium_error_count" \
	"echo 2 >$SDP/opts" "echo switched" >/tmp/medium-on.sh
cat >/tmp/f.fio <<EOF
[global]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
rw=randwrite
iodepth=16
verify=crc32c
verify_fatal=1
verify_state_save=0
do_verify=0
continue_on_error=read
ignore_error=EIO
[w1]
offset=$((F0 * BS))
size=$((FN * BS / 2))
[w2]
stonewall
exec_prerun=bash /tmp/medium-on.sh
offset=$(((F0 + FN / 2) * BS))
size=$((FN * BS / 2))
EOF
if (cd /tmp && fio --output-format=json --output=/tmp/f.json /tmp/f.fio) >/tmp/f.err 2>&1; then
	ok "fio wrote F without an error"
else
	fail "fio write failed: $(grep -v '^$' /tmp/f.err | tail -n 5)"
fi
check "fio switched the medium errors on between its halves" \
	test "$(cat /tmp/w2.prerun.txt 2>&1) $(fio_json /tmp/f.json "sum(x['write']['total_ios'] for x in jobs)")" = "switched $FN"
sed -e 's/^do_verify=0/verify_only=1/' -e '/^exec_prerun/d' /tmp/f.fio >/tmp/fv.fio
if fio --output-format=json --output=/tmp/fv.json /tmp/fv.fio >/tmp/fv.err 2>&1; then
	ok "fio verify: no mismatch"
else
	fail "fio verify failed: $(grep -v '^$' /tmp/fv.err | tail -n 5)"
fi
EIO=$(fio_json /tmp/fv.json "sum(x['total_err'] for x in jobs)")
seq 1500 1512 >/tmp/bad1
dmr_pending r0 >/tmp/pending
log "fio: $EIO verify reads failed; $(dmsetup status r0)"
check "fio's EIO count ($EIO) = the 13 blocks of the medium range" test "$EIO" = 13
check "pending = exactly blocks 1500..1512" cmp -s /tmp/bad1 /tmp/pending
check "no remaps (writes never failed)" test "$(status_field r0 remaps)" = 0
dmr_image absorb "$DEV" "$M" $BS $F0 $FN

# A reader hits a second range (sectors 40000..40031 = blocks 5000..5003)
# while the first stays on: fio random reads over [4096, 6144).
scsi_debug_medium 40000 32
if fio --name=r --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k --rw=randread \
	--offset=$((4096 * BS)) --size=$((2048 * BS)) --iodepth=8 \
	--continue_on_error=read --ignore_error=EIO --output-format=json \
	--output=/tmp/r.json >/tmp/r.err 2>&1; then
	ok "reader: only EIO errors"
else
	fail "reader failed: $(tail -n 3 /tmp/r.err)"
fi
check "reader: 4 EIO reads" test "$(fio_json /tmp/r.json "jobs[0]['total_err']")" = 4
seq 1500 1512 >/tmp/expect
seq 5000 5003 >>/tmp/expect
dmr_pending r0 >/tmp/pending
check "pending = blocks 1500..1512 and 5000..5003" cmp -s /tmp/expect /tmp/pending
# Only one range is active at a time in scsi_debug: the first range now
# reads fine from main (fio's data), the second fails. Blocks 1500..1512
# are read from the disk itself: a successful read through the target
# would take them off the pending list, and this part is about keeping it.
dmr_image absorb "$SD" "$M" $BS 1500 13
seq 5000 5003 >/tmp/eio
check "whole device but 1500..1512 = model, EIO exactly on blocks 5000..5003" \
	eval 'dmr_image check "$DEV" "$M" $BS /tmp/eio 0 1500 &&
		dmr_image check "$DEV" "$M" $BS /tmp/eio 1513 $((ML / BSS - 1513))'

# A 64 KiB read across a bad range fails, but only its bad blocks go pending.
scsi_debug_medium 48016 10	# blocks 6002, 6003
expect_fail "64 KiB read over blocks 6000..6015 fails" \
	dd if="$DEV" of=/dev/null bs=64k skip=375 count=1 iflag=direct
printf '%s\n' 1500 1501 1502 1503 1504 1505 1506 1507 1508 1509 1510 1511 1512 \
	5000 5001 5002 5003 6002 6003 >/tmp/expect
dmr_pending r0 >/tmp/pending
check "only blocks 6002 and 6003 of the 64 KiB read went pending" cmp -s /tmp/expect /tmp/pending
check "status pending=19" test "$(status_field r0 pending)" = 19
scsi_debug_medium 12004 100

# Persistence of the pending list, then a second fio pass rewrites F.
dmr_list_all r0 >/tmp/list-before
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
dmr_list_all r0 >/tmp/list-after
check "reload: list identical" cmp -s /tmp/list-before /tmp/list-after
check "reload: pending=19 health=degraded" \
	test "$(status_field r0 pending) $(status_field r0 health)" = "19 degraded"
sed -e 's/^do_verify=0/do_verify=1/' -e '/^exec_prerun/d' /tmp/f.fio >/tmp/f2.fio
if fio --output-format=json --output=/tmp/f2.json /tmp/f2.fio >/tmp/f2.err 2>&1; then
	ok "fio pass 2: no verify error, no write error"
else
	fail "fio pass 2 failed: $(grep -v '^$' /tmp/f2.err | tail -n 5)"
fi
check "fio pass 2: no EIO (the pending blocks were remapped by its writes)" \
	test "$(fio_json /tmp/f2.json "sum(x['total_err'] for x in jobs)")" = 0
out=$(dmsetup status r0)
log "$out"
check "remaps=13 pending=6 auto_remaps=13" test \
	"$(kv_field remaps "$out") $(kv_field pending "$out") $(kv_field auto_remaps "$out")" = "13 6 13"
dmr_remapped r0 >/tmp/remapped
seq 1500 1512 >/tmp/bad1
check "remapped = blocks 1500..1512" cmp -s /tmp/bad1 /tmp/remapped
dmr_image absorb "$DEV" "$M" $BS $F0 $FN
printf '%s\n' 5000 5001 5002 5003 6002 6003 >/tmp/p2
dmr_image pattern "$M" $BS s $(cat /tmp/p2)
check "full writes to the other 6 pending blocks" dmr_image put "$DEV" "$M" $BS $(cat /tmp/p2)
check "pending=0 remaps=19" \
	test "$(status_field r0 pending) $(status_field r0 remaps)" = "0 19"
check "whole device = model, no EIO (medium range remapped)" \
	dmr_image check "$DEV" "$M" $BS -
dmsetup remove r0
check_tool_records /dev/spare0 19 0 0

# The disk goes offline, as the SCSI error handler leaves a disk it gave up
# on: its errors say so (BLK_STS_OFFLINE). They pass through, nothing is
# remapped or pending, health is main_unavailable until the disk answers.
dmsetup create r0 --table "$TABLE"
SDS=/sys/block/${SD##*/}/device/state
ev0=$(dm_events r0)
echo offline >"$SDS"
expect_fail "offline: a read fails" blk_read "$DEV" 100
expect_fail "offline: a write fails" blk_write "$DEV" 101 "$M"
check "offline: health main_unavailable" wait_until 30 status_is r0 health main_unavailable
check "offline: a dm event ($ev0 -> $(dm_events r0))" test "$(dm_events r0)" -gt "$ev0"
check "offline: remaps=19 pending=0, as before" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "19 0"
echo running >"$SDS"
check "running again: health leaves main_unavailable" \
	wait_until 30 eval '! status_is r0 health main_unavailable'
check "running again: whole device = model" dmr_image check "$DEV" "$M" $BS -
dmsetup remove r0

# Spare full: a full-block write of a pending block cannot be remapped, so
# it must go to main like any write (a disk takes such writes and may fix
# the sector itself): it succeeds here, the block stays pending.
nullb_create spare1 1 512
dmsetup create r1 --table "0 $ML remap $SD /dev/spare1 0 224"
check "tiny spare: 8 manual remaps fill it" \
	test "$(dmsetup message r1 0 remap $((7000 * BSS)) $((8 * BSS)))" = "remapped=8 already=0 no_space=0 copy_failed=0"
check "tiny spare: health=spare_full" test "$(status_field r1 health)" = spare_full
scsi_debug_medium 60000 8	# block 7500
expect_fail "spare full: block 7500 reads EIO" blk_read /dev/mapper/r1 7500
check "spare full: block 7500 pending" test "$(dmr_query r1 7500)" = pending
dmr_image pattern "$M" $BS full 7500
check "spare full: a full write to pending block 7500 reaches main and succeeds" \
	blk_write /dev/mapper/r1 7500 "$M"
scsi_debug_medium 0 0
dd if="$SD" of=/tmp/a bs=4096 skip=7500 count=1 iflag=direct status=none
dd if="$M" of=/tmp/b bs=4096 skip=7500 count=1 status=none
check "spare full: main holds the written data" cmp -s /tmp/a /tmp/b
dmsetup remove r1
nullb_remove spare1
log "total $(($(now_ms) - T0)) ms"
scsi_debug_medium 0 0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
