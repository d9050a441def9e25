# SPDX-License-Identifier: GPL-2.0-only
# trace/resize-stall.bt: fio randrw on two remap devices over null_blk while
# r0 remaps ranges of 1, 4, 16, ... 4096 blocks inside the fio range (every
# request grows the remap table) and then unremaps them all (it shrinks),
# and r1 remaps once. One "resize" line per dmr_resize, keyed by the right
# main disk, with the bios in flight and their worst latency; @stall_us has
# one sample per resize and @max_bio_us is > 0.
# bpftrace output is kept in build/vm-logs/trace-resize-stall/.
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
for d in 0 1; do
	nullb_create main$d 64 512
	nullb_create spare$d 32 4096
	remap_create r$d $(sectors /dev/main$d) /dev/main$d /dev/spare$d 0 $(sectors /dev/spare$d)
done

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

lines=$(grep -c '^resize disk=main0 ' "$F" || true)
log "r0: $lines resize lines"
check "r0: a resize line per growing remap ($grows) and the shrink" \
	test "$lines" -ge $((grows + 1))
check "r0: first resize from an empty table" grep -q '^resize disk=main0 capacity 0->' "$F"
check "r0: a shrinking resize" awk '
	/^resize disk=main0 / { split($4, c, "->"); if (c[2] + 0 < c[1] + 0) f = 1 }
	END { exit !f }' "$F"
check "r1: exactly one resize, keyed main1" \
	test "$(grep -c '^resize disk=main1 capacity 0->' "$F")" = 1
check "every resize line is keyed by a main disk" \
	test "$(grep -c '^resize ' "$F")" = $((lines + 1))
check "r0: resizes saw bios in flight" \
	grep -qE '^resize disk=main0 .* bios=[1-9][0-9]* max_bio_us=[1-9]' "$F"
check "@resizes[main0] = resize lines" test "$(map_value "$F" "@resizes[main0]")" = "$lines"
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
