# SPDX-License-Identifier: GPL-2.0-only
# Automatic remapping of null_blk bad blocks injected LIVE, by fio between
# the parts of its write (crc32c verify after), while another fio reads
# through the target. Afterwards: fio saw no verify error and no write
# error; every bad block fio wrote after its injection is remapped, every
# one it wrote before is unreadable (EIO) and pending, and fio's read-error
# count equals the pending count; bad blocks nobody wrote read EIO and
# become pending; full-block writes remap pending blocks, a partial write to
# an unreadable block fails; the whole device equals the model except
# exactly the pending blocks. The same after remove + create, and
# dm-remap-tool check is clean with the right record counts. Last, a manual
# remap of a range with one unreadable block moves all the others and makes
# exactly that one pending.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
load_module
nullb_setup
remap_r0 32 16
M=/tmp/model
T0=$(now_ms)

# Regions in blocks: C [0, 1024) cold, F [1024, 5120) fio writes, G [5120,
# 8192) fio reads.
F0=1024 FN=4096 G0=5120 GN=3072
check "fill the device (model)" "$IOTEST" fill "$DEV" "$M" 7

# The writer: F in four parts, one after the other (stonewall), each block
# written once (random map, 4 KiB, QD16). fio itself injects the bad sectors
# (exec_prerun) before parts 2 and 4, so which bad blocks were written before
# their injection and which after is fixed by construction, not by timing.
# Then fio verifies all of F (crc32c, verify_only): exactly the bad blocks
# written before their injection read EIO (counted, continue_on_error), any
# data mismatch is fatal. A reader of G runs throughout.
# Wave 1: unaligned, one sector, a 1024-sector range, aligned, a cold range
# nobody writes; wave 2: a range across the boundary of parts 3 and 4, one
# block, one cold sector. (Pieces of at most 512 sectors: see nullb_bad.)
cat >/tmp/wave1.sh <<EOF
echo +12004-12403 >$NULLB_CFG/main0/badblocks	# blocks 1500..1550
echo +20001-20001 >$NULLB_CFG/main0/badblocks	# block 2500
echo +24576-25087 >$NULLB_CFG/main0/badblocks	# blocks 3072..3135
echo +25088-25599 >$NULLB_CFG/main0/badblocks	# blocks 3136..3199
echo +4000-4063 >$NULLB_CFG/main0/badblocks	# blocks 500..507 (cold)
echo wave 1
EOF
cat >/tmp/wave2.sh <<EOF
echo +30003-30100 >$NULLB_CFG/main0/badblocks	# blocks 3750..3762
echo +36000-36007 >$NULLB_CFG/main0/badblocks	# block 4500
echo +6345-6345 >$NULLB_CFG/main0/badblocks	# block 793 (cold)
echo wave 2
EOF
# part FIRST_BLOCK END_BLOCK [fio option]: the job writing blocks
# [FIRST, END) of F, after the previous one.
part() {
	printf '[p%d]\nstonewall\noffset=%d\nsize=%d\n' "$1" $(($1 * BS)) $((($2 - $1) * BS))
	[ -z "${3:-}" ] || echo "$3"
}
{
	cat <<EOF
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
EOF
	part 1024 1525			# 1500..1524: written before wave 1
	part 1525 3136 "exec_prerun=bash /tmp/wave1.sh"
	part 3136 3756			# 3750..3755: written before wave 2
	part 3756 5120 "exec_prerun=bash /tmp/wave2.sh"
} >/tmp/live.fio
fio --name=r --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k --rw=randread \
	--offset=$((G0 * BS)) --size=$((GN * BS)) --iodepth=4 --time_based=1 --runtime=600 \
	--output-format=json --output=/tmp/reader.json >/tmp/reader.err 2>&1 &
READER=$!
wait_status r0 reads $(($(status_field r0 reads) + 100)) $READER ||
	fail "the reader did not start"
if (cd /tmp && fio --output-format=json --output=/tmp/live.json /tmp/live.fio) >/tmp/live.err 2>&1; then
	ok "fio wrote F without an error"
else
	fail "fio write: $(grep -v '^$' /tmp/live.err | tail -n 5)"
fi
check "fio injected both waves between its parts" \
	test "$(cat /tmp/p1525.prerun.txt /tmp/p3756.prerun.txt | tr '\n' ' ')" = "wave 1 wave 2 "
check "the reader ran throughout" kill -0 $READER
sed -e 's/^do_verify=0/verify_only=1/' -e '/^exec_prerun/d' /tmp/live.fio >/tmp/verify.fio
if (cd /tmp && fio --output-format=json --output=/tmp/verify.json /tmp/verify.fio) >/tmp/verify.err 2>&1; then
	ok "fio verify of F: no mismatch"
else
	fail "fio verify: $(grep -v '^$' /tmp/verify.err | tail -n 5)"
fi
kill -INT $READER
wait $READER || true
log "live phase took $(($(now_ms) - T0)) ms"
read -r WIOS WERR <<<"$(fio_json /tmp/live.json "'%d %d' % (
	sum(x['write']['total_ios'] for x in jobs), sum(x['error'] for x in jobs))")"
read -r EIO VERR <<<"$(fio_json /tmp/verify.json "' '.join(map(str, [
	sum(x['total_err'] for x in jobs), set(x['error'] for x in jobs) - {0, 5}]))")"
read -r RIOS RERR <<<"$(fio_json /tmp/reader.json "'%d %d' % (jobs[0]['read']['total_ios'], jobs[0]['error'])")"
log "fio: $WIOS writes, $EIO verify reads hit EIO, reader $RIOS reads"
check "fio: every block of F written once ($WIOS = $FN), no error ($WERR)" test "$WIOS $WERR" = "$FN 0"
check "fio verify: no job error other than the ignored EIO" test "$VERR" = "set()"
check "fio verify: EIO on exactly the 31 bad blocks written before their wave ($EIO)" test "$EIO" = 31
check "the reader read without an error ($RIOS reads, error $RERR)" test "$RIOS" -gt 100 -a "$RERR" = 0

nullb_bad_blocks main0 $BSS >/tmp/bad
awk -v a=$F0 -v b=$((F0 + FN)) '$1 >= a && $1 < b' /tmp/bad >/tmp/bad-f
awk -v b=$F0 '$1 < b' /tmp/bad >/tmp/bad-c
NBF=$(wc -l </tmp/bad-f) NBC=$(wc -l </tmp/bad-c)
log "bad blocks: $NBF in F, $NBC cold"
check "null_blk holds the 194 + 9 injected bad blocks" test "$NBF $NBC" = "194 9"
dmr_remapped r0 >/tmp/remapped
dmr_pending r0 >/tmp/pending
NR=$(wc -l </tmp/remapped) NP=$(wc -l </tmp/pending)
out=$(dmsetup status r0)
log "$out"
check "pending ($NP) = fio's EIO verify reads ($EIO)" test "$NP" = "$EIO"
check "status pending=$NP remaps=$NR" \
	test "$(kv_field pending "$out") $(kv_field remaps "$out")" = "$NP $NR"
check "remaps ($NR) + pending ($NP) = bad blocks in F ($NBF)" test $((NR + NP)) = "$NBF"
sort -n /tmp/remapped /tmp/pending >/tmp/rp
check "remapped + pending = bad blocks of F (set)" cmp -s /tmp/rp /tmp/bad-f
check "remapped: exactly the 163 bad blocks written after their wave ($NR)" test "$NR" = 163
check "auto_remaps=$NR bad_slots=0 copy_errors=0 metadata=ok health=degraded" test \
	"$(kv_field auto_remaps "$out") $(kv_field bad_slots "$out") $(kv_field copy_errors "$out") $(kv_field metadata "$out") $(kv_field health "$out")" \
	= "$NR 0 0 ok degraded"

# F's content was verified by fio: take it into the model (pending blocks
# are unreadable and stay out), then the cold bad blocks must read EIO.
log "absorb F into the model"
dmr_image absorb "$DEV" "$M" $BS $F0 $FN
log "read the cold bad blocks"
cp /tmp/bad-c /tmp/cold-eio
check "every cold bad block ($NBC) reads EIO, the rest of C reads as the model" \
	dmr_image check "$DEV" "$M" $BS /tmp/cold-eio 0 $F0
sort -n /tmp/pending /tmp/bad-c >/tmp/expect-eio
NP=$(wc -l </tmp/expect-eio)
check "pending = $NP (F's + the cold ones)" test "$(status_field r0 pending)" = "$NP"
dmr_pending r0 >/tmp/p2
check "list: pending blocks = the unreadable ones" cmp -s /tmp/expect-eio /tmp/p2
check "whole device = model, EIO exactly on the $NP pending blocks" \
	dmr_image check "$DEV" "$M" $BS /tmp/expect-eio

# Full-block writes remap pending blocks; partial writes to an unreadable
# block fail (its other sectors cannot be read) and leave it pending.
awk 'NR % 2' /tmp/expect-eio >/tmp/rewrite
NW=$(wc -l </tmp/rewrite)
dmr_image pattern "$M" $BS full $(cat /tmp/rewrite)
check "$NW full-block writes to pending blocks succeed" \
	dmr_image put "$DEV" "$M" $BS $(cat /tmp/rewrite)
n=$(dmr_query_many r0 $BSS </tmp/rewrite | grep -vc ' remapped$' || true)
check "every rewritten pending block is remapped ($n not)" test "$n" = 0
set_minus /tmp/expect-eio /tmp/rewrite >/tmp/expect-eio2
mv /tmp/expect-eio2 /tmp/expect-eio
NP=$(wc -l </tmp/expect-eio)
b=$(head -n1 /tmp/expect-eio)
expect_fail "512-byte write into unreadable block $b fails" \
	dd if=/dev/urandom of="$DEV" bs=512 seek=$((b * BSS + 3)) count=1 oflag=direct conv=notrunc
check "block $b is still pending" test "$(dmr_query r0 "$b")" = pending
# A fresh bad range nobody read: a 512-byte write fails, a 64 KiB aligned
# write over it and good neighbours succeeds and remaps only the bad ones.
nullb_bad main0 + 2404 2419	# blocks 300, 301, 302
expect_fail "512-byte write into never-read bad block 301 fails" \
	dd if=/dev/urandom of="$DEV" bs=512 seek=$((301 * BSS + 1)) count=1 oflag=direct conv=notrunc
dmr_image pattern "$M" $BS wide $(seq 288 303)
check "64 KiB write over bad blocks 300-302 and 13 good ones" \
	dd if="$M" of="$DEV" bs=64k skip=18 seek=18 count=1 oflag=direct conv=notrunc status=none
check "blocks 300-302 remapped, 299 and 303 not" test \
	"$(for b in 299 300 301 302 303; do dmr_query r0 $b; done | tr '\n' ' ')" \
	= "main remapped remapped remapped main "
NR=$((NR + NW + 3))
out=$(dmsetup status r0)
check "status remaps=$NR pending=$NP" \
	test "$(kv_field remaps "$out") $(kv_field pending "$out")" = "$NR $NP"
check "whole device = model, EIO exactly on the $NP pending blocks" \
	dmr_image check "$DEV" "$M" $BS /tmp/expect-eio
dmr_list_all r0 >/tmp/list-before

# Remove + create: remaps and pending blocks were persisted.
dmsetup remove r0
check_tool_records /dev/spare0 $NR 0 $NP
dmsetup create r0 --table "$TABLE"
dmr_list_all r0 >/tmp/list-after
check "reload: list identical ($(wc -l </tmp/list-after) entries)" cmp -s /tmp/list-before /tmp/list-after
out=$(dmsetup status r0)
log "after reload: $out"
check "reload: remaps=$NR pending=$NP health=degraded" test \
	"$(kv_field remaps "$out") $(kv_field pending "$out") $(kv_field health "$out")" \
	= "$NR $NP degraded"
check "reload: whole device = model, EIO exactly on the pending blocks" \
	dmr_image check "$DEV" "$M" $BS /tmp/expect-eio
check "reload: no new pending from those reads" test "$(status_field r0 pending)" = "$NP"
b=$(head -n1 /tmp/expect-eio)
dmr_image pattern "$M" $BS after $b
check "reload: full write to pending block $b succeeds" blk_write "$DEV" "$b" "$M"
check "reload: block $b remapped" test "$(dmr_query r0 "$b")" = remapped
sed -i 1d /tmp/expect-eio
NR=$((NR + 1)) NP=$((NP - 1))
check "reload: whole device = model after the write" \
	dmr_image check "$DEV" "$M" $BS /tmp/expect-eio
dmsetup remove r0
check_tool_records /dev/spare0 $NR 0 $NP

# Manual remap of a 16-block range with one unreadable block: the 15 good
# blocks move (copied as one run, then block by block after the failure),
# the bad one is not moved (its data would be invented) but made pending.
nullb_create main1 16 512
nullb_create spare1 8 512
dmsetup create r1 --table "0 $(sectors /dev/main1) remap /dev/main1 /dev/spare1 0 $(sectors /dev/spare1)"
dmr_image pattern "$M" $BS m1 $(seq 100 115)
check "r1: write blocks 100..115" dmr_image put /dev/mapper/r1 "$M" $BS $(seq 100 115)
nullb_bad main1 + $((105 * BSS)) $((106 * BSS - 1))
check "r1: remap 100..115 with block 105 unreadable: only 105 fails" test \
	"$(dmsetup message r1 0 remap $((100 * BSS)) $((16 * BSS)))" = \
	"remapped=15 already=0 no_space=0 copy_failed=1 failed_blocks=105"
check "r1: block 105 pending, 104 and 106 remapped" test \
	"$(dmr_query r1 104) $(dmr_query r1 105) $(dmr_query r1 106)" = "remapped pending remapped"
echo 105 >/tmp/e105
check "r1: blocks 100..115 = model, EIO on 105" dmr_image check /dev/mapper/r1 "$M" $BS /tmp/e105 100 16
dmsetup remove r1
nullb_remove main1
nullb_remove spare1
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
