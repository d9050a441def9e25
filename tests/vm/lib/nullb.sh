# SPDX-License-Identifier: GPL-2.0-only
# null_blk devices (memory-backed, through configfs) and their bad sectors.
# Touches: /sys/kernel/config/nullb, the null_blk and configfs modules.

NULLB_CFG=/sys/kernel/config/nullb

nullb_setup() {
	modprobe null_blk nr_devices=0
	modprobe configfs 2>/dev/null || true
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
}

# nullb_create NAME SIZE_MB [BLOCKSIZE] [extra attr=value...]: memory-backed
# null_blk device /dev/NAME.
nullb_create() {
	local name=$1 size=$2 bs=${3:-512} d
	shift 3 || shift $#
	d=/sys/kernel/config/nullb/$name
	mkdir "$d"
	echo "$size" >"$d/size"
	echo 1 >"$d/memory_backed"
	echo "$bs" >"$d/blocksize"
	echo 0 >"$d/irqmode"
	local kv
	for kv in "$@"; do
		echo "${kv#*=}" >"$d/${kv%%=*}"
	done
	echo 1 >"$d/power"
	[ -b "/dev/$name" ] || { echo "no /dev/$name" >&2; return 1; }
}

nullb_remove() {
	local d=/sys/kernel/config/nullb/$1
	echo 0 >"$d/power"
	rmdir "$d"
}

# nullb_bad NAME +|- FIRST LAST: mark (+) or clear (-) sectors FIRST..LAST of
# null_blk NAME bad (reads and writes touching them fail with EIO). Linux
# 6.1's badblocks_set() stores the pieces of a range longer than 512 sectors
# in reverse order, after which lookups miss parts of the table (bad sectors
# silently work), so ranges go in as ascending pieces of at most 512 sectors
# and the table is checked to be sorted and disjoint afterwards.
nullb_bad() {
	local name=$1 op=$2 s=$3 last=$4 e
	while [ "$s" -le "$last" ]; do
		e=$((s + 511))
		[ "$e" -le "$last" ] || e=$last
		echo "$op$s-$e" >"$NULLB_CFG/$name/badblocks" || return 1
		s=$((e + 1))
	done
	awk 'NR > 1 && $1 < end { bad = 1 } { end = $1 + $2 } END { exit bad }' \
		"$NULLB_CFG/$name/badblocks" || {
		echo "nullb_bad: $name: bad block table out of order" >&2
		return 1
	}
}

# nullb_bad_blocks NAME BLOCK_SECTORS: the distinct blocks (of BLOCK_SECTORS
# sectors) that touch a bad sector of null_blk NAME, one a line, ascending.
nullb_bad_blocks() {
	awk -v bs="$2" '{ for (b = int($1 / bs); b <= int(($1 + $2 - 1) / bs); b++) print b }' \
		"$NULLB_CFG/$1/badblocks" | sort -n -u
}
