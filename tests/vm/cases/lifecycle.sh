# SPDX-License-Identifier: GPL-2.0-only
# suspend/resume/reload/remove cycles under fio load: no I/O error, data
# verified afterwards, and the module unloads.
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio
load_module
nullb_setup
remap_r0 64 16

fio --name=load --filename=/dev/mapper/r0 --ioengine=libaio --direct=1 \
	--rw=randrw --bs=4k --iodepth=16 --time_based --runtime=25 \
	--verify=crc32c --verify_fatal=1 --verify_state_save=0 \
	--output="$OUT/fio-load.log" &
fpid=$!
W0=$(status_field r0 writes)
wait_status r0 writes $((W0 + 100)) $fpid || fail "fio did not start writing"
cycles=0
while kill -0 $fpid 2>/dev/null && [ $cycles -lt 8 ]; do
	dmsetup suspend r0
	sleep 0.2
	dmsetup resume r0
	dmsetup reload r0 --table "$TABLE"
	dmsetup suspend r0
	dmsetup resume r0
	cycles=$((cycles + 1))
done
check "fio under suspend/resume/reload finished without errors" wait $fpid
check "cycles ran during load ($cycles)" test $cycles -ge 3

# Write, reload, verify: the data survives a table swap.
check "fill" $IOTEST fill /dev/mapper/r0 /tmp/model 7
dmsetup reload r0 --table "$TABLE"
dmsetup suspend r0
dmsetup resume r0
check "identical after reload" $IOTEST verify /dev/mapper/r0 /tmp/model

# Remove while I/O is running: remove must wait or fail cleanly, never crash.
fio --name=bg --filename=/dev/mapper/r0 --ioengine=libaio --direct=1 \
	--rw=randread --bs=4k --iodepth=16 --time_based --runtime=5 \
	--output="$OUT/fio-bg.log" >/dev/null 2>&1 &
bpid=$!
R0=$(status_field r0 reads)
wait_status r0 reads $((R0 + 100)) $bpid || fail "fio did not start reading"
dmsetup remove --retry r0 >/dev/null 2>&1 || true
wait $bpid || true
dmsetup remove r0 >/dev/null 2>&1 || true
check "device gone after remove" bash -c "! dmsetup info r0 >/dev/null 2>&1"
check "rmmod dm_remap" unload_module
finish
