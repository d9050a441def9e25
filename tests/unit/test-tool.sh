#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# End-to-end test of dm-remap-tool on image files: format, restore, check,
# dump, corruption, repair, refusals. Writes only under $FMT_TMP (or mktemp).
set -u

TOOL=${1:-$(dirname "$0")/../../tools/dm-remap-tool}
TOOL=$(realpath "$TOOL")
FX=$(realpath "$(dirname "$0")/../fixtures/import")	# import's list fixtures
if [ -n "${FMT_TMP:-}" ]; then
	rm -rf "$FMT_TMP"
	mkdir -p "$FMT_TMP"
	T=$FMT_TMP
else
	T=$(mktemp -d)
	trap 'rm -rf "$T"' EXIT
fi
cd "$T" || exit 2

pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); [ -f out ] && sed 's/^/    /' out | head -20; }
# expect RC NAME CMD...: run CMD, output in ./out, compare the exit status
expect() {
	local want=$1 name=$2 rc
	shift 2
	"$@" >out 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else ko "$name (exit $rc, want $want)"; fi
}
has() { # has NAME PATTERN: last output contains PATTERN
	if grep -q -- "$2" out; then ok "$1"; else ko "$1 (no '$2')"; fi
}
records() { grep -E '^(map|bad|pending) ' "$1"; }

MAIN=2097152		# 1 GiB main device, 262144 blocks of 4 KiB
LEN=131072		# 64 MiB spare area

# --- help and usage -------------------------------------------------------
expect 0 "help" "$TOOL" --help
has "help lists commands" "repair -o OUT"
for c in check dump export restore repair format; do
	expect 0 "$c --help" "$TOOL" "$c" --help
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
		grep -q "^$s" out || ko "$c --help lacks $s"
	done
done
expect 2 "unknown command" "$TOOL" frobnicate x.img
expect 2 "missing device" "$TOOL" check
expect 2 "bad number" "$TOOL" format -m 12abc x.img
expect 2 "check of a missing file" "$TOOL" check does-not-exist.img

# --- format ---------------------------------------------------------------
truncate -s 64M spare.img
expect 0 "format" "$TOOL" format -m $MAIN spare.img
expect 0 "check after format" "$TOOL" check spare.img
has "check says clean" "result: clean"
expect 1 "format: bad geometry refused" "$TOOL" format -m 1001 -l $LEN g.img
has "geometry reason" "not a multiple of the block size"
expect 1 "format: spare too small" "$TOOL" format -m $MAIN -l 100 g.img
has "too small reason" "too small"

# --- restore a dump -------------------------------------------------------
cat >in.txt <<EOF
# hand-written dump
block_size 4096
main_sectors $MAIN
spare_start 0
spare_len $LEN
map 5 0
map 100 1
map 262143 600
map 7 16299
bad 2
bad 507
pending 99
pending 3
end
EOF
expect 0 "restore" "$TOOL" restore -i in.txt spare.img
expect 0 "check after restore" "$TOOL" check spare.img
has "check clean after restore" "result: clean"
has "bad slots listed" "bad slots: 2 (2, 507)"
expect 0 "dump text" "$TOOL" dump -o dump1.txt spare.img
if diff <(records in.txt | sort) <(records dump1.txt | sort) >/dev/null; then
	ok "dump matches the restored records"
else
	ko "dump matches the restored records"
fi
expect 0 "dump json" "$TOOL" dump --json -o dump1.json spare.img
if command -v python3 >/dev/null; then
	if python3 - dump1.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["counts"] == {"mapped": 4, "bad": 2, "pending": 2}, d["counts"]
m = {x["block"]: x["slot"] for x in d["mappings"]}
assert m == {5: 0, 100: 1, 262143: 600, 7: 16299}, m
assert d["bad_slots"] == [2, 507] and d["pending"] == [3, 99]
g = d["geometry"]
assert g["block_size"] == 4096 and g["nr_slots"] == 16300, g
assert d["mappings"][0]["sector"] == g["data_start"] + 8 * d["mappings"][0]["slot"]
EOF
	then ok "json dump parses and is right"; else ko "json dump parses and is right"; fi
fi
# export: pending blocks 3 and 99 (4 KiB) as filesystem blocks.
exported() { # exported NAME WANT OPTION...: export's output is WANT (a line)
	local name=$1 want=$2
	shift 2
	expect 0 "$name" "$TOOL" export "$@" spare.img
	if [ "$(grep -v '^dm-remap-tool' out | paste -sd' ')" = "$want" ]; then
		ok "$name: $want"
	else
		ko "$name: want $want"
	fi
}
exported "export, 4 KiB fs blocks" "3 99"
exported "export, 1 KiB fs blocks" "12 13 14 15 396 397 398 399" -B 1024
exported "export, fs at 4 KiB" "2 98" -O 8
exported "export, fs at 2 KiB: a block across two" "2 3 98 99" --fs-offset 4
exported "export, 64 KiB fs blocks: one number for both" "0 6" -B 65536
exported "export, fs after block 3: left out" "95" -O 32
has "export names what it left out" "1 pending blocks lie before --fs-offset"
expect 0 "export -o FILE" "$TOOL" export -o exp.txt spare.img
if [ "$(paste -sd' ' exp.txt)" = "3 99" ]; then ok "export -o FILE: 3 99"; else ko "export -o FILE: 3 99"; fi
expect 2 "export: fs block size not a power of two" "$TOOL" export -B 3000 spare.img
has "export: bad -B named" "bad --fs-block-size '3000'"
expect 2 "export: fs block size too big" "$TOOL" export -B 131072 spare.img
expect 2 "export: bad offset" "$TOOL" export -O 12k spare.img
expect 2 "--fs-offset outside export" "$TOOL" dump -O 8 spare.img
has "--fs-offset outside export named" "options of 'export'"
# e2fsck takes the list and names the file on the pending block: an ext4
# image stands for the remap device (4 KiB blocks: fs block = remap block).
if command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null; then
	mkfs.ext4 -q -F -b 4096 fs.img 8M >/dev/null
	echo data >victim.txt
	debugfs -w -R "write victim.txt victim" fs.img >/dev/null 2>&1
	vb=$(debugfs -R "blocks victim" fs.img 2>/dev/null | tr -d ' \n')
	printf 'block_size 4096\nmain_sectors 16384\nspare_start 0\nspare_len %s\npending %s\nend\n' \
		"$LEN" "$vb" >fsmd.txt
	truncate -s $((LEN * 512)) fsmd.img
	expect 0 "restore a pending block under a file" "$TOOL" restore -i fsmd.txt fsmd.img
	expect 0 "export it" "$TOOL" export -o fsbad.txt fsmd.img
	expect 1 "e2fsck -l takes the list (and changes the fs)" e2fsck -fy -l fsbad.txt fs.img
	has "e2fsck names the file on the pending block" "File /victim (inode"
	has "...as sharing it with the bad blocks inode" "<The bad blocks inode>"
else
	echo "SKIP: export into e2fsck -l: no mkfs.ext4/debugfs (e2fsprogs)"
fi
# import: bad options and malformed lists are refused before any device is
# looked at (exit 2, the line named); the live part is tests/vm/cases/tool-import.sh.
expect 2 "import without -F" "$TOOL" import "$FX/lba.txt" r0
has "import without -F named" "import needs -F FORMAT"
expect 2 "import: unknown format" "$TOOL" import -F smart "$FX/lba.txt" r0
expect 2 "import: --unit with ddrescue" "$TOOL" import -F ddrescue -b 512 "$FX/ddrescue.map" r0
has "import: --unit with ddrescue named" "--unit is for badblocks and lba lists"
expect 2 "import: bad --unit" "$TOOL" import -F lba -b 0 "$FX/lba.txt" r0
expect 2 "import: bad --offset" "$TOOL" import -F lba -O 1k "$FX/lba.txt" r0
expect 2 "import: NAME missing" "$TOOL" import -F lba "$FX/lba.txt"
expect 2 "import: unreadable FILE" "$TOOL" import -F lba nofile.txt r0
printf '10\n1 2\nx\n0x10\n' >imp-bb.txt
expect 2 "import: malformed badblocks list" "$TOOL" import -F badblocks imp-bb.txt r0
has "...line 2 named" "imp-bb.txt:2: expected one block number"
has "...line 4 named (no hex in badblocks lists)" "imp-bb.txt:4:"
has "...nothing done" "3 errors in imp-bb.txt: nothing done"
printf '010 # a leading zero is decimal\n0x\n' >imp-lba.txt
expect 2 "import: malformed LBA list" "$TOOL" import -F lba imp-lba.txt r0
has "...only line 2 (0x) named" "1 error in imp-lba.txt"
printf 'Bad-blocks on /dev/sdb1:\n  12 for 0 sectors\n  12 four 8 sectors\n' >imp-md.txt
expect 2 "import: malformed mdadm list" "$TOOL" import -F mdadm imp-md.txt r0
has "...lines 2 and 3 named" "2 errors in imp-md.txt"
expect 2 "import: malformed ddrescue mapfile" "$TOOL" import -F ddrescue "$FX/bad-ddrescue.map" r0
has "...line 4 named" "bad-ddrescue.map:4:"
printf '# nothing but comments\n' >imp-dd.txt
expect 2 "import: mapfile without a status line" "$TOOL" import -F ddrescue imp-dd.txt r0
has "...named" "no status line"
# import offline (image files): readable blocks copied to free slots, one
# crash-safe commit (tests/unit/test-format.c t_tool_commit), then "already".
head -c 8M /dev/urandom >imain.img
truncate -s 4M ispare.img
"$TOOL" format -m 16384 ispare.img >/dev/null 2>&1
printf '10\n11\n1000\n' >ibb.txt
expect 0 "import offline" "$TOOL" import -F badblocks -b 4096 ibb.txt imain.img ispare.img
has "...3 remapped" "import: remapped=3 already=0 pending=0 no_space=0 bad_slots=0"
expect 0 "...check clean" "$TOOL" check ispare.img
has "...3 records" "records: 3 mapped, 0 bad, 0 pending"
"$TOOL" dump ispare.img | awk '$1 == "map" { print $2, $3 }' >imaps.txt
ds=$("$TOOL" dump ispare.img | awk '$1 == "data_start" { print $2 }')
same=0
while read -r b sl; do
	cmp -s <(dd if=imain.img bs=4096 skip="$b" count=1 status=none) \
		<(dd if=ispare.img bs=512 skip=$((ds + sl * 8)) count=8 status=none) && same=$((same + 1))
done <imaps.txt
if [ "$same" = 3 ]; then ok "...each slot holds its block's data"; else ko "...$same of 3 slots hold their block's data"; fi
expect 0 "import offline again" "$TOOL" import -F badblocks -b 4096 ibb.txt imain.img ispare.img
has "...already" "import: remapped=0 already=3 pending=0"
# a listed block already there, after new ones that sort before it
printf '20\n21\n22\n1000\n' >ibb2.txt
expect 0 "import offline: new blocks, then one already remapped" \
	"$TOOL" import -F badblocks -b 4096 ibb2.txt imain.img ispare.img
has "...3 remapped, 1 already" "import: remapped=3 already=1 pending=0"
printf '4096\n' >ipast.txt
expect 2 "import offline: past the end, nothing done" "$TOOL" import -F badblocks -b 4096 ipast.txt imain.img ispare.img
has "...line named" "ipast.txt:1:"
expect 1 "import offline: no metadata at --spare-start" "$TOOL" import -F badblocks -b 4096 -s 8 ibb.txt imain.img ispare.img
has "...said" "no dm-remap metadata at sector 8"

# restore of its own dump round-trips
cp spare.img rt.img
expect 0 "restore own dump" "$TOOL" restore -i dump1.txt rt.img
"$TOOL" dump rt.img >dump2.txt 2>/dev/null
if diff dump1.txt dump2.txt >/dev/null; then ok "dump/restore round trip"; else ko "dump/restore round trip"; fi

# --- check and dump never write -------------------------------------------
sum0=$(sha256sum spare.img)
"$TOOL" check spare.img >/dev/null 2>&1
"$TOOL" dump spare.img >/dev/null 2>&1
"$TOOL" dump --json spare.img >/dev/null 2>&1
chmod a-w spare.img
expect 0 "check works on a read-only file" "$TOOL" check spare.img
chmod u+w spare.img
if [ "$(sha256sum spare.img)" = "$sum0" ]; then ok "check/dump leave the file unchanged"; else ko "check/dump leave the file unchanged"; fi

# --- invalid dumps are refused --------------------------------------------
sed 's/^map 100 1$/map 5 1/' in.txt >dup.txt
expect 1 "restore refuses duplicate main block" "$TOOL" restore -i dup.txt rt.img
has "duplicate reported" "mapped twice"
sed 's/^map 100 1$/map 100 16300/' in.txt >range.txt
expect 1 "restore refuses slot out of range" "$TOOL" restore -i range.txt rt.img
grep -v '^end' in.txt >trunc.txt
expect 1 "restore refuses a truncated dump" "$TOOL" restore -i trunc.txt rt.img
has "truncated reported" "missing 'end'"
expect 1 "restore refuses geometry mismatch" "$TOOL" restore -i in.txt -m 4096 rt.img

# --- refusals to overwrite foreign data -----------------------------------
head -c 1M /dev/urandom >foreign.img
truncate -s 64M foreign.img
sumf=$(sha256sum foreign.img)
expect 1 "format refuses foreign data" "$TOOL" format -m $MAIN foreign.img
has "refusal explained" "use --force"
expect 1 "restore refuses foreign data" "$TOOL" restore -i in.txt foreign.img
if [ "$(sha256sum foreign.img)" = "$sumf" ]; then ok "refused writes left the file alone"; else ko "refused writes left the file alone"; fi
expect 1 "check of foreign data fails" "$TOOL" check foreign.img
has "foreign reported" "foreign data"
expect 0 "format --force" "$TOOL" format -f -m $MAIN foreign.img
expect 0 "check after forced format" "$TOOL" check foreign.img

# --- corruption -----------------------------------------------------------
cp spare.img bad.img
# entry block 0, copy B (generation 2, current): metadata block 3
printf '\xff' | dd of=bad.img bs=1 seek=$((3 * 4096 + 100)) conv=notrunc status=none
sumb=$(sha256sum bad.img)
expect 1 "check detects a corrupted byte" "$TOOL" check bad.img
has "corruption message" "error:"
has "failed result" "result: FAILED"
expect 1 "dump refuses damaged metadata" "$TOOL" dump bad.img
expect 1 "dump --force dumps anyway" "$TOOL" dump -f -o forced.txt bad.img
if [ "$(sha256sum bad.img)" = "$sumb" ]; then ok "check/dump did not touch the damaged file"; else ko "check/dump did not touch the damaged file"; fi
expect 2 "repair refuses to write over its input" "$TOOL" repair -o bad.img bad.img
expect 0 "repair to a new file" "$TOOL" repair -o fixed.img bad.img
expect 0 "check repaired file" "$TOOL" check fixed.img
has "repaired is clean" "result: clean"
"$TOOL" dump fixed.img >fixed.txt 2>/dev/null
if diff <(records dump1.txt) <(records fixed.txt) >/dev/null; then
	ok "repair kept every record (older copy was identical)"
else
	ko "repair kept every record (older copy was identical)"
fi

# both copies of the pair damaged: repair drops that block, reports it
cp spare.img bad2.img
printf '\xff' | dd of=bad2.img bs=1 seek=$((2 * 4096 + 100)) conv=notrunc status=none
printf '\xff' | dd of=bad2.img bs=1 seek=$((3 * 4096 + 100)) conv=notrunc status=none
expect 1 "check: both copies damaged" "$TOOL" check bad2.img
has "no usable copy" "no usable copy"
expect 0 "repair with a lost block" "$TOOL" repair -o fixed2.img bad2.img
has "repair reports the loss" "problems found"
expect 0 "check repaired file 2" "$TOOL" check fixed2.img
"$TOOL" dump fixed2.img >fixed2.txt 2>/dev/null
# block 0 held slots 0..505: maps to slots 0 and 1, bad slot 2
if [ "$(records fixed2.txt | tr '\n' ' ')" = "map 7 16299 map 262143 600 bad 507 pending 3 pending 99 " ]; then
	ok "repair dropped block 0 only"
else
	ko "repair dropped block 0 only"
fi

# superblocks wiped: repair needs the geometry
cp spare.img nosb.img
dd if=/dev/zero of=nosb.img bs=4096 count=2 conv=notrunc status=none
expect 1 "check: no superblock" "$TOOL" check nosb.img
has "not formatted" "not formatted"
expect 1 "repair without sb needs geometry" "$TOOL" repair -o fixed3.img nosb.img
expect 0 "repair without sb" "$TOOL" repair -o fixed3.img -m $MAIN -l $LEN nosb.img
"$TOOL" dump fixed3.img >fixed3.txt 2>/dev/null
if diff <(records dump1.txt) <(records fixed3.txt) >/dev/null; then ok "repair without sb kept records"; else ko "repair without sb kept records"; fi

# truncated image
head -c 12288 spare.img >short.img
expect 1 "check: truncated image" "$TOOL" check short.img
has "truncation reported" "truncated"

# wrong geometry given to check
expect 1 "check: geometry option mismatch" "$TOOL" check -m 4096 spare.img
has "mismatch reported" "not 4096 as given"

# --- spare area at an offset ----------------------------------------------
truncate -s 80M off.img
expect 0 "format at --spare-start" "$TOOL" format -m $MAIN -s 8192 -l $LEN off.img
expect 1 "check at the wrong offset" "$TOOL" check off.img
expect 0 "check at --spare-start" "$TOOL" check -s 8192 off.img
expect 0 "restore at --spare-start" "$TOOL" restore -i <(sed 's/^spare_start 0$/spare_start 8192/' in.txt) off.img
expect 0 "check restored at --spare-start" "$TOOL" check -s 8192 off.img
has "restored counts" "records: 4 mapped, 2 bad, 2 pending"

# --- format needs an existing file, and extends it -------------------------
expect 2 "format does not create files" "$TOOL" format -m $MAIN -l $LEN small.img
[ -e small.img ] && ko "format created small.img"
truncate -s 0 small2.img
expect 0 "format an empty file with -l" "$TOOL" format -m $MAIN -l $LEN small2.img
if [ "$(stat -c %s small2.img)" = $((LEN * 512)) ]; then ok "image extended to the spare area"; else ko "image extended to the spare area"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
