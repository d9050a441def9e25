# SPDX-License-Identifier: GPL-2.0-only
# Block devices: size, loop devices, one-block O_DIRECT I/O, checksums.
# Touches: the devices and files it is given; loop_create loads loop.

sectors() { blockdev --getsz "$1"; }

# loop_create FILE SIZE_MB: prints the loop device.
loop_create() {
	modprobe loop
	truncate -s "$2M" "$1"
	losetup --show -f "$1"
}

# blocks_of FIRST_SECTOR LAST_SECTOR BLOCK_SECTORS: the blocks touching the
# sector range, one a line.
blocks_of() { seq $(($1 / $3)) $(($2 / $3)); }

# blk_read DEV BLOCK [BS]: read one block with O_DIRECT; fails on EIO.
blk_read() {
	dd if="$1" of=/dev/null bs="${3:-4096}" skip="$2" count=1 iflag=direct \
		status=none 2>/dev/null
}

# blk_write DEV BLOCK SRC [BS] [SRC_BLOCK]: write one block from file SRC.
blk_write() {
	dd if="$3" of="$1" bs="${4:-4096}" seek="$2" skip="${5:-$2}" count=1 \
		oflag=direct conv=notrunc status=none 2>/dev/null
}

# spare_sum DEV START SECTORS: md5 of a sector range (to prove "unchanged").
spare_sum() {
	dd if="$1" bs=64k iflag=direct,skip_bytes,count_bytes skip=$(($2 * 512)) \
		count=$(($3 * 512)) status=none | md5sum | cut -d' ' -f1
}
