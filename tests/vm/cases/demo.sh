# SPDX-License-Identifier: GPL-2.0-only
# `make demo`'s guest script (tests/vm/demo-guest.sh) as a test, so that the
# demo cannot break unnoticed: it runs to its end (each of its steps checks
# its own outcome and stops at the first unexpected one), prints its seven
# steps in order with the figures that matter, leaves the spare area with
# exactly its 25 remaps, and no device behind.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio
T0=$(now_ms)
if bash tests/vm/demo-guest.sh >"$OUT/demo.out" 2>&1; then
	ok "demo guest script ran to its end ($(($(now_ms) - T0)) ms)"
else
	fail "demo guest script: $(grep -a '^FAIL' "$OUT/demo.out" | head -n 3 | tr '\n' ' ')"
	tail -n 30 "$OUT/demo.out"
fi
steps=$(sed -n 's/^== \([0-9]\)\. .*/\1/p' "$OUT/demo.out" | tr -d '\n')
check "its seven steps in order ($steps)" test "$steps" = 1234567
check "a notice line per step" test "$(grep -c '^-> notice: ' "$OUT/demo.out")" = 7
for line in 'remapped=16 already=0 no_space=0 copy_failed=0' \
	'first-half: wrote 16 MiB, verified 16 MiB, error 0' \
	'second-half: wrote 16 MiB, verified 16 MiB, error 0' \
	'status: remaps=24 manual_remaps=16 auto_remaps=8 pending=0 errors=W8:R0' \
	"dd: error reading '/dev/mapper/demo': Input/output error" \
	'800 100 pending' \
	'result: clean, 0 warnings, 0 info'; do
	check "output: $line" grep -q -x -F -- "$line" "$OUT/demo.out"
done
check "no fio report in the output" bash -c "! grep -q -E 'IOPS=|clat|lat \\(' '$OUT/demo.out'"
check "the output is short ($(wc -l <"$OUT/demo.out") lines <= 80)" test "$(wc -l <"$OUT/demo.out")" -le 80
check "no dm device left" test -z "$(dmsetup ls --target remap | grep -v 'No devices found')"
check_tool_records /dev/spare0 25 0 0 "after the demo"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
