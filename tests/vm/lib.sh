# SPDX-License-Identifier: GPL-2.0-only
# Sourced by guest test scripts (run inside the VM by run-vm): devices,
# module loading and assertions shared by every VM test.
set -euo pipefail
export DM_DISABLE_UDEV=1
TOP=${DMR_CHECKOUT:-$(pwd)}
OUT=${DMR_OUT:-/tmp}
IOTEST=$TOP/build/bin/dmr-iotest
FAILS=0
CHECKS=0

log() { echo "[$(date +%T)] $*"; }

# ok CONDITION-DESCRIPTION: record a passed check; fail: record and continue.
ok() {
	CHECKS=$((CHECKS + 1))
	echo "ok: $*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL: $*"
}

# check DESC CMD...: run CMD, record pass/fail.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# expect_fail DESC CMD...: CMD must fail.
expect_fail() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$desc (unexpectedly succeeded)"; else ok "$desc"; fi
}

finish() {
	echo "guest checks: $CHECKS run, $FAILS failed"
	[ "$FAILS" = 0 ]
}

load_module() {
	modprobe -a dm_mod dm_bufio libcrc32c
	if ! grep -q '^dm_remap ' /proc/modules; then
		insmod "$TOP/dm-remap.ko" "$@"
	fi
}

unload_module() {
	rmmod dm_remap
}

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

# loop_create FILE SIZE_MB: prints the loop device.
loop_create() {
	modprobe loop
	truncate -s "$2M" "$1"
	losetup --show -f "$1"
}

sectors() { blockdev --getsz "$1"; }

# remap_create NAME LEN MAIN SPARE SPARE_START SPARE_LEN [features...]
remap_create() {
	local name=$1 len=$2
	shift 2
	dmsetup create "$name" --table "0 $len remap $*"
}

devno() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }

dmesg_has() { dmesg | grep -q -- "$1"; }

# fio_verify DEV SIZE [extra fio args]: write then verify with crc32c.
fio_verify() {
	local dev=$1 size=$2 lbs
	shift 2
	lbs=$(blockdev --getss "$dev")
	fio --name=verify --filename="$dev" --size="$size" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange="$lbs-64k" --blockalign="$lbs" \
		--iodepth=8 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 \
		"$@" >"$OUT/fio-verify.log" 2>&1
}
