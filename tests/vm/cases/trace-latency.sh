# SPDX-License-Identifier: GPL-2.0-only
# trace/latency.bt and trace/spare-io.bt against two remap devices over
# null_blk, half of each device's working set remapped, under fio randrw,
# then a write to a bad block of r0 (held, auto-remapped) and one of r1 with
# auto_remap off (error passed up): latency.bt prints non-empty @direct[dm-N]
# and @remapped[dm-N] histograms for both devices, the held bio in @held and
# the failed one in @failed, whose counts add up to the target's own
# reads+writes and spare_ios; spare-io.bt's per-slot and per-device counts
# match spare_ios too, and its slots hold the remapped blocks.
# bpftrace output is kept in build/vm-logs/trace-latency/.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/bpftrace.sh
requires_module null_blk
requires_btf
requires_cmd bpftrace fio

load_module
nullb_setup
nullb_create main0 64 512
nullb_create spare0 16 4096
nullb_create main1 64 4096
nullb_create spare1 16 4096
remap_create r0 $(sectors /dev/main0) /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)
remap_create r1 $(sectors /dev/main1) /dev/main1 /dev/spare1 0 $(sectors /dev/spare1)
# The first 4 MiB of the fio range (8 MiB) on spare blocks.
check "r0: remap 4 MiB" dmsetup message r0 0 remap 0 8192
check "r1: remap 4 MiB" dmsetup message r1 0 remap 8192 8192
D0=$(dm_kname r0) D1=$(dm_kname r1)
log "r0 is $D0, r1 is $D1"

bt_start latency trace/latency.bt
bt_start spare-io trace/spare-io.bt 4096 100000
bt_wait latency spare-io || { finish; exit 1; }
dmsetup message r0 0 clear_stats
dmsetup message r1 0 clear_stats

log "fio randrw on r0 and r1"
pids=""
for d in r0 r1; do
	off=0
	[ $d = r1 ] && off=4M
	fio --name=$d --filename=/dev/mapper/$d --offset=$off --size=8M \
		--ioengine=libaio --direct=1 --rw=randrw --bs=4k --iodepth=4 \
		--time_based --runtime=8 >"$OUT/fio-$d.log" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do check "fio (pid $p) ran" wait "$p"; done
# Bad blocks outside the fio range: r0 remaps its own, r1 passes the error.
for d in 0 1; do
	echo "+$((4096 * 8))-$((4096 * 8 + 7))" >/sys/kernel/config/nullb/main$d/badblocks
done
check "r0: write of a bad block recovers" dd if=/dev/zero of=/dev/mapper/r0 \
	bs=4096 seek=4096 count=1 oflag=direct status=none
check "r1: auto_remap off" dmsetup message r1 0 auto_remap off
expect_fail "r1: write of a bad block fails" dd if=/dev/zero of=/dev/mapper/r1 \
	bs=4096 seek=4096 count=1 oflag=direct status=none
dmsetup status r0
dmsetup status r1
bt_stop latency
bt_stop spare-io
L=$OUT/latency.out S=$OUT/spare-io.out

for d in 0 1; do
	eval "D=\$D$d"
	direct=$(hist_count "$L" direct "$D")
	remapped=$(hist_count "$L" remapped "$D")
	io=$(($(status_field r$d reads) + $(status_field r$d writes)))
	sio=$(status_field r$d spare_ios)
	log "r$d: direct=$direct remapped=$remapped reads+writes=$io spare_ios=$sio"
	check "latency: @direct[$D] non-empty" test "$direct" -gt 0
	check "latency: @remapped[$D] non-empty" test "$remapped" -gt 0
	check "latency: @remapped[$D] count = r$d spare_ios" test "$remapped" = "$sio"
	held=$(hist_count "$L" held "$D")
	failed=$(hist_count "$L" failed "$D")
	check "latency: @direct + @remapped + @held + @failed [$D] = r$d reads + writes" \
		test $((direct + remapped + held + failed)) = "$io"
	check "latency: @held[$D] = $((1 - d)), @failed[$D] = $d" test "$held:$failed" = "$((1 - d)):$d"
	sr=$(map_value "$S" "@spare_ios[$D, R]")
	sw=$(map_value "$S" "@spare_ios[$D, W]")
	check "spare-io: @spare_ios[$D, R+W] ($sr+$sw) = r$d spare_ios" test $((sr + sw)) = "$sio"
	hits=$(awk -v p="@slot_hits[$D, " 'index($0, p) == 1 { n += $NF } END { print n + 0 }' "$S")
	check "spare-io: @slot_hits[$D, slot, block] add up to spare_ios ($hits)" \
		test "$hits" = "$sio"
	check "spare-io: $D slots hold blocks of the remapped range" awk -v p="@slot_hits[$D, " -v lo=$((d * 1024)) '
		index($0, p) == 1 { split($0, k, /[],[]/); b = k[4] + 0; n++
			if (b < lo || b >= lo + 1024) bad = 1 }
		END { exit bad || !n }' "$S"
done
check "latency: usec bucket lines with counts" \
	grep -qE '^\[[0-9]+K?, [0-9]+K?\) +[1-9][0-9]* \|' "$L"
check "spare-io: @bio_sectors[W] histogram" test "$(hist_count "$S" bio_sectors W)" -gt 0

dmsetup remove r0
dmsetup remove r1
finish
