# SPDX-License-Identifier: GPL-2.0-only
# Every kind of invalid table line is refused with its own ti->error message
# and leaves no device behind; invalid module parameter values are refused.
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
nullb_create main0 16 512
nullb_create spare0 8 512
M=/dev/main0
S=/dev/spare0
ML=$(sectors $M)
SL=$(sectors $S)

# reject LEN "ARGS" "expected ti->error"
reject() {
	local len=$1 args=$2 msg=$3
	dmesg -C
	if dmsetup create bad --table "0 $len remap $args" >/dev/null 2>&1; then
		fail "accepted: remap $args"
		dmsetup remove bad
		return
	fi
	if ! dmesg | grep -q "remap: $msg"; then
		fail "wrong message for '$args' (want '$msg'): $(dmesg | grep -m1 'device-mapper: table' || true)"
	elif dmsetup info bad >/dev/null 2>&1; then
		fail "device left behind after '$args'"
	else
		ok "rejected '$args': $msg"
	fi
	dmsetup remove bad >/dev/null 2>&1 || true
}

reject $ML "" "Invalid argument count"
reject $ML "$M $S 0" "Invalid argument count"
reject $ML "$M $S 0 $SL extra" "Invalid number of feature arguments"
reject $ML "$M $S 0 $SL 2 block_size 1000" "block_size must be a power of two from 512 to 65536"
reject $ML "$M $S 0 $SL 2 block_size 131072" "block_size must be a power of two from 512 to 65536"
reject $ML "$M $S 0 $SL 1 block_size" "block_size must be a power of two from 512 to 65536"
reject $ML "$M $S 0 $SL 2 auto_remap maybe" "auto_remap must be on or off"
reject $ML "$M $S 0 $SL 2 read_retries 101" "read_retries must be 0 to 100"
reject $ML "$M $S 0 $SL 2 commit_interval x" "commit_interval must be 0 to 60000 (ms)"
reject $ML "$M $S 0 $SL 2 outage_blocks 4097" "outage_blocks must be 0 to 4096"
reject $ML "$M $S 0 $SL 2 outage_blocks -1" "outage_blocks must be 0 to 4096"
reject $ML "$M $S 0 $SL 2 outage_window 0" "outage_window must be 1 to 600000 (ms)"
reject $ML "$M $S 0 $SL 1 outage_window" "outage_window must be 1 to 600000 (ms)"
reject $ML "$M $S 0 $SL 2 scrub_rate 63" "scrub_rate must be 64 to 4194304 (KiB/s)"
reject $ML "$M $S 0 $SL 2 scrub_rate 4194305" "scrub_rate must be 64 to 4194304 (KiB/s)"
reject $ML "$M $S 0 $SL 2 scrub_rate 1M" "scrub_rate must be 64 to 4194304 (KiB/s)"
reject $ML "$M $S 0 $SL 2 weak_budget 100001" "weak_budget must be 0 to 100000 (blocks an hour)"
reject $ML "$M $S 0 $SL 2 slow_read_ms 600001" "slow_read_ms must be 0 to 600000 (ms)"
reject $ML "$M $S 0 $SL 1 slow_read_ms" "slow_read_ms must be 0 to 600000 (ms)"
reject $ML "$M $S 0 $SL 20 block_size 4096 auto_remap on read_retries 1 commit_interval 1 outage_blocks 1 outage_window 1 scrub_rate 64 weak_budget 1 slow_read_ms 1 read_retries 1" "Invalid number of feature arguments"
reject $ML "$M $S 0 $SL 1 frobnicate" "Unrecognised feature argument"
reject $ML "$M $S 0 $SL 3 block_size 4096" "Invalid number of feature arguments"
reject $((ML - 1)) "$M $S 0 $SL" "Target length is not a multiple of block_size"
reject $ML "$M $S 0 16" "spare area too small for the metadata and one block"
reject $ML "/dev/nonexistent $S 0 $SL" "Main device lookup failed"
reject $ML "$M /dev/nonexistent 0 $SL" "Spare device lookup failed"
reject $ML "$M $S x $SL" "Invalid spare_start"
reject $ML "$M $S 12abc $SL" "Invalid spare_start"
reject $ML "$M $S -1 $SL" "Invalid spare_start"
reject $ML "$M $S 0 ''" "Invalid spare_len"
reject $ML "$M $S 0 1e3" "Invalid spare_len"
reject $ML "$M $S 0 99999999999999999999999" "Invalid spare_len"
reject $ML "$M $S 0 0" "Spare length must not be zero"
reject $ML "$M $S 18446744073709551615 8" "Spare start + length overflows"
reject $ML "$M $S 8 $SL" "Spare range exceeds the spare device"
reject $ML "$M $S 0 $((SL + 1))" "Spare range exceeds the spare device"
reject $((ML + 8)) "$M $S 0 $SL" "Target length exceeds the main device"
reject $((ML / 2)) "$M $M $((ML / 2 - 8)) 64" "Spare range overlaps the mapped main range"

# Module parameters: out-of-range and non-numeric values are refused with a
# kernel log message naming the range, and the value stays; in-range values
# are taken.
P=/sys/module/dm_remap/parameters
for spec in "summary_shift 31" "summary_shift -1" "batch_blocks 0" "batch_blocks 16777217" \
	"read_retries 101" "read_retries x" "commit_interval 60001" "spare_low_percent 101" \
	"spare_low_percent 5x" "outage_blocks 4097" "outage_window 0" "scrub_rate 63" \
	"scrub_rate 4194305" "weak_budget 100001" "slow_read_ms 600001"; do
	set -- $spec
	old=$(cat "$P/$1")
	expect_fail "parameter $1=$2 refused" sh -c "echo '$2' >$P/$1"
	check "parameter $1 still $old" test "$(cat "$P/$1")" = "$old"
	check "parameter $1=$2: the log gives the range" \
		grep -q "dm-remap: $1 must be an integer in \[" <<<"$(dmesg | tail -n 3)"
done
for spec in "summary_shift 12 10" "batch_blocks 1 262144" "read_retries 0 2" \
	"commit_interval 60000 10" "spare_low_percent 100 10" "outage_blocks 0 256" \
	"outage_window 600000 1000" "scrub_rate 4194304 16384" "weak_budget 100000 0" \
	"slow_read_ms 600000 0"; do
	set -- $spec
	check "parameter $1=$2 taken" sh -c "echo $2 >$P/$1 && test \$(cat $P/$1) = $2"
	echo "$3" >"$P/$1"
done

check "no dm devices left" test -z "$(dmsetup ls | grep -v 'No devices found' || true)"
check "valid line still accepted" dmsetup create good --table "0 $ML remap $M $S 0 $SL"
dmsetup remove good
# Every feature at once (the most a line may have) is taken and echoed.
all="18 block_size 4096 auto_remap on read_retries 1 commit_interval 1 outage_blocks 1 outage_window 1 scrub_rate 64 weak_budget 1 slow_read_ms 1"
check "every feature at once accepted" dmsetup create good --table "0 $ML remap $M $S 0 $SL $all"
check "every feature echoed by the table" grep -qF -- "$all" <<<"$(dmsetup table good)"
dmsetup remove good
check "rmmod dm_remap" unload_module
finish
