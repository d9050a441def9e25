# SPDX-License-Identifier: GPL-2.0-only
# Create remap devices over null_blk and loop devices; random writes of
# 512 B..1 MiB, direct and buffered, must read back identical; rmmod works.
. tests/vm/lib.sh
requires_module null_blk loop
requires_cmd fio
load_module
nullb_setup

nullb_create main0 64 512
nullb_create spare0 32 4096
loop_create /tmp/main.img 48 >/tmp/loop-main
loop_create /tmp/spare.img 16 >/tmp/loop-spare
lmain=$(cat /tmp/loop-main)
lspare=$(cat /tmp/loop-spare)

run_identity() {
	local name=$1 dev=/dev/mapper/$1
	check "$name: fill" $IOTEST fill "$dev" /tmp/model-$name 11
	check "$name: direct writes" $IOTEST write "$dev" /tmp/model-$name 12 300 512 1048576 direct
	check "$name: buffered writes" $IOTEST write "$dev" /tmp/model-$name 13 300 1 1048576 buffered
	check "$name: read back identical" $IOTEST verify "$dev" /tmp/model-$name
	check "$name: fio crc32c verify" fio_verify "$dev" 16M
	rm -f /tmp/model-$name
}

remap_create rnull $(sectors /dev/main0) /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)
check "null_blk: device exists" test -b /dev/mapper/rnull
check "null_blk: table echoes arguments" \
	test "$(dmsetup table rnull)" = \
	"0 131072 remap $(devno /dev/main0) $(devno /dev/spare0) 0 65536"
run_identity rnull

# Main and spare on the same loop device: spare area past the mapped range.
remap_create rloop 65536 "$lmain" "$lmain" 65536 32768
run_identity rloop

# Separate loop devices, spare at an offset.
remap_create rloop2 65536 "$lmain" "$lspare" 2048 30720
check "loop: two devices" test -b /dev/mapper/rloop2
check "ping answers pong" bash -c "[ \"\$(dmsetup message rloop2 0 ping)\" = pong ]"
check "help lists messages" bash -c "dmsetup message rloop2 0 help | grep -q ping"
expect_fail "unknown message rejected" dmsetup message rloop2 0 frobnicate
expect_fail "ping with arguments rejected" dmsetup message rloop2 0 ping 1
check "status INFO has version" bash -c "dmsetup status rloop2 | grep -q ' remap '"

dmsetup remove rloop2
dmsetup remove rloop
dmsetup remove rnull
check "rmmod dm_remap" unload_module
losetup -d "$lmain" "$lspare"
nullb_remove main0
nullb_remove spare0
finish
