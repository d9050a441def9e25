# SPDX-License-Identifier: GPL-2.0-only
# Guest side of `make demo`: a remap device over null_blk, a short fio verify
# run through it, and what dmsetup shows.
. tests/vm/lib.sh
show() {
	echo "# $*"
	"$@"
	echo
}
load_module
nullb_setup
nullb_create main0 256 512
nullb_create spare0 64 512
show dmsetup create demo --table \
	"0 $(sectors /dev/main0) remap /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)"
echo "# fio: 32 MiB of random 4k-64k writes with crc32c verify"
if fio_verify /dev/mapper/demo 32M; then
	grep -E '^ *(READ|WRITE):' "$OUT/fio-verify.log"
	echo "fio: every block read back matched its crc32c"
else
	cat "$OUT/fio-verify.log"
	exit 1
fi
echo
show dmsetup table demo
show dmsetup status demo
show dmsetup message demo 0 ping
show dmsetup message demo 0 help
dmsetup remove demo
