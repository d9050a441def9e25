# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# The result lines of tests/run-all and tests/kernel/check-debug.sh, sourced
# by both: one line per test, then the tally that ends "N passed, N failed".
passed=0 failed=0 skipped=0
failures=()

# result NAME RC SECS LOG: rc 0 passes, 77 skips (the log's last line says
# why), anything else fails and shows the end of the log.
result() {
	local name=$1 rc=$2 secs=$3 log=$4
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		printf 'PASS  %-34s %4ss\n' "$name" "$secs"
	elif [ "$rc" = 77 ]; then
		skipped=$((skipped + 1))
		printf 'SKIP  %-34s %s\n' "$name" "$(tail -n1 "$log")"
	else
		failed=$((failed + 1))
		failures+=("$name")
		printf 'FAIL  %-34s %4ss  (log: %s)\n' "$name" "$secs" "$log"
		tail -n 120 "$log" | sed 's/^/      | /'
	fi
}

# summary: the failed names and the tally; false if anything failed.
summary() {
	[ ${#failures[@]} = 0 ] || echo "failed: ${failures[*]}"
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" = 0 ]
}
