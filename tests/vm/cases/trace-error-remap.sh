# SPDX-License-Identifier: GPL-2.0-only
# trace/error-remap.bt against two remap devices over null_blk with bad
# blocks at the same block numbers (the script must keep the devices apart):
# one O_DIRECT write to each bad block (each fails on main, is retried and
# auto-remapped), and on r0 a read of another bad block (it becomes pending)
# followed by a full write of it (remapped). @error_to_remap_us[main disk]
# must hold exactly one sample per auto remap of that device (status
# auto_remaps), @error_to_pending_us[main0] the pending block, @held_us
# every held bio by outcome, and the verbose lines every remapped block.
# bpftrace output is kept in build/vm-logs/trace-error-remap/.
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
	nullb_create spare$d 16 4096
	remap_create r$d $(sectors /dev/main$d) /dev/main$d /dev/spare$d 0 $(sectors /dev/spare$d)
done
BAD0="100 200 300 400 500 600 700 800"
BAD1="100 200 300"
PEND=1000
for b in $BAD0 $PEND; do
	echo "+$((b * 8))-$((b * 8 + 7))" >/sys/kernel/config/nullb/main0/badblocks
done
for b in $BAD1; do
	echo "+$((b * 8))-$((b * 8 + 7))" >/sys/kernel/config/nullb/main1/badblocks
done

bt_start error-remap trace/error-remap.bt 4096 1
bt_wait error-remap || { finish; exit 1; }

for d in 0 1; do
	eval "bad=\$BAD$d"
	for b in $bad; do
		check "r$d: write bad block $b" dd if=/dev/urandom of=/dev/mapper/r$d \
			bs=4096 seek=$b count=1 oflag=direct status=none
	done
done
expect_fail "r0: read of bad block $PEND fails" dd if=/dev/mapper/r0 of=/dev/null \
	bs=4096 skip=$PEND count=1 iflag=direct status=none
check "r0: block $PEND is pending" bash -c \
	"dmsetup message r0 0 query $((PEND * 8)) | grep -q pending"
check "r0: full write of pending block $PEND" dd if=/dev/urandom of=/dev/mapper/r0 \
	bs=4096 seek=$PEND count=1 oflag=direct status=none
dmsetup status r0
dmsetup status r1
bt_stop error-remap
F=$OUT/error-remap.out

n0=$(echo $BAD0 | wc -w)
n1=$(echo $BAD1 | wc -w)
a0=$(status_field r0 auto_remaps)
a1=$(status_field r1 auto_remaps)
check "r0: auto_remaps = $((n0 + 1))" test "$a0" = $((n0 + 1))
check "r1: auto_remaps = $n1" test "$a1" = "$n1"
check "@error_to_remap_us[main0]: one sample per auto remap ($a0)" \
	test "$(hist_count "$F" error_to_remap_us main0)" = "$a0"
check "@error_to_remap_us[main1]: one sample per auto remap ($a1)" \
	test "$(hist_count "$F" error_to_remap_us main1)" = "$a1"
check "@error_to_pending_us[main0]: the pending block" \
	test "$(hist_count "$F" error_to_pending_us main0)" = 1
check "@held_us[recovered]: every write ($((n0 + n1 + 1)))" \
	test "$(hist_count "$F" held_us recovered)" = $((n0 + n1 + 1))
check "@held_us[failed]: the read" test "$(hist_count "$F" held_us failed)" = 1
for b in $BAD0 $PEND; do
	check "r0: remap line for block $b" \
		grep -qE "ms remap  disk=main0 block=$b slot=[0-9]+ reason=auto after [0-9]+ us" "$F"
done
for b in $BAD1; do
	check "r1: remap line for block $b" \
		grep -qE "ms remap  disk=main1 block=$b slot=[0-9]+ reason=auto" "$F"
done
check "pending line for block $PEND" \
	grep -qE "ms remap  disk=main0 block=$PEND slot=[0-9]+ reason=pending" "$F"
check "usec bucket lines with counts" \
	grep -qE '^\[[0-9]+[KM]?, [0-9]+[KM]?\) +[1-9][0-9]* \|' "$F"

dmsetup remove r0
dmsetup remove r1
finish
