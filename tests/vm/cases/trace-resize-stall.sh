# SPDX-License-Identifier: GPL-2.0-only
# trace/resize-stall.bt: fio randrw on two remap devices over null_blk while
# r0 remaps ranges of 1, 4, 16, ... 4096 blocks inside the fio range (every
# request grows the remap table) and then unremaps them all (it shrinks),
# and r1 remaps once. One "resize" line per dmr_resize, keyed by the right
# device (dm-N), with the bios in flight and their worst latency; @stall_us has
# one sample per resize and @max_bio_us is > 0.
# bpftrace output is kept in build/vm-logs/trace-resize-stall/.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/bpftrace.sh
requires_module null_blk
requires_btf
requires_cmd bpftrace fio

load_module
nullb_setup
for d in 0 1; do
	nullb_create main$d 64 512
	nullb_create spare$d 32 4096
	remap_create r$d $(sectors /dev/main$d) /dev/main$d /dev/spare$d 0 $(sectors /dev/spare$d)
done
D0=$(dm_kname r0) D1=$(dm_kname r1)
log "r0 is $D0, r1 is $D1"

bt_start resize-stall trace/resize-stall.bt 300
bt_wait resize-stall || { finish; exit 1; }

pids=""
for d in 0 1; do
	fio --name=r$d --filename=/dev/mapper/r$d --size=24M --ioengine=libaio \
		--direct=1 --rw=randrw --bs=4k --iodepth=4 --time_based \
		--runtime=240 >"$OUT/fio-r$d.log" 2>&1 &
	pids="$pids $!"
done
# fio takes seconds to start under TCG: resize only once I/O flows.
for i in $(seq 120); do
	[ "$(status_field r0 reads)" -gt 100 ] && [ "$(status_field r1 reads)" -gt 100 ] && break
	sleep 0.5
done
check "fio I/O flows on r0 and r1" test "$(status_field r1 reads)" -gt 100
first=0 grows=0
for n in 1 4 16 64 256 1024 4096; do
	check "r0: remap $n blocks from block $first" \
		dmsetup message r0 0 remap $((first * 8)) $((n * 8))
	first=$((first + n))
	grows=$((grows + 1))
done
check "r1: remap 100 blocks" dmsetup message r1 0 remap 800 800
check "r0: unremap all $first blocks" dmsetup message r0 0 unremap 0 $((first * 8))
sleep 1
kill -INT $pids 2>/dev/null || true
for p in $pids; do wait "$p" || true; done
dmsetup message r0 0 stats
bt_stop resize-stall
F=$OUT/resize-stall.out

lines=$(grep -c "^resize dev=$D0 " "$F" || true)
log "r0: $lines resize lines"
check "r0: a resize line per growing remap ($grows) and the shrink" \
	test "$lines" -ge $((grows + 1))
check "r0: first resize from an empty table" grep -q "^resize dev=$D0 capacity 0->" "$F"
check "r0: a shrinking resize" awk -v p="resize dev=$D0 " '
	index($0, p) == 1 { split($4, c, "->"); if (c[2] + 0 < c[1] + 0) f = 1 }
	END { exit !f }' "$F"
check "r1: exactly one resize, keyed $D1" \
	test "$(grep -c "^resize dev=$D1 capacity 0->" "$F")" = 1
check "every resize line is keyed by its device" \
	test "$(grep -c '^resize ' "$F")" = $((lines + 1))
check "r0: resizes saw bios in flight" \
	grep -qE "^resize dev=$D0 .* bios=[1-9][0-9]* max_bio_us=[1-9]" "$F"
check "@resizes[$D0] = resize lines" test "$(map_value "$F" "@resizes[$D0]")" = "$lines"
check "@stall_us: one sample per resize" \
	test "$(hist_count "$F" stall_us)" = $((lines + 1))
check "@window_us: one sample per resize" \
	test "$(hist_count "$F" window_us)" = $((lines + 1))
check "@max_bio_us > 0" test "$(map_value "$F" @max_bio_us)" -gt 0
check "usec bucket lines with counts" \
	grep -qE '^\[[0-9]+[KM]?, [0-9]+[KM]?\) +[1-9][0-9]* \|' "$F"

dmsetup remove r0
dmsetup remove r1
finish
