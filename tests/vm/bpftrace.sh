# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the trace-*.sh VM cases: run trace/*.bt scripts in the
# background and read their maps. Sourced after tests/vm/lib.sh. The scripts
# read struct bio through the kernel's BTF: a case using them says
# `requires_btf` (and `requires_cmd bpftrace`) rather than fail on "Unknown
# struct/union".

# bt_start NAME SCRIPT [ARGS...]: run a bpftrace script in the background,
# output in $OUT/NAME.out (kept in build/vm-logs/<test>/).
bt_start() {
	local name=$1
	shift
	bpftrace "$@" >"$OUT/$name.out" 2>&1 &
	eval "BT_${name//-/_}=$! BT0_${name//-/_}=$SECONDS"
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
		eval "i=\$BT0_${name//-/_}"
		ok "$name: $(grep '^Attaching' "$OUT/$name.out") attached in $((SECONDS - i)) s"
	done
}

# bt_stop NAME: SIGINT, wait (up to 120 s) for the final print, show it; it
# must carry no bpftrace warning or error. (The console must not say "WARNING": run-vm
# takes that for a kernel report.) bpftrace 0.17 (Debian 12) notices SIGINT
# only when it interrupts its epoll_wait(): one that lands while it reads
# events is lost and it runs on. Its exit takes seconds (up to 6 here, 28 on
# the debug kernel, where DMR_SCALE stretches the waits), so a bpftrace still
# running 15 s later lost it: send it again.
bt_stop() {
	local pid t0=$SECONDS i t resent=0 scale=${DMR_SCALE:-1}
	eval "pid=\$BT_${1//-/_}"
	kill -INT "$pid" 2>/dev/null || true
	for i in $(seq $((240 * scale))); do
		kill -0 "$pid" 2>/dev/null || break
		if [ $((i % (30 * scale))) = 0 ]; then
			kill -INT "$pid" 2>/dev/null || true
			resent=$((resent + 1))
		fi
		sleep 0.5
	done
	[ "$resent" = 0 ] || log "$1: SIGINT sent again $resent times (bpftrace lost it)"
	if kill -0 "$pid" 2>/dev/null; then
		fail "$1: bpftrace still running $((120 * scale)) s after SIGINT; its threads:"
		for t in /proc/"$pid"/task/*; do
			echo "$t $(cat "$t/comm") $(cat "$t/stat" | cut -d' ' -f3) $(cat "$t/wchan")"
			cat "$t/stack"
		done
		kill -KILL "$pid"
	fi
	wait "$pid" || true
	echo "--- $1.out (bpftrace ended in $((SECONDS - t0)) s)"
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

# dm_kname NAME: the kernel name (dm-N) of dm device NAME, the key the
# bpftrace scripts print.
dm_kname() { echo "dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')"; }
