# SPDX-License-Identifier: GPL-2.0-only
# Guest side of `make demo`: a remap device over null_blk, a manual remap, bad
# sectors injected under a running fio verify workload, and what dmsetup shows.
. tests/vm/lib.sh
show() {
	echo "# $*"
	"$@"
	echo
}
dmesg -n 1	# keep the kernel's I/O error lines off the console
load_module
nullb_setup
nullb_create main0 256 512
nullb_create spare0 64 512
TABLE="0 $(sectors /dev/main0) remap /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)"
show dmsetup create demo --table "$TABLE"
show dmsetup status demo

echo "== 1. a manual remap: blocks of sectors 8192-8319 move to the spare area"
show dmsetup message demo 0 remap 8192 128
show dmsetup message demo 0 query 8200

echo "== 2. fio writes and verifies (crc32c) 32 MiB while sectors go bad under it"
fio --name=demo --filename=/dev/mapper/demo --size=32M --ioengine=libaio \
	--direct=1 --rw=randwrite --bs=4k --iodepth=16 --verify=crc32c \
	--verify_fatal=1 --verify_state_save=0 --do_verify=1 --loops=4 --eta=never \
	--output="$OUT/fio-demo.log" &
fio_pid=$!
sleep 3
for range in 2048-2063 20000-20007 40000-40031 60001-60001; do
	echo "injecting bad sectors $range on the main device"
	echo "+$range" >/sys/kernel/config/nullb/main0/badblocks
done
if wait $fio_pid; then
	grep -E '^ *(READ|WRITE):' "$OUT/fio-demo.log"
	echo "fio: every block read back matched its crc32c (exit 0)"
else
	cat "$OUT/fio-demo.log"
	exit 1
fi
echo
show dmsetup status demo
show dmsetup message demo 0 list

echo "== 3. remove and re-create the device: the remaps come back from the spare"
dmsetup remove demo
show dmsetup create demo --table "$TABLE"
show dmsetup status demo
show dmsetup table demo
show dmsetup message demo 0 ping
dmsetup remove demo
show "$TOP/tools/dm-remap-tool" check /dev/spare0
