# SPDX-License-Identifier: GPL-2.0-only
# Checks (ok/fail/check/expect_fail/finish), log, now_ms, scaled, text, dmesg.
# Touches: stdout and its own counters; reads the kernel log, never clears it.

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

# expect_out RC DESC PATTERN CMD...: CMD exits with RC and its output
# (kept in /tmp/out) contains PATTERN.
expect_out() {
	local want=$1 desc=$2 pat=$3 rc=0
	shift 3
	"$@" >/tmp/out 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$pat" /tmp/out; then
		ok "$desc"
	else
		fail "$desc (exit $rc, want $want, pattern '$pat'): $(head -c 600 /tmp/out)"
	fi
}

finish() {
	echo "guest checks: $CHECKS run, $FAILS failed"
	[ "$FAILS" = 0 ]
}

# wait_until SECONDS CMD...: poll CMD until it succeeds (0) or SECONDS pass (1).
# CMD runs again on each poll: give it a predicate, never a "$(...)" value.
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kv_field KEY TEXT: the value of KEY=... in TEXT (space-separated pairs).
kv_field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

# set_minus A B: the lines of file A whose first word is not in file B.
set_minus() { awk 'NR == FNR { x[$1]; next } !($1 in x)' "$2" "$1"; }

dmesg_has() { dmesg | grep -q -- "$1"; }

# dmesg_mark, then dmesg_new: the kernel log lines since the mark (the log
# is never cleared, so run-vm still sees every report).
dmesg_mark() { DMESG_MARK=$(dmesg | wc -l); }
dmesg_new() { dmesg | tail -n +$((${DMESG_MARK:-0} + 1)); }

# --- debug lane (make check-debug, tests/vm/debug-case.sh) ---
# DMR_DEBUG_KERNEL=1 on the KASAN/lockdep/kmemleak kernel, where the guest
# runs some 6-8 times slower; DMR_SCALE is then a divisor for sizes, rates
# and loop counts that bound a case's run time, never for its scenario
# (faults go in at points fixed by I/O progress or the case's sequence).
# scaled N: N / DMR_SCALE (at least MIN, default 1), logged whenever it
# changes N, so a smaller run is never silent.
DMR_SCALE=${DMR_SCALE:-1}
scaled() {
	local n=$1 min=${2:-1} r
	r=$((n / DMR_SCALE))
	[ "$r" -ge "$min" ] || r=$min
	[ "$r" = "$n" ] || echo "scaled: $n -> $r (DMR_SCALE=$DMR_SCALE, debug kernel)" >&2
	echo "$r"
}
