# SPDX-License-Identifier: GPL-2.0-only
# Guest side of `make demo`, and the VM case tests/vm/cases/demo.sh: a remap
# device over null_blk, a manual remap, bad sectors under a verified fio
# workload, a block that goes bad after its last write and its healing,
# remove + re-create, dm-remap-tool check. Every step checks its outcome;
# the first unexpected one prints "FAIL: ..." with what explains it, exit 1.
. tests/vm/lib.sh
DEV=/dev/mapper/demo
W=/tmp/demo
mkdir -p "$W"

step() { printf '\n== %s\n' "$*"; }
notice() { echo "-> notice: $*"; }
show() {
	echo "# $*"
	"$@"
}
# want DESC CMD...: CMD must succeed, or the demo stops here.
want() {
	local desc=$1
	shift
	"$@" || {
		echo "FAIL: $desc"
		exit 1
	}
}
# same_block100: block 100 of the device reads back as $W/block100.
same_block100() {
	dd if=$DEV of="$W/read100" bs=4096 skip=100 count=1 iflag=direct status=none &&
		cmp -s "$W/read100" "$W/block100"
}
# has TEXT REGEX: TEXT has a line matching REGEX.
has() { grep -q -E -- "$2" <<<"$1"; }

trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"' ERR
dmesg -n 1	# keep the kernel's I/O error lines off the console
load_module
nullb_setup
nullb_create main0 256 512
nullb_create spare0 64 512
TABLE="0 $(sectors /dev/main0) remap /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)"

step "1. a remap device: 256 MiB main device, 64 MiB spare area (null_blk)"
show dmsetup create demo --table "$TABLE"
show dmsetup table demo
st=$(show dmsetup status demo)
echo "$st"
want "a new device is healthy and has no remaps" has "$st" ' remaps=0 pending=0 health=ok '
notice "remaps=0 pending=0 health=ok: every block is served by the main device"

step "2. a manual remap: the 16 blocks of sectors 8192-8319 move to the spare area"
out=$(show dmsetup message demo 0 remap 8192 128)
echo "$out"
want "remap answers remapped=16" has "$out" '^remapped=16 already=0 no_space=0 copy_failed=0$'
out=$(show dmsetup message demo 0 query 8200)
echo "$out"
want "sector 8200 is remapped" has "$out" 'block=1025 remapped slot='
slot=${out##*slot=}
notice "remapped=16; sector 8200 (block 1025) now lives in spare slot ${slot%% *}"

step "3. fio writes and verifies (crc32c) 32 MiB; bad sectors appear under it"
# By construction, not timing: fio injects (exec_prerun) between its halves, into the unwritten one.
BAD="33000-33015 40000-40031 50003-50003 60001-60007"	# blocks 4125-4126 5000-5003 6250 7500
cat >"$W/inject.sh" <<EOF
for r in $BAD; do echo "+\$r" >$NULLB_CFG/main0/badblocks || exit 1; done
echo injected
EOF
fio_job() {
	cat <<EOF
[global]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
iodepth=16
rw=randwrite
verify=crc32c
verify_fatal=1
verify_state_save=0
$1
[first-half]
offset=0
size=16M
[second-half]
stonewall
offset=16M
size=16M
$2
EOF
}
fio_job do_verify=1 "exec_prerun=bash $W/inject.sh" >"$W/demo.fio"
echo "# fio: 4 KiB random writes, QD16, each half written once and then verified"
rc=0
(cd "$W" && fio --output-format=json --output="$W/fio.json" "$W/demo.fio") \
	>"$W/fio.err" 2>&1 || rc=$?
summary=$(fio_json "$W/fio.json" "'\n'.join('%s: wrote %d MiB, verified %d MiB, error %d' % (
	x['jobname'], x['write']['io_bytes'] >> 20, x['read']['io_bytes'] >> 20, x['error'])
	for x in jobs)" 2>&1) || true
grep -q injected "$W/second-half.prerun.txt" 2>/dev/null &&
	echo "bad sectors $BAD injected between the halves"
echo "$summary"
if [ $rc != 0 ] || [ "$(grep -c ': wrote 16 MiB, verified 16 MiB, error 0$' <<<"$summary")" != 2 ]; then
	echo "fio exit $rc; its messages:"
	grep -v '^$' "$W/fio.err" | tail -n 20
	cat "$W/second-half.prerun.txt" 2>/dev/null || echo "(the injection did not run)"
	echo "FAIL: fio wrote and verified both halves without an error"
	exit 1
fi
dmr_status demo
want "the injection ran before the second half" grep -q injected "$W/second-half.prerun.txt"
want "8 auto remaps (one per bad block written), nothing pending" \
	test "${ST[auto_remaps]} ${ST[remaps]} ${ST[pending]}" = "8 24 0"
echo "status: remaps=${ST[remaps]} manual_remaps=${ST[manual_remaps]} auto_remaps=${ST[auto_remaps]} pending=${ST[pending]} errors=${ST[errors]}"
notice "fio saw 0 errors: each write that hit a bad sector went to a spare block (auto_remaps=8), and every block read back with its crc32c"

step "4. block 100 (sectors 800-807) goes bad AFTER fio's last write to it"
echo "# echo +803-803 >$NULLB_CFG/main0/badblocks"
nullb_bad main0 + 803 803
echo "# dd if=$DEV bs=4096 skip=100 count=1 iflag=direct"
if err=$(dd if=$DEV of=/dev/null bs=4096 skip=100 count=1 iflag=direct status=none 2>&1); then
	echo "FAIL: block 100 read back although sector 803 is bad"
	exit 1
fi
echo "$err"
want "the read fails with EIO" has "$err" 'Input/output error'
out=$(show dmsetup message demo 0 list 800 1)
echo "$out"
want "block 100 is listed as pending" has "$out" '^800 100 pending$'
notice "the read fails (EIO: no invented data) and block 100 is pending (status pending=$(status_field demo pending)) until it is written whole"

step "5. rewriting block 100 whole heals it"
head -c 4096 /dev/urandom >"$W/block100"
want "the rewrite of block 100 succeeds" \
	show dd if="$W/block100" of=$DEV bs=4096 seek=100 count=1 oflag=direct conv=notrunc status=none
out=$(show dmsetup message demo 0 query 800)
echo "$out"
want "block 100 is remapped" has "$out" 'block=100 remapped slot='
want "block 100 reads back what was written" same_block100
want "nothing is pending any more" test "$(status_field demo pending)" = 0
notice "block 100 is remapped, reads back the new 4 KiB, pending=0"

step "6. remove and re-create the device: the remaps come back from the spare area"
"$RT" list demo 512 >"$W/list.before" 2>/dev/null
show dmsetup remove demo
show dmsetup create demo --table "$TABLE"
st=$(show dmsetup status demo)
echo "$st"
"$RT" list demo 512 >"$W/list.after" 2>/dev/null
want "25 remaps after re-create" has "$st" ' remaps=25 pending=0 '
want "the same 25 remaps as before the remove" cmp -s "$W/list.before" "$W/list.after"
fio_job verify_only=1 "" >"$W/verify.fio"
if ! fio --section=second-half --output="$W/verify.out" "$W/verify.fio" >"$W/verify.err" 2>&1; then
	grep -v '^$' "$W/verify.err" | tail -n 20
	echo "FAIL: fio verify_only of the second half after re-create"
	exit 1
fi
want "block 100 still reads back what was written" same_block100
echo "fio verify_only of the second half (8 auto-remapped blocks): 16 MiB, 0 errors; block 100 reads back"
notice "remaps=25 (16 manual + 8 auto + block 100), the same list as before the remove, data intact"

step "7. offline check of the spare area's metadata"
show dmsetup remove demo
out=$(show "$DMR_TOOL" check /dev/spare0 2>&1) || true
echo "$out"
want "dm-remap-tool check: 25 mapped, clean" \
	tool_says "$out" '^records: 25 mapped, 0 bad, 0 pending' '^result: clean'
notice "result: clean, with the 25 remaps"
