# SPDX-License-Identifier: GPL-2.0-only
# Partial-block writes that hit bad sectors, for block sizes 4096 (the
# default), 65536 and 512. README: "A partial-block write whose block's
# other sectors cannot be read fails with EIO" - so one whose other sectors
# CAN be read must succeed and remap the block, keeping those sectors:
#  - a write covering exactly the bad sectors of a block (never read, or
#    already pending) succeeds, the block is remapped, its other sectors
#    keep their data;
#  - a write to good sectors of a block with a bad sector elsewhere goes to
#    main and needs no remap;
#  - a write whose block has unreadable sectors outside it fails (EIO) and
#    remaps nothing;
#  - concurrent partial writes that together cover a fully bad block are
#    handled in one round: all succeed, one remap;
#  - fio 4 KiB writes + crc32c verify over 64 KiB blocks with bad 4 KiB
#    pieces: no error; fio 512 B..4 KiB writes with 512-byte blocks: one
#    remap per bad sector.
# The device equals the model (EIO only where expected) after each part.
# vm-timeout: 360
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
load_module
nullb_setup
nullb_create main0 16 512
nullb_create spare0 16 512
ML=$(sectors /dev/main0) SL=$(sectors /dev/spare0)
M=/tmp/model
T0=$(now_ms)

# put_sectors DEV FIRST N TAG: write sectors FIRST..FIRST+N-1 (one write)
# with new data, into the model as well.
put_sectors() {
	dd if=/dev/urandom of=/tmp/piece bs=512 count="$3" status=none
	dd if=/tmp/piece of="$M" bs=512 seek="$2" conv=notrunc status=none
	dd if=/tmp/piece of="$1" bs=$(($3 * 512)) seek=$(($2 * 512)) count=1 \
		oflag=direct,seek_bytes conv=notrunc status=none 2>/dev/null
}
# state NAME BLOCK BLOCK_SECTORS: main/remapped/pending.
state() { dmr_query "$1" "$2" "$3"; }

# --- 4096-byte blocks (8 sectors) ---
dmsetup create r4 --table "0 $ML remap /dev/main0 /dev/spare0 0 $SL"
DEV=/dev/mapper/r4
check "4K: fill (model)" "$IOTEST" fill "$DEV" "$M" 21
nullb_bad main0 + 1603 1603	# block 200, sector 3 only
check "4K: 512 B write over the one bad sector of block 200 succeeds" put_sectors "$DEV" 1603 1
check "4K: block 200 remapped" test "$(state r4 200 8)" = remapped
nullb_bad main0 + 1700 1701	# block 212, sectors 4..5
check "4K: 1 KiB write over the bad sectors of block 212 succeeds" put_sectors "$DEV" 1700 2
check "4K: block 212 remapped" test "$(state r4 212 8)" = remapped
nullb_bad main0 + 1800 1800	# block 225, sector 0
check "4K: 512 B write to a good sector (1801) of block 225 succeeds" put_sectors "$DEV" 1801 1
check "4K: block 225 not remapped (main took it)" test "$(state r4 225 8)" = main
expect_fail "4K: read of block 225 fails" blk_read "$DEV" 225
check "4K: block 225 pending" test "$(state r4 225 8)" = pending
check "4K: 512 B write over the bad sector of pending block 225 succeeds" put_sectors "$DEV" 1800 1
check "4K: block 225 remapped" test "$(state r4 225 8)" = remapped
nullb_bad main0 + 1896 1903	# block 237, all of it
expect_fail "4K: 512 B write into fully bad block 237 fails" put_sectors "$DEV" 1899 1
check "4K: block 237 not remapped" test "$(state r4 237 8)" = main
echo 237 >/tmp/e237
check "4K: whole device = model, EIO only on block 237" dmr_image check "$DEV" "$M" 4096 /tmp/e237
dmsetup remove r4
# Eight concurrent 512 B writes that together cover a fully bad block,
# handled in one round (errors wait up to 5 s for each other): all succeed,
# one remap, the block holds all eight pieces.
dmsetup create r4 --table "0 $ML remap /dev/main0 /dev/spare0 0 $SL 2 commit_interval 5000"
nullb_bad main0 + 2400 2407	# block 300, all of it
R0=$(status_field r4 remaps)
dd if=/dev/urandom of=/tmp/pieces bs=512 count=8 status=none
dd if=/tmp/pieces of="$M" bs=512 seek=2400 conv=notrunc status=none
pids=""
for i in 0 1 2 3 4 5 6 7; do
	dd if=/tmp/pieces of="$DEV" bs=512 skip=$i seek=$((2400 + i)) count=1 oflag=direct \
		conv=notrunc status=none 2>/dev/null &
	pids="$pids $!"
done
n=0
for p in $pids; do wait "$p" || n=$((n + 1)); done
check "4K: 8 concurrent 512 B writes covering fully bad block 300 all succeed ($n failed)" test "$n" = 0
check "4K: one remap for them" test "$(($(status_field r4 remaps) - R0))" = 1
check "4K: block 300 holds the 8 pieces" dmr_image check "$DEV" "$M" 4096 - 300 1
dmsetup remove r4
nullb_bad main0 - 0 $((ML - 1))
dd if=/dev/zero of=/dev/spare0 bs=64k count=16 oflag=direct status=none

# --- 65536-byte blocks (128 sectors) ---
dmsetup create r64 --table "0 $ML remap /dev/main0 /dev/spare0 0 $SL 2 block_size 65536"
DEV=/dev/mapper/r64
check "64K: fill (model)" "$IOTEST" fill "$DEV" "$M" 22
nullb_bad main0 + $((10 * 128 + 16)) $((10 * 128 + 23))	# block 10, 4 KiB at 8 KiB
check "64K: 4 KiB write over the bad 4 KiB of block 10 succeeds" put_sectors "$DEV" $((10 * 128 + 16)) 8
check "64K: block 10 remapped" test "$(state r64 10 128)" = remapped
nullb_bad main0 + $((11 * 128 + 64)) $((11 * 128 + 71))	# block 11, 4 KiB at 32 KiB
check "64K: 4 KiB write to a good part of block 11 succeeds" put_sectors "$DEV" $((11 * 128)) 8
check "64K: block 11 not remapped" test "$(state r64 11 128)" = main
check "64K: whole device = model except block 11 (EIO)" \
	eval 'echo 11 >/tmp/e11 && dmr_image check "$DEV" "$M" 65536 /tmp/e11'
check "64K: a 4 KiB read of a good part of block 11 works" \
	dd if="$DEV" of=/dev/null bs=4096 skip=$((11 * 16)) count=1 iflag=direct status=none
# fio: bad 4 KiB pieces in blocks 40..55; 4 KiB writes over blocks 32..63.
for b in $(seq 40 55); do
	nullb_bad main0 + $((b * 128 + (b % 16) * 8)) $((b * 128 + (b % 16) * 8 + 7))
done
if fio --name=p --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k --rw=randwrite \
	--offset=$((32 * 65536)) --size=$((32 * 65536)) --iodepth=8 --verify=crc32c \
	--verify_fatal=1 --verify_state_save=0 --do_verify=1 --output=/tmp/p.out >/tmp/p.err 2>&1; then
	ok "64K: fio 4 KiB writes + verify over blocks with bad 4 KiB pieces"
else
	fail "64K: fio: $(grep -E 'err|error' /tmp/p.out /tmp/p.err | head -n 3 | tr '\n' ' ')"
fi
check "64K: blocks 40..55 remapped (and 10): remaps=17" test "$(status_field r64 remaps)" = 17
dmsetup remove r64
nullb_bad main0 - 0 $((ML - 1))
dd if=/dev/zero of=/dev/spare0 bs=64k count=16 oflag=direct status=none

# --- 512-byte blocks: one remap per bad sector (sequential writes of
# 512 B..4 KiB cover every sector once) ---
dmsetup create r512 --table "0 $ML remap /dev/main0 /dev/spare0 0 $SL 2 block_size 512"
DEV=/dev/mapper/r512
for s in 4001 4003 4010 4100 4101 4102 4500 5000; do nullb_bad main0 + $s $s; done
if fio --name=s --filename="$DEV" --direct=1 --ioengine=libaio --bsrange=512-4k \
	--blockalign=512 --rw=write --offset=$((4000 * 512)) --size=$((1024 * 512)) \
	--iodepth=8 --verify=crc32c --verify_fatal=1 --verify_state_save=0 --do_verify=1 \
	--output=/tmp/s.out >/tmp/s.err 2>&1; then
	ok "512: fio 512 B..4 KiB writes + verify over 8 bad sectors"
else
	fail "512: fio: $(grep -E 'err|error' /tmp/s.out /tmp/s.err | head -n 3 | tr '\n' ' ')"
fi
dmr_remapped r512 | tr '\n' ' ' >/tmp/r512
check "512: exactly the 8 bad sectors are remapped ($(cat /tmp/r512))" \
	test "$(cat /tmp/r512)" = "4001 4003 4010 4100 4101 4102 4500 5000 "
dmsetup remove r512
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
