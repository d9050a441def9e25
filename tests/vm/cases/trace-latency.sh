# SPDX-License-Identifier: GPL-2.0-only
# trace/latency.bt and trace/spare-io.bt against two remap devices over
# null_blk, half of each device's working set remapped, under fio randrw:
# latency.bt prints non-empty @direct[main disk] and @remapped[spare disk]
# histograms for both devices whose counts add up to the target's own
# reads+writes and spare_ios; spare-io.bt's per-slot and per-device counts
# match spare_ios too, and its slots hold the remapped blocks.
# bpftrace output is kept in build/vm-logs/trace-latency/.
# vm-timeout: 420
. tests/vm/lib.sh

# bt_start NAME SCRIPT [ARGS...]: run a bpftrace script in the background,
# output in $OUT/NAME.out (kept in build/vm-logs/<test>/).
bt_start() {
	local name=$1
	shift
	bpftrace "$@" >"$OUT/$name.out" 2>&1 &
	eval "BT_${name//-/_}=$!"
}

# bt_wait NAME...: wait (up to 240 s each: TCG) for the BEGIN line
# "Tracing ...", printed once every probe is attached ("Attaching N probes"
# comes before the attaching, which takes seconds under TCG).
bt_wait() {
	local name pid i
	for name in "$@"; do
		eval "pid=\$BT_${name//-/_}"
		for i in $(seq 480); do
			grep -q '^Tracing ' "$OUT/$name.out" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if ! grep -q '^Tracing ' "$OUT/$name.out"; then
			sed 's/WARNING/warning/g' "$OUT/$name.out"
			fail "$name: bpftrace did not attach"
			return 1
		fi
		ok "$name: $(grep '^Attaching' "$OUT/$name.out")"
	done
}

# bt_stop NAME: SIGINT, wait for the final print, show it; it must carry no
# bpftrace warning or error. (The console must not say "WARNING": run-vm
# takes that for a kernel report.)
bt_stop() {
	local pid
	eval "pid=\$BT_${1//-/_}"
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" || true
	echo "--- $1.out"
	sed 's/WARNING/warning/g' "$OUT/$1.out" | cat -s
	if grep -qE 'WARNING|ERROR|Lost [0-9]+ events' "$OUT/$1.out"; then
		fail "$1: bpftrace warnings or errors"
	else
		ok "$1: ran without warnings"
	fi
}

# hist_count FILE MAP [KEY]: total of the counts in histogram @MAP[KEY]
# (no KEY: the unkeyed @MAP).
hist_count() {
	awk -v hdr="@$2${3:+[$3]}:" '
		index($0, hdr) == 1 { on = 1; next }
		on && /^\[/ { sub(/^[^])]*[])] */, ""); n += $1; next }
		on { on = 0 }
		END { print n + 0 }' "$1"
}

# map_value FILE PREFIX: the number after "PREFIX: " (0 if absent).
map_value() {
	awk -v p="$2: " 'index($0, p) == 1 { print substr($0, length(p) + 1) + 0; f = 1 }
		END { if (!f) print 0 }' "$1"
}

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
dmsetup status r0
dmsetup status r1
bt_stop latency
bt_stop spare-io
L=$OUT/latency.out S=$OUT/spare-io.out

for d in 0 1; do
	direct=$(hist_count "$L" direct main$d)
	remapped=$(hist_count "$L" remapped spare$d)
	io=$(($(status_field r$d reads) + $(status_field r$d writes)))
	sio=$(status_field r$d spare_ios)
	log "r$d: direct=$direct remapped=$remapped reads+writes=$io spare_ios=$sio"
	check "latency: @direct[main$d] non-empty" test "$direct" -gt 0
	check "latency: @remapped[spare$d] non-empty" test "$remapped" -gt 0
	check "latency: r$d @remapped count = spare_ios" test "$remapped" = "$sio"
	check "latency: r$d @direct + @remapped = reads + writes" \
		test $((direct + remapped)) = "$io"
	sr=$(map_value "$S" "@spare_ios[spare$d, R]")
	sw=$(map_value "$S" "@spare_ios[spare$d, W]")
	check "spare-io: r$d @spare_ios R+W ($sr+$sw) = spare_ios" test $((sr + sw)) = "$sio"
	hits=$(awk -v p="@slot_hits[spare$d, " 'index($0, p) == 1 { n += $NF } END { print n + 0 }' "$S")
	check "spare-io: r$d @slot_hits[spare$d, slot, block] add up to spare_ios ($hits)" \
		test "$hits" = "$sio"
	check "spare-io: r$d slots hold blocks of the remapped range" awk -v p="@slot_hits[spare$d, " -v lo=$((d * 1024)) '
		index($0, p) == 1 { split($0, k, /[],[]/); b = k[4] + 0; n++
			if (b < lo || b >= lo + 1024) bad = 1 }
		END { exit bad || !n }' "$S"
done
check "latency: usec bucket lines with counts" \
	grep -qE '^\[[0-9]+K?, [0-9]+K?\) +[1-9][0-9]* \|' "$L"
check "latency: no @held/@failed without errors" bash -c "! grep -qE '^@(held|failed)' '$L'"
check "spare-io: @bio_sectors[W] histogram" test "$(hist_count "$S" bio_sectors W)" -gt 0

dmsetup remove r0
dmsetup remove r1
finish
