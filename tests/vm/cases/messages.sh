# SPDX-License-Identifier: GPL-2.0-only
# Every invalid message is refused (dmsetup exits non-zero) with its own
# `device-mapper: remap:` line in the kernel log and changes nothing (status
# and list identical); the valid messages answer what they should.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
nullb_create main0 16 512
nullb_create spare0 8 512
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
dmsetup create r0 --table "0 $L remap /dev/main0 /dev/spare0 0 $SL"
dev=/dev/mapper/r0
geometry_of 4096 "$L" 0 "$SL"
U64MAX=18446744073709551615

# Some state for "changes nothing" to be about.
check "setup: remap 3 ranges" "$RT" msg r0 remap 80 40
"$RT" msg r0 remap 4096 >/dev/null
"$RT" msg r0 remap $((L - 8)) 8 >/dev/null
check "setup: write data" "$IOTEST" fill "$dev" /tmp/model 5

snapshot() {
	{
		dmsetup status r0
		"$RT" list r0 1000
	} 2>&1
}
BEFORE=$(snapshot)

# last_dm_line: the newest device-mapper line of the kernel log (with its
# timestamp, so a repeated message is still a new line).
last_dm_line() { dmesg | grep 'device-mapper:' | tail -n1; }
LAST=$(last_dm_line)

# refuse "EXPECTED DMERR TEXT" WORD...: dmsetup must fail and log the line.
# Status and list are compared with the snapshot after each group.
# User mistakes are logged rate-limited (pr_err_ratelimited: 10 lines per
# call site per 5 s), so a missing line is accepted only once the call site
# (the text without its "word: " prefix and numbers) has logged 10 lines.
declare -A LOGGED
refuse() {
	local want=$1 out line site
	shift
	site=$(sed -E 's/^[a-z_]+: //; s/[0-9]+/N/g' <<<"$want")
	if out=$(dmsetup message r0 0 -- "$@" 2>&1); then
		fail "accepted: '$*' -> '$out'"
		return
	fi
	line=$(last_dm_line)
	if [ "$line" = "$LAST" ] && [ "${LOGGED[$site]:-0}" -ge 10 ]; then
		ok "refused '$*' (log line rate-limited after ${LOGGED[$site]})"
		return
	elif [ "$line" = "$LAST" ]; then
		fail "'$*': refused without a kernel log line"
	elif [[ "$line" != *"device-mapper: remap: $want" ]]; then
		fail "'$*': want 'device-mapper: remap: $want', got '$line'"
	else
		ok "refused '$*': $want"
		LOGGED[$site]=$((${LOGGED[$site]:-0} + 1))
	fi
	LAST=$line
}

unchanged() {
	if [ "$(snapshot)" = "$BEFORE" ]; then
		ok "$1: status and list unchanged"
	else
		fail "$1: status or list changed"
		BEFORE=$(snapshot)
	fi
}

refuse "unrecognised message 'frobnicate'" frobnicate
refuse "unrecognised message 'remaps'" remaps
refuse "frobnicate: takes no arguments (or unrecognised message)" frobnicate 1 2
# Wrong argument counts.
refuse "remap: expected <sector> [<count>]" remap
refuse "remap: expected <sector> [<count>]" remap 1 2 3
refuse "unremap: expected <sector> [<count>]" unremap
refuse "unremap: expected <sector> [<count>]" unremap 8 8 8
refuse "reclaim: expected <sector> [<count>]" reclaim
refuse "reclaim: expected <sector> [<count>]" reclaim 8 8 8
refuse "query: expected one sector below $L" query
refuse "query: expected one sector below $L" query 1 2
refuse "list: expected [<from_sector> [<max>=1..]]" list 0 10 20
unchanged "wrong argument counts"
# Not numbers, negative, hexadecimal, overflowing.
refuse "remap: sector and count must be decimal numbers" remap abc
refuse "remap: sector and count must be decimal numbers" remap 8 x
refuse "remap: sector and count must be decimal numbers" remap 12abc 8
refuse "remap: sector and count must be decimal numbers" remap 0x10
refuse "remap: sector and count must be decimal numbers" remap 1e3
refuse "remap: sector and count must be decimal numbers" remap 8.5
refuse "remap: sector and count must be decimal numbers" remap -1
refuse "remap: sector and count must be decimal numbers" remap 0 -8
refuse "unremap: sector and count must be decimal numbers" unremap -8 8
refuse "unremap: sector and count must be decimal numbers" unremap 8 zz
refuse "reclaim: sector and count must be decimal numbers" reclaim x
refuse "reclaim: sector and count must be decimal numbers" reclaim 8 -1
refuse "reclaim: sector and count must be decimal numbers" reclaim 0x8
refuse "reclaim: sector and count must be decimal numbers" reclaim 18446744073709551616
refuse "remap: sector and count must be decimal numbers" remap 18446744073709551616
refuse "remap: sector and count must be decimal numbers" remap 0 18446744073709551616
refuse "query: expected one sector below $L" query abc
refuse "query: expected one sector below $L" query -1
refuse "query: expected one sector below $L" query 18446744073709551616
refuse "list: expected [<from_sector> [<max>=1..]]" list abc
refuse "list: expected [<from_sector> [<max>=1..]]" list -1
refuse "list: expected [<from_sector> [<max>=1..]]" list 0 -1
refuse "list: expected [<from_sector> [<max>=1..]]" list 0 x
unchanged "not numbers"
# count 0, u64 wrap-around, past the end.
refuse "remap: count must be at least 1" remap 0 0
refuse "unremap: count must be at least 1" unremap 80 0
refuse "reclaim: count must be at least 1" reclaim 80 0
refuse "remap: sectors $U64MAX+1 run past the device end ($L)" remap $U64MAX 1
refuse "remap: sectors 1+$U64MAX run past the device end ($L)" remap 1 $U64MAX
refuse "remap: sectors $U64MAX+$U64MAX run past the device end ($L)" remap $U64MAX $U64MAX
refuse "unremap: sectors $U64MAX+2 run past the device end ($L)" unremap $U64MAX 2
refuse "remap: sectors $L+1 run past the device end ($L)" remap "$L"
refuse "remap: sectors $((L - 1))+2 run past the device end ($L)" remap $((L - 1)) 2
refuse "remap: sectors 0+$((L + 1)) run past the device end ($L)" remap 0 $((L + 1))
refuse "unremap: sectors $((L - 4))+5 run past the device end ($L)" unremap $((L - 4)) 5
refuse "reclaim: sectors $L+1 run past the device end ($L)" reclaim "$L"
refuse "reclaim: sectors $U64MAX+2 run past the device end ($L)" reclaim $U64MAX 2
refuse "reclaim: sectors 0+$((L + 1)) run past the device end ($L)" reclaim 0 $((L + 1))
refuse "query: expected one sector below $L" query "$L"
refuse "query: expected one sector below $L" query $U64MAX
refuse "list: expected [<from_sector> [<max>=1..]]" list 0 0
unchanged "past the end"
# Messages that take no arguments.
for m in ping stats help commit save clear_stats; do
	refuse "$m: takes no arguments (or unrecognised message)" $m extra
done
unchanged "extra arguments"

# A burst of mistakes cannot flood the log: at most 10 lines per call site
# in 5 s. Checked only if the burst itself took under 5 s.
n0=$(dmesg | grep -c 'remap: remap: count must be at least 1')
t0=$(date +%s%N)
for _ in $(seq 30); do
	dmsetup message r0 0 remap 0 0 2>/dev/null && fail "remap 0 0 accepted"
done
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(($(dmesg | grep -c 'remap: remap: count must be at least 1') - n0))
if [ "$ms" -ge 5000 ]; then
	echo "skip: 30 refused messages took ${ms} ms, longer than the 5 s window"
else
	check "30 refused messages in ${ms} ms logged $n lines (1..10)" \
		test "$n" -ge 1 -a "$n" -le 10
fi
LAST=$(last_dm_line)

# The empty message never reaches the target: dm-ioctl refuses it first.
LAST=$(last_dm_line)
if out=$(dmsetup message r0 0 "" 2>&1); then
	fail "empty message accepted: '$out'"
else
	ok "empty message refused by dmsetup: $(head -n1 <<<"$out")"
fi
out=$("$RT" msg r0 "   " || true)
check "empty message (only blanks) refused with EINVAL ($out)" test "$out" = "error: EINVAL (22)"
line=$(last_dm_line)
check "... logged by dm-ioctl before the target sees it: $line" \
	test "$line" != "$LAST" -a "${line##*device-mapper: }" = "ioctl: Empty message received."
check "nothing changed by the refused messages" test "$(snapshot)" = "$BEFORE"
check "data intact after the refused messages" "$IOTEST" verify "$dev" /tmp/model

# Valid messages.
check "ping -> pong" test "$(dmsetup message r0 0 ping)" = pong
check "PING (case-insensitive) -> pong" test "$(dmsetup message r0 0 PING)" = pong
help=$(dmsetup message r0 0 help)
for m in remap unremap reclaim query list stats clear_stats commit save scrub ping help; do
	check "help lists '$m'" grep -qw -- "$m" <<<"$help"
done
# list past the end is an empty page, not an error.
check "list from past the end -> count=0 next=none" \
	test "$(dmsetup message r0 0 list "$L")" = "count=0 next=none"
check "query of a main sector" \
	test "$(dmsetup message r0 0 query 7)" = "sector=7 block=0 main"
out=$(dmsetup message r0 0 query 4100)
check "query of a remapped sector ($out)" \
	grep -qE "^sector=4100 block=512 remapped slot=[0-9]+ spare_sector=[0-9]+$" <<<"$out"
# '+' is accepted by kstrtoull: informational.
log "query +8 -> $("$RT" msg r0 query +8 2>&1 || true)"

# stats and clear_stats.
check "I/O for the counters" "$IOTEST" verify "$dev" /tmp/model
st=$(dmsetup message r0 0 stats)
log "stats: $st"
for k in reads writes read_bytes write_bytes spare_ios splits deferred \
	read_errors write_errors remaps table_bytes table_rebuilds batches; do
	check "stats has $k=" grep -qE "(^| )$k=[0-9]+( |$)" <<<"$st"
done
check "stats: reads > 0 and writes > 0" \
	test "$(kv_field reads "$st")" -gt 0 -a "$(kv_field writes "$st")" -gt 0
check "stats: remaps=$(kv_field remaps "$st") = status remaps" \
	test "$(kv_field remaps "$st")" = "$(status_field r0 remaps)"
batches=$(kv_field batches "$st")
check "clear_stats answers nothing" test -z "$(dmsetup message r0 0 clear_stats)"
st=$(dmsetup message r0 0 stats)
check "clear_stats zeroes the I/O counters" test \
	"$(kv_field reads "$st") $(kv_field writes "$st") $(kv_field read_bytes "$st") $(kv_field spare_ios "$st")" = "0 0 0 0"
check "clear_stats keeps remaps and batches" \
	test "$(kv_field remaps "$st") $(kv_field batches "$st")" = "$(status_field r0 remaps) $batches"
st=$(dmsetup status r0)
check "status counters cleared too" test "$(kv_field reads "$st") $(kv_field writes "$st")" = "0 0"

# commit/save: a remap commits by itself; commit only writes when something
# is queued, so the generation it reports moves only with real changes.
g0=$(status_field r0 generation)
c0=$(status_field r0 commits)
check "commit -> generation=$g0 (nothing queued)" test "$(dmsetup message r0 0 commit)" = "generation=$g0"
check "save -> generation=$g0" test "$(dmsetup message r0 0 save)" = "generation=$g0"
check "commit wrote nothing (commits=$c0)" test "$(status_field r0 commits)" = "$c0"
out=$(dmsetup message r0 0 remap 8192 16)
check "remap 2 blocks: $out" test "$out" = "remapped=2 already=0 no_space=0 copy_failed=0"
check "the remap committed generation $((g0 + 1))" \
	test "$(status_field r0 generation) $(status_field r0 commits)" = "$((g0 + 1)) $((c0 + 1))"
check "commit -> generation=$((g0 + 1))" test "$(dmsetup message r0 0 commit)" = "generation=$((g0 + 1))"
out=$(dmsetup message r0 0 remap 8192 16)
check "remap of remapped blocks changes nothing: $out" test "$out" = "remapped=0 already=2 no_space=0 copy_failed=0"
out=$(dmsetup message r0 0 unremap 0 8)
check "unremap of a main block changes nothing: $out" test "$out" = "unremapped=0 not_remapped=1 copy_failed=0"
out=$(dmsetup message r0 0 reclaim 0 8)
check "reclaim of a main block changes nothing: $out" test "$out" = "reclaimed=0 not_remapped=1 refused=0 copy_failed=0"
check "... and commits nothing" \
	test "$(status_field r0 generation) $(status_field r0 commits)" = "$((g0 + 1)) $((c0 + 1))"
out=$(dmsetup message r0 0 unremap 8192 16)
check "unremap: $out" test "$out" = "unremapped=2 not_remapped=0 copy_failed=0"
check "the unremap committed generation $((g0 + 2))" \
	test "$(dmsetup message r0 0 save)" = "generation=$((g0 + 2))"
check "data intact" "$IOTEST" verify "$dev" /tmp/model

dmsetup remove r0
check "rmmod dm_remap" unload_module
nullb_remove main0
nullb_remove spare0
finish
