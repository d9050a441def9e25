# SPDX-License-Identifier: GPL-2.0-only
# dm-remap-tool open/close/status/format on null_blk devices: the DM uuid
# REMAP-<metadata uuid>, a blank spare formatted on open, data through the
# device, refusals (foreign data, a spare of another geometry, a spare
# already open), spare=tail:SIZE, remaptab with open --all/close --all, and
# a remaptab with an error opening nothing.
# vm-timeout: 420
. "$(dirname "$0")/../lib.sh"
requires_module null_blk

T=$TOP/tools/dm-remap-tool
load_module
nullb_setup
nullb_create main0 64
nullb_create spare0 16
nullb_create main1 32
nullb_create disk2 64

# run RC DESC PATTERN CMD...: exit status RC and PATTERN in the output
run() {
	local want=$1 desc=$2 pat=$3 rc
	shift 3
	"$@" >/tmp/out 2>&1
	rc=$?
	if [ "$rc" = "$want" ] &&
		if [ -z "$pat" ]; then [ ! -s /tmp/out ]; else grep -qF -- "$pat" /tmp/out; fi &&
		! grep -q 'ioctl on .* failed' /tmp/out; then
		ok "$desc"
	else
		fail "$desc (exit $rc, want $want, pattern '$pat'): $(head -c 600 /tmp/out)"
	fi
}
set +e

run 0 "open on a blank spare" "r0: opened /dev/mapper/r0" "$T" open r0 /dev/main0 /dev/spare0
u=$("$T" dump /dev/spare0 | sed -n 's/^uuid //p')
check "DM uuid is REMAP-<metadata uuid> ($u)" test "$(dmsetup info -c --noheadings -o uuid r0)" = "REMAP-$u"
check "table: whole main device, whole spare" \
	sh -c "dmsetup table r0 | grep -q '^0 131072 remap [0-9:]* [0-9:]* 0 32768\$'"
run 0 "status r0" "r0: health ok, 0 remapped, 0 pending" "$T" status r0
run 0 "udev-match: a disk under an open remap device, without remaptab" "DM_REMAP_MAIN=r0" \
	"$T" udev-match -t /nonexistent /dev/main0
run 0 "udev-match: a disk no remap device uses" "" "$T" udev-match -t /nonexistent /dev/disk2
dd if=/dev/urandom of=/tmp/data bs=1M count=2 status=none
dd if=/tmp/data of=/dev/mapper/r0 bs=1M oflag=direct status=none
dmsetup message r0 0 remap 2048 16 >/dev/null
run 0 "status after a remap" "r0: health degraded, 2 remapped" "$T" status r0
run 0 "open of an open device" "r0: already open" "$T" open r0 /dev/main0 /dev/spare0
run 1 "the spare of r0 under another name" "already in use by the open device r0" \
	"$T" open r9 /dev/disk2 /dev/spare0 block_size=4096
run 1 "close of a name not open" "r9: not open" "$T" close r9
run 0 "close r0" "r0: closed" "$T" close r0
check "r0 gone" sh -c "! dmsetup info r0 >/dev/null 2>&1"
run 1 "spare of another geometry" "belongs to another main device or geometry" \
	"$T" open r1 /dev/main1 /dev/spare0
check "nothing opened for r1" sh -c "! dmsetup info r1 >/dev/null 2>&1"
run 0 "reopen: remaps back" "r0: opened" "$T" open r0 /dev/main0 /dev/spare0
run 0 "status after reopen" "2 remapped" "$T" status r0
check "data read back after reopen" cmp -n 2097152 /tmp/data /dev/mapper/r0

# Foreign data in a spare area: refused by open and by format, --force formats.
dd if=/dev/urandom of=/dev/main1 bs=1M count=1 status=none
run 1 "open: foreign spare refused" "holds neither dm-remap metadata nor zeroes" \
	"$T" open r1 /dev/disk2 /dev/main1
run 1 "format: foreign data refused" "use --force to overwrite" "$T" format /dev/disk2 /dev/main1
run 0 "format --force" "format: wrote /dev/main1" "$T" format --force /dev/disk2 /dev/main1
run 0 "open after format" "r1: opened" "$T" open r1 /dev/disk2 /dev/main1
run 0 "status lists both" "r1: health ok" "$T" status
grep -q "^r0: " /tmp/out && ok "status lists r0" || fail "status lists r0"
"$T" close r1 >/dev/null
"$T" close r0 >/dev/null

# spare=tail: the last 8 MiB of disk2, over its old contents (format first).
dd if=/dev/urandom of=/dev/disk2 bs=1M seek=56 count=8 status=none
run 1 "tail: old data refused" "holds neither" "$T" open t0 /dev/disk2 - spare=tail:8M
check "tail: nothing opened" sh -c "! dmsetup info t0 >/dev/null 2>&1"
run 0 "tail: format" "format: wrote" "$T" format --force /dev/disk2 - spare=tail:8M,block_size=65536
run 0 "tail: open" "t0: opened" "$T" open t0 /dev/disk2 - spare=tail:8M,block_size=65536,auto_remap=off
check "tail table: 56 MiB mapped, spare 114688+16384 on the same disk, features" \
	sh -c "dmsetup table t0 | grep -q '^0 114688 remap \([0-9:]*\) \1 114688 16384 4 block_size 65536 auto_remap off\$'"
run 0 "tail: close" "t0: closed" "$T" close t0

# remaptab: an error opens nothing; a good one opens all but noauto.
cat >/tmp/remaptab <<EOF2
# test remaptab
r0 /dev/main0 /dev/spare0
t0 /dev/disk2 - spare=tail:8M,block_size=65536
x0 /dev/main1 /dev/nonexistent noauto
bad /dev/main1
EOF2
run 2 "remaptab with an error" "/tmp/remaptab:5: expected NAME MAIN SPARE [OPTIONS], found 2 fields" \
	"$T" open --all -t /tmp/remaptab
check "remaptab error: r0 still closed" sh -c "! dmsetup info r0 >/dev/null 2>&1"
check "remaptab error: t0 not opened" sh -c "! dmsetup info t0 >/dev/null 2>&1"
sed -i '$d' /tmp/remaptab
run 0 "open --all" "t0: opened" "$T" open --all -t /tmp/remaptab
check "open --all: r0 open" dmsetup info r0
check "open --all: noauto x0 not opened" sh -c "! dmsetup info x0 >/dev/null 2>&1"
run 0 "open --all again: nothing to do, nothing printed" "" "$T" open --all -t /tmp/remaptab
run 1 "open NAME of a noauto line with a missing device" "/dev/nonexistent" "$T" open -t /tmp/remaptab x0
check "data still there" cmp -n 2097152 /tmp/data /dev/mapper/r0
run 0 "close --all" "r0: closed" "$T" close --all -t /tmp/remaptab
run 0 "status: nothing open" "no remap device is open" "$T" status

finish
