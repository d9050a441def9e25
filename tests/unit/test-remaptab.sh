#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# dm-remap-tool's host commands without a kernel: every remaptab syntax error
# (reported as FILE:LINE: reason, nothing opened, exit 2) and every bad
# option or argument of open/close/status/format (exit 2 before any
# device-mapper call). The VM test tests/vm/host/systemd-boot.sh opens real
# devices.
set -u

TOOL=$(realpath "${1:-$(dirname "$0")/../../tools/dm-remap-tool}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2

pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); sed 's/^/    /' out | head -5; }
# expect RC NAME PATTERN CMD...: exit status RC and PATTERN in the output
expect() {
	local want=$1 name=$2 pat=$3 rc
	shift 3
	"$@" >out 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		ko "$name (exit $rc, want $want)"
	elif ! grep -qF -- "$pat" out; then
		ko "$name (no '$pat')"
	elif [ "$want" = 2 ] && grep -q 'mapper/control\|kernel device-mapper' out; then
		ko "$name (reached device-mapper)"
	else
		ok "$name"
	fi
}

# One line per error: CONTENT|EXPECTED REASON. Each is tried alone after a
# valid line (so "nothing done" means the valid line was not opened either)
# and all together (every error reported with its line number).
cases=(
	"one|expected NAME MAIN SPARE [OPTIONS], found 1 field"
	"two /dev/x|expected NAME MAIN SPARE [OPTIONS], found 2 fields"
	"five /dev/a /dev/b c d|5 fields: expected at most NAME MAIN SPARE OPTIONS"
	"bad/name /dev/a /dev/b|name 'bad/name': only letters"
	"bad*name /dev/a /dev/b|name 'bad*name': only letters"
	". /dev/a /dev/b|name '.' is not allowed"
	"$(printf 'n%.0s' {1..128}) /dev/a /dev/b|name longer than 127 characters"
	"rel dev/a /dev/b|main device 'dev/a': expected an absolute path"
	"tag LABEL= /dev/b|main device 'LABEL=': expected"
	"tag2 FOO=x /dev/b|main device 'FOO=x': expected"
	"sp /dev/a sdb|spare device 'sdb': expected"
	"dash /dev/a -|spare device '-' needs the option spare=tail:SIZE"
	"tl /dev/a /dev/b spare=tail:1G|spare=tail: puts the spare area on the main device: the spare device must be '-', not '/dev/b'"
	"opt /dev/a /dev/b frob=1|unknown option 'frob'"
	"bs /dev/a /dev/b block_size=1000|option 'block_size=1000': not a power of two"
	"bs1 /dev/a /dev/b block_size=131072|option 'block_size=131072': not a power of two"
	"bs2 /dev/a /dev/b block_size|option 'block_size' needs a value"
	"bs3 /dev/a /dev/b block_size=|option 'block_size' needs a value"
	"nv /dev/a /dev/b noauto=1|option 'noauto' takes no value"
	"nf /dev/a /dev/b nofail=yes|option 'nofail' takes no value"
	"dup /dev/a /dev/b nofail,nofail|option 'nofail' given twice"
	"dup2 /dev/a - spare=tail:1G,spare=0:1M|option 'spare' given twice"
	"emp /dev/a /dev/b nofail,,noauto|empty option in 'nofail,,noauto'"
	"emp2 /dev/a /dev/b nofail,|empty option in 'nofail,'"
	"ar /dev/a /dev/b auto_remap=maybe|option 'auto_remap=maybe': expected on or off"
	"rr /dev/a /dev/b read_retries=101|option 'read_retries=101': not a decimal number from 0 to 100"
	"rr2 /dev/a /dev/b read_retries=0x5|option 'read_retries=0x5': not a decimal number"
	"ci /dev/a /dev/b commit_interval=-1|option 'commit_interval=-1': not a decimal number from 0 to 60000"
	"ci2 /dev/a /dev/b commit_interval=60001|option 'commit_interval=60001'"
	"ob /dev/a /dev/b outage_blocks=4097|option 'outage_blocks=4097': not a decimal number from 0 to 4096"
	"ow /dev/a /dev/b outage_window=0|option 'outage_window=0': not a decimal number from 1 to 600000"
	"ow2 /dev/a /dev/b outage_window=1s|option 'outage_window=1s': not a decimal number"
	"sr /dev/a /dev/b scrub_rate=63|option 'scrub_rate=63': not a decimal number from 64 to 4194304"
	"wb /dev/a /dev/b weak_budget=100001|option 'weak_budget=100001': not a decimal number from 0 to 100000"
	"sl /dev/a /dev/b slow_read_ms=-1|option 'slow_read_ms=-1': not a decimal number from 0 to 600000"
	"sz /dev/a - spare=tail:1000|option 'spare=tail:1000': SIZE after 'tail:' must be a non-zero multiple of 512"
	"sz0 /dev/a - spare=tail:0|option 'spare=tail:0'"
	"szx /dev/a - spare=tail:1X|option 'spare=tail:1X'"
	"szo /dev/a - spare=tail:99999999999999999999|option 'spare=tail:99999999999999999999'"
	"rg /dev/a /dev/b spare=1M|option 'spare=1M': expected spare=tail:SIZE or spare=START:LENGTH"
	"rg2 /dev/a /dev/b spare=0:0|option 'spare=0:0': START and LENGTH must be multiples of 512"
	"rg3 /dev/a /dev/b spare=100:1M|option 'spare=100:1M'"
	"good /dev/c /dev/d|name 'good' already used on line 2"
)
head="# a comment, then a valid line (line 2)
good /dev/null /dev/null"
all=$head
i=3
for c in "${cases[@]}"; do
	line=${c%%|*}
	why=${c#*|}
	printf '%s\n%s\n' "$head" "$line" >tab1
	expect 2 "remaptab error: $why" "tab1:3: $why" "$TOOL" open --remaptab tab1 --all
	grep -q "1 error in tab1: nothing done" out || ko "nothing done after: $why"
	expect 2 "close --all refuses the same file: $why" "tab1:3: $why" "$TOOL" close --remaptab tab1 --all
	all="$all
$line"
	eval "line_$i=\$why"
	i=$((i + 1))
done
printf '%s\n' "$all" >taball
expect 2 "all errors in one file" "nothing done" "$TOOL" open -t taball --all
n=$(grep -c '^taball:[0-9]*: ' out)
if [ "$n" = ${#cases[@]} ]; then ok "one message per bad line ($n)"; else ko "$n messages for ${#cases[@]} bad lines"; fi
for ((j = 3; j < i; j++)); do
	eval "why=\$line_$j"
	grep -qF "taball:$j: $why" out || ko "line $j not reported as: $why"
done
expect 2 "open NAME of a file with errors" "nothing done" "$TOOL" open -t taball good
expect 2 "missing remaptab" "cannot read nope" "$TOOL" open -t nope --all

# Valid syntax (comments, blank lines, tabs, every option): parses, and
# fails only later at the device (a path that is not a block device).
cat >tabok <<'EOF2'
# name  main  spare  options

	a	/dev/null	/nonexistent/spare
b UUID=0123 - spare=tail:64M,block_size=65536,auto_remap=off,read_retries=3,commit_interval=0,outage_blocks=0,outage_window=500,scrub_rate=4096,weak_budget=8,slow_read_ms=500,noauto,nofail
c PARTLABEL=x LABEL=y spare=1M:512K
d PARTUUID=1-2 /dev/disk/by-id/z -
EOF2
expect 1 "valid remaptab: opens until the first device" "main device /dev/null (/dev/null): not a block device" \
	"$TOOL" open -t tabok a
expect 1 "open NAME not in the remaptab" "zz: no such line in tabok" "$TOOL" open -t tabok zz

# Bad arguments of the host commands.
expect 2 "open without NAME" "open needs NAME or --all" "$TOOL" open
expect 2 "open NAME MAIN" "open takes NAME alone" "$TOOL" open r0 /dev/a
expect 2 "open with too many arguments" "options are one comma-separated argument" \
	"$TOOL" open r0 /dev/a /dev/b block_size=4096 nofail
expect 2 "open --all with NAME" "open --all takes no NAME" "$TOOL" open --all r0
expect 2 "open: unknown option" "bad option for 'open'" "$TOOL" open --frob r0
expect 2 "open: bad option value" "option 'auto_remap=2': expected on or off" \
	"$TOOL" open r0 /dev/a /dev/b auto_remap=2
expect 2 "open: unknown remap option" "unknown option 'size'" "$TOOL" open r0 /dev/a /dev/b size=1G
expect 2 "open: bad name" "name 'a/b'" "$TOOL" open a/b /dev/a /dev/b
expect 2 "open: '-' spare without tail" "needs the option spare=tail:SIZE" "$TOOL" open r0 /dev/a -
expect 2 "open: --remaptab without a file" "requires an argument" "$TOOL" open --all --remaptab
expect 2 "close without NAME" "close needs NAME or --all" "$TOOL" close
expect 2 "close with two names" "close takes one NAME" "$TOOL" close a b
expect 2 "status with two names" "status takes at most one NAME" "$TOOL" status a b
expect 2 "status --all" "status takes at most one NAME" "$TOOL" status --all
expect 2 "format MAIN SPARE: bad option" "unknown option 'x'" "$TOOL" format /dev/a /dev/b x=1
expect 2 "format MAIN SPARE: tail with a spare" "must be '-'" "$TOOL" format /dev/a /dev/b spare=tail:1M
expect 2 "monitor: unknown option" "bad option for 'monitor'" "$TOOL" monitor --frob
expect 2 "monitor: an argument" "monitor takes no arguments" "$TOOL" monitor r0
expect 2 "monitor: --textfile-dir without a directory" "requires an argument" "$TOOL" monitor --textfile-dir
expect 2 "generate without a directory" "needs the output directory" "$TOOL" generate
expect 0 "open --help" "spare=tail:SIZE" "$TOOL" open --help
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
	grep -q "^$s" out || ko "open --help lacks $s"
done

echo "remaptab tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
