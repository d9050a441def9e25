# SPDX-License-Identifier: GPL-2.0-only
# 10000 bad blocks hit concurrently: fio (4 jobs x iodepth 32) writes every
# block of a 10000-block bad range once, then verifies them, while another
# fio does random reads and writes on a good region. Asserts one remap per
# bad block (remaps = auto_remaps = 10000, the list is exactly the range),
# no write/verify error, nothing pending or bad, the good-region fio kept
# completing I/O through the storm (no gap over 6 s between 500 ms samples), and the data
# survives remove + create. Prints the storm's duration, the
# error-handling throughput (remaps/s), the commits it took and the
# good-region IOPS during the storm.
# vm-timeout: 480
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
# Thousands of blocks fail within seconds here, faster than media defects
# arrive: outage_blocks=0, or that would be taken for an outage.
load_module outage_blocks=0
nullb_setup
remap_r0 64 48
T0=$(now_ms)
# Bad: blocks [2048, 12048). Good region for the other fio: [12288, 16384).
B0=2048 BN=10000 G0=12288 GN=4096
nullb_bad main0 + $((B0 * BSS)) $(((B0 + BN) * BSS - 1))
check "null_blk holds $BN bad blocks" test "$(nullb_bad_blocks main0 $BSS | wc -l)" = $BN
log "injected in $(($(now_ms) - T0)) ms"

cat >/tmp/good.fio <<EOF
[good]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
rw=randrw
offset=$((G0 * BS))
size=$((GN * BS))
iodepth=4
time_based=1
runtime=600
write_iops_log=/tmp/good
log_avg_msec=500
EOF
cat >/tmp/storm.fio <<EOF
[storm]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
rw=randwrite
offset=$((B0 * BS))
size=$((BN / 4 * BS))
offset_increment=$((BN / 4 * BS))
numjobs=4
iodepth=32
verify=crc32c
verify_fatal=1
verify_state_save=0
do_verify=1
group_reporting=1
EOF
fio --output-format=json --output=/tmp/good.json /tmp/good.fio >/tmp/good.err 2>&1 &
GOOD=$!
sleep 3
S0=$(now_ms)
A0=$(status_field r0 auto_remaps) C0=$(status_field r0 commits)
fio --output-format=json --output=/tmp/storm.json /tmp/storm.fio >/tmp/storm.err 2>&1 &
STORM=$!
# The storm's write phase ends when every block is remapped.
while dmr_status r0 && [ "${ST[auto_remaps]}" -lt $BN ] && kill -0 $STORM 2>/dev/null; do
	sleep 0.5
done
S1=$(now_ms)
if wait $STORM; then ok "storm fio: no write error, no verify error"; else
	fail "storm fio failed: $(grep -v '^$' /tmp/storm.err | tail -n 5)"
fi
S2=$(now_ms)
sleep 2
kill -INT $GOOD
wait $GOOD || true
out=$(dmsetup status r0)
log "$out"
SECS=$(((S1 - S0) / 1000)) MS=$((S1 - S0))
COMMITS=$(($(kv_field commits "$out") - C0))
log "storm: $BN bad-block writes handled in $MS ms = $((BN * 1000 / (MS ? MS : 1))) remaps/s, $COMMITS commits ($((BN / (COMMITS ? COMMITS : 1))) remaps per commit); verify took $((S2 - S1)) ms"
read -r WCLAT WP99 WBW <<<"$(fio_json /tmp/storm.json "'%d %d %d' % (jobs[0]['write']['clat_ns']['mean'] / 1e6, jobs[0]['write']['clat_ns']['percentile']['99.000000'] / 1e6, jobs[0]['write']['bw'])")"
log "storm writes: clat mean $WCLAT ms, p99 $WP99 ms, $WBW KiB/s"
check "remaps=$BN auto_remaps=$BN pending=0 bad_slots=0" test \
	"$(kv_field remaps "$out") $(kv_field auto_remaps "$out") $(kv_field pending "$out") $(kv_field bad_slots "$out")" \
	= "$BN $BN 0 0"
check "metadata=ok copy_errors=0" \
	test "$(kv_field metadata "$out") $(kv_field copy_errors "$out")" = "ok 0"
dmr_remapped r0 >/tmp/remapped
seq $B0 $((B0 + BN - 1)) >/tmp/want
check "the list is exactly the $BN bad blocks" cmp -s /tmp/want /tmp/remapped

# The good region kept going: its IOPS log (500 ms samples, time relative
# to its start 3 s before the storm) inside the storm's write phase, and
# in the 3 s before as the baseline.
G=$(fio_json /tmp/good.json "'%d %d' % (jobs[0]['read']['total_ios'] + jobs[0]['write']['total_ios'], jobs[0]['error'])")
log "good region: $G (ios, error)"
cat /tmp/good_iops.*.log | awk -F, '{ t[$1 + 0] += $2 } END { for (k in t) print k, t[k] }' |
	sort -n >/tmp/good-iops
GS=$((S0 - 3000))
read -r N Z AVG GAP BASE <<<"$(awk -v a=$((S0 - GS)) -v b=$((S1 - GS)) '
	$1 < a { bn++; bs += $2 }
	$1 >= a && $1 <= b { n++; if ($2 == 0) z++; s += $2; if (last && $1 - last > gap) gap = $1 - last; last = $1 }
	END { printf "%d %d %d %d %d", n, z, n ? s / n : 0, gap, bn ? bs / bn : 0 }' /tmp/good-iops)"
log "good region: $BASE IOPS before the storm, $AVG IOPS during it ($N samples, $Z empty, longest gap between samples $GAP ms)"
check "good region: I/O completed throughout the storm ($Z empty samples, longest gap $GAP ms <= 6000)" \
	test "$N" -gt 0 -a "$Z" = 0 -a "$GAP" -le 6000
check "good region: at least 10% of its baseline IOPS during the storm ($AVG vs $BASE)" \
	test $((AVG * 10)) -ge "$BASE"
check "good region fio: no error" test "${G#* }" = 0

dmsetup remove r0
check_tool_records /dev/spare0 $BN 0 0
dmsetup create r0 --table "$TABLE"
check "reload: remaps=$BN" test "$(status_field r0 remaps)" = $BN
sed -i 's/^do_verify=1/verify_only=1/' /tmp/storm.fio
if fio --output=/tmp/storm2.out /tmp/storm.fio >/tmp/storm2.err 2>&1; then
	ok "reload: fio verify_only of the $BN blocks passes"
else
	fail "reload: fio verify_only: $(grep -v '^$' /tmp/storm2.err | tail -n 5)"
fi
dmsetup remove r0
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
