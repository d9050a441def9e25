# SPDX-License-Identifier: GPL-2.0-only
# dm-remap-tool import on a live device, with the list fixtures of
# tests/fixtures/import: badblocks -o (-b 4096; one listed block unreadable:
# pending), a ddrescue mapfile ('-' and '/' areas), an LBA list (a block
# listed twice), mdadm --examine-badblocks with -O. Asserts where each
# listed block lives, that remapped blocks kept their data (the whole
# device equals the model except the unreadable block), that a dry run, a
# malformed list and a list past the device's end change nothing and name
# the line, and that a second import finds the blocks already remapped.
# Then the same offline, into the metadata of unused devices: refused while
# a table uses them, the same result once a table loads them.
# vm-timeout: 300
. tests/vm/lib.sh
requires_module null_blk
requires_cmd python3
load_module
nullb_setup
remap_r0 64 16
T=$TOP/tools/dm-remap-tool
FX=$TOP/tests/fixtures/import
M=/tmp/model
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 3
where() { printf '%s\n' "$@" | dmr_query_many r0 $BSS | cut -d' ' -f2 | tr '\n' ' '; }


# Bad input first: nothing may change.
expect_out 0 "dry run prints the plan" "remap 80 16" \
	"$T" import -F badblocks -b 4096 -n "$FX/badblocks.txt" r0
expect_out 2 "a malformed mapfile: line 4 named" "bad-ddrescue.map:4: expected 'pos size status'" \
	"$T" import -F ddrescue "$FX/bad-ddrescue.map" r0
check "...and line 5" grep -qF "bad-ddrescue.map:5:" /tmp/out
printf '10\n%s\n' $((ML / 8)) >/tmp/past.txt
expect_out 2 "a block past the end: line 2 named" "past.txt:2: bytes $((ML * 512))-" \
	"$T" import -F badblocks -b 4096 /tmp/past.txt r0
expect_out 2 "an unknown format" "unknown format 'smart'" "$T" import -F smart "$FX/lba.txt" r0
expect_out 1 "no such device" "nosuch: not an open remap device" \
	"$T" import -F lba "$FX/lba.txt" nosuch
check "after all that: remaps=0 pending=0" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "0 0"

# badblocks -o with 4 KiB blocks; block 500 cannot be read.
nullb_bad main0 + $((500 * BSS + 2)) $((500 * BSS + 2))
expect_out 0 "badblocks: 3 blocks, 1 unreadable" "import: remapped=2 already=0 pending=1 no_space=0" \
	"$T" import -F badblocks -b 4096 "$FX/badblocks.txt" r0
check "10, 11 remapped, 500 pending" test "$(where 10 11 500)" = "remapped remapped pending "
expect_out 0 "ddrescue: the '-' and '/' areas" "import: remapped=4 already=0 pending=0 no_space=0" \
	"$T" import -F ddrescue "$FX/ddrescue.map" r0
check "256, 512-514 remapped; 255, 257, 511, 515 not" \
	test "$(where 256 512 513 514 255 257 511 515)" = "remapped remapped remapped remapped main main main main "
expect_out 0 "lba: 8200 listed twice, one block" "1 blocks of 4096 bytes in 1 runs" \
	"$T" import -F lba "$FX/lba.txt" r0
check "block 1025 remapped" test "$(where 1025)" = "remapped "
expect_out 0 "mdadm with the data offset" "import: remapped=1 already=0 pending=0 no_space=0" \
	"$T" import -F mdadm -O 2048 "$FX/mdadm.txt" r0
check "block 381 remapped (sector 1000 + 2048)" test "$(where 381)" = "remapped "
expect_out 0 "again: all 3 already there (remapped or pending)" "import: remapped=0 already=3 pending=0" \
	"$T" import -F badblocks -b 4096 "$FX/badblocks.txt" r0
dmr_status r0
check "remaps=8 pending=1 (${ST[remaps]} ${ST[pending]})" test "${ST[remaps]} ${ST[pending]}" = "8 1"
echo 500 >/tmp/eio
check "whole device = model but unreadable block 500" dmr_image check "$DEV" "$M" $BS /tmp/eio
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
check "after re-create: the same" \
	test "$(where 10 11 500 256 512 513 514 1025 381)" = "remapped remapped pending remapped remapped remapped remapped remapped remapped "

# Offline, into the metadata of devices no table uses: the same lists on
# main1/spare1 (block 500 unreadable), then a table shows the same result.
nullb_create main1 64 512
nullb_create spare1 16 512
check "offline: fill main1 (model)" "$IOTEST" fill /dev/main1 /tmp/model1 4
check "offline: format spare1" "$T" format -m "$ML" /dev/spare1
nullb_bad main1 + $((500 * BSS + 2)) $((500 * BSS + 2))
expect_out 1 "offline: refused while a table uses the devices" "in use" \
	"$T" import -F lba "$FX/lba.txt" /dev/main0 /dev/spare0
expect_out 2 "offline: --spare-start is for MAIN SPARE" "--spare-start is for FILE MAIN SPARE" \
	"$T" import -F lba -s 8 "$FX/lba.txt" r0
expect_out 2 "offline: a block past the end, line named" "past.txt:2:" \
	"$T" import -F badblocks -b 4096 /tmp/past.txt /dev/main1 /dev/spare1
expect_out 0 "offline: dry run" "remap 80 16" \
	"$T" import -F badblocks -b 4096 -n "$FX/badblocks.txt" /dev/main1 /dev/spare1
check "offline: nothing written yet (0 records)" \
	sh -c "'$T' check /dev/spare1 | grep -q '^records: 0 mapped, 0 bad, 0 pending'"
expect_out 0 "offline badblocks: 2 remapped, 1 pending" \
	"import: remapped=2 already=0 pending=1 no_space=0 bad_slots=0" \
	"$T" import -F badblocks -b 4096 "$FX/badblocks.txt" /dev/main1 /dev/spare1
expect_out 0 "offline ddrescue" "import: remapped=4 already=0 pending=0" \
	"$T" import -F ddrescue "$FX/ddrescue.map" /dev/main1 /dev/spare1
expect_out 0 "offline lba" "import: remapped=1 already=0 pending=0" \
	"$T" import -F lba "$FX/lba.txt" /dev/main1 /dev/spare1
expect_out 0 "offline mdadm -O 2048" "import: remapped=1 already=0 pending=0" \
	"$T" import -F mdadm -O 2048 "$FX/mdadm.txt" /dev/main1 /dev/spare1
expect_out 0 "offline again: already" "import: remapped=0 already=3 pending=0" \
	"$T" import -F badblocks -b 4096 "$FX/badblocks.txt" /dev/main1 /dev/spare1
check "offline: check clean, 8 mapped, 1 pending" \
	sh -c "'$T' check /dev/spare1 | grep -q '^records: 8 mapped, 0 bad, 1 pending'"
dmsetup create r1 --table "0 $ML remap /dev/main1 /dev/spare1 0 $SL"
dmr_status r1
check "offline: a table loads it: remaps=8 pending=1" test "${ST[remaps]} ${ST[pending]}" = "8 1"
where1() { printf '%s\n' "$@" | dmr_query_many r1 $BSS | cut -d' ' -f2 | tr '\n' ' '; }
check "offline: the same blocks as live" \
	test "$(where1 10 11 500 256 512 513 514 1025 381)" = "remapped remapped pending remapped remapped remapped remapped remapped remapped "
check "offline: whole device = model but unreadable block 500" \
	dmr_image check /dev/mapper/r1 /tmp/model1 $BS /tmp/eio
dmsetup remove r0 r1
nullb_remove main0
nullb_remove spare0
nullb_remove main1
nullb_remove spare1
check "rmmod dm_remap" unload_module
finish
