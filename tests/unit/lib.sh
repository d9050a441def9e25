# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# What the shell unit tests share: $top, a scratch dir $T removed at exit,
# and the tally (ok, ko, check, finish). Sourced after `set -u`.
# shellcheck disable=SC2034 # used by the tests that source this
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }
# check DESCRIPTION CMD...: CMD succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else ko "$d"; fi
}
# finish WHAT: the tally line; false if anything failed.
finish() {
	echo "$1 tests: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
