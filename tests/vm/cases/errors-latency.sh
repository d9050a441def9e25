# SPDX-License-Identifier: GPL-2.0-only
# Error-to-remap latency and throughput while errors are handled, printed in
# the log:
#  - QD1 4 KiB writes to good blocks (baseline) and to 200 bad blocks (each
#    a remap): fio completion latency, and from tracefs the time from the
#    bio's submission to the dm device (block:block_bio_queue) to its
#    completion by the worker (dm_remap:dmr_io_error outcome=recovered);
#  - the same with commit_interval 0 (no batching wait);
#  - 2000 bad blocks written at QD 32: remaps/s and latency percentiles;
#  - good-region IOPS alone and while a stream of bad-block writes runs.
# Asserts every bad-block write succeeds, one dmr_remap reason=auto and one
# recovered dmr_io_error per block, and bounds the latency (max < 30 s,
# QD1 mean < 1 s, QD32 mean < 5 s: TCG on a loaded host showed a 7.9 s
# max) so that a stall or a lost completion fails the test.
# vm-timeout: 420
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
# Thousands of blocks fail within seconds here, faster than media defects
# arrive: outage_blocks=0, or that would be taken for an outage.
load_module outage_blocks=0
nullb_setup
TR=/sys/kernel/tracing
remap_r0 48 24
T0=$(now_ms)
MAJ=$(dmsetup info -c --noheadings -o major r0 | tr -d ' ')
MIN=$(dmsetup info -c --noheadings -o minor r0 | tr -d ' ')

# fio_w NAME FIRST_BLOCK NBLOCKS JOBS QD [extra...]: 4 KiB random writes,
# each block once; JSON in /tmp/NAME.json.
fio_w() {
	local name=$1 first=$2 n=$3 jobs=$4 qd=$5
	shift 5
	fio --name="$name" --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k \
		--rw=randwrite --offset=$((first * BS)) --size=$((n / jobs * BS)) \
		--offset_increment=$((n / jobs * BS)) --numjobs="$jobs" --iodepth="$qd" \
		--group_reporting=1 --eta=never --output-format=json --output="/tmp/$name.json" "$@"
}
# clat NAME: "mean p50 p99 max" write completion latency in ms.
clat() {
	fio_json "/tmp/$1.json" "' '.join('%.1f' % (v / 1e6) for v in (jobs[0]['write']['clat_ns']['mean'], jobs[0]['write']['clat_ns']['percentile']['50.000000'], jobs[0]['write']['clat_ns']['percentile']['99.000000'], jobs[0]['write']['clat_ns']['max']))"
}

trace_on() {
	echo 0 >$TR/tracing_on
	echo >$TR/trace
	echo 4096 >$TR/buffer_size_kb
	echo "dev == $(((MAJ << 20) | MIN))" >$TR/events/block/block_bio_queue/filter
	echo 1 >$TR/events/block/block_bio_queue/enable
	echo 1 >$TR/events/dm_remap/dmr_io_error/enable
	echo 1 >$TR/events/dm_remap/dmr_remap/enable
	echo 1 >$TR/tracing_on
}
trace_off() {
	echo 0 >$TR/tracing_on
	cat $TR/trace >"$1"
	echo 0 >$TR/events/block/block_bio_queue/enable
	echo 0 >$TR/events/dm_remap/enable
}
# trace_lat FILE: "n mean p50 p90 p99 max recovered auto" from a trace:
# per recovered write, submission (block_bio_queue on the dm device) to
# completion (dmr_io_error outcome=recovered), in ms.
trace_lat() {
	awk '
	match($0, /[0-9]+\.[0-9]+: /) { t = substr($0, RSTART, RLENGTH - 2) * 1000 }
	/ block_bio_queue: / && / W/ {
		for (i = 1; i <= NF; i++) if ($i == "+") { q[$(i - 1)] = t; break }
	}
	/ dmr_io_error: / && / W / && /outcome=recovered/ {
		rec++
		s = $0; sub(/.*sector=/, "", s); sub(/ .*/, "", s)
		if (s in q) { print t - q[s]; delete q[s] }
	}
	/ dmr_remap: / && /reason=auto/ { aut++ }
	END { print "R", rec + 0, aut + 0 }' "$1" >/tmp/lat.raw
	set -- $(grep '^R ' /tmp/lat.raw)
	REC=$2 AUT=$3
	grep -v '^R ' /tmp/lat.raw | sort -g | awk -v rec="$REC" -v aut="$AUT" '
		{ v[NR] = $1; s += $1 }
		END {
			n = NR
			if (!n) { print 0, 0, 0, 0, 0, 0, rec, aut; exit }
			p99 = int(n * .99) + 1
			if (p99 > n) p99 = n
			printf "%d %.1f %.1f %.1f %.1f %.1f %d %d\n", n, s / n, v[int(n * .5) + 1],
				v[int(n * .9) + 1], v[p99], v[n], rec, aut
		}'
}

# --- QD1: good blocks, then 200 bad blocks (200 remaps) ---
check "QD1 baseline: 500 writes to good blocks" fio_w base 6000 500 1 1
read -r BM B50 B99 BMAX <<<"$(clat base)"
log "QD1 good-block write latency (ms): mean $BM, p50 $B50, p99 $B99, max $BMAX"
nullb_bad main0 + $((2000 * BSS)) $((2200 * BSS - 1))
trace_on
check "QD1: 200 writes to bad blocks succeed" fio_w bad1 2000 200 1 1
trace_off /tmp/t1
read -r FM F50 F99 FMAX <<<"$(clat bad1)"
read -r N TM T50 T90 T99 TMAX REC AUT <<<"$(trace_lat /tmp/t1)"
log "QD1 bad-block write (remap) latency, fio (ms): mean $FM, p50 $F50, p99 $F99, max $FMAX"
log "QD1 bad-block write (remap) latency, tracepoints (ms): n=$N mean $TM, p50 $T50, p90 $T90, p99 $T99, max $TMAX"
check "trace: 200 recovered write errors, 200 auto remaps" test "$REC $AUT" = "200 200"
check "trace: a submission found for every recovered write ($N)" test "$N" = 200
check "QD1 remap latency: max ${FMAX} ms < 30000, mean ${FM} ms < 1000" \
	awk -v m="$FM" -v x="$FMAX" 'BEGIN { exit !(x < 30000 && m < 1000) }'
check "status remaps=200" test "$(status_field r0 remaps)" = 200

# --- QD1 with commit_interval 0 (a second device, same sizes) ---
nullb_create main1 16 512
nullb_create spare1 8 512
dmsetup create r1 --table "0 $(sectors /dev/main1) remap /dev/main1 /dev/spare1 0 $(sectors /dev/spare1) 2 commit_interval 0"
nullb_bad main1 + $((1000 * BSS)) $((1200 * BSS - 1))
DEV=/dev/mapper/r1
check "commit_interval 0, QD1: 200 writes to bad blocks succeed" fio_w bad0 1000 200 1 1
read -r ZM Z50 Z99 ZMAX <<<"$(clat bad0)"
log "QD1 remap latency with commit_interval 0 (ms): mean $ZM, p50 $Z50, p99 $Z99, max $ZMAX"
check "commit_interval 0: status remaps=200" test "$(status_field r1 remaps)" = 200
dmsetup remove r1
DEV=/dev/mapper/r0

# --- QD 32: 2000 bad blocks ---
nullb_bad main0 + $((3000 * BSS)) $((5000 * BSS - 1))
C0=$(status_field r0 commits)
trace_on
t=$(now_ms)
check "QD32: 2000 writes to bad blocks succeed" fio_w bad32 3000 2000 4 8
t=$(($(now_ms) - t))
trace_off /tmp/t32
read -r QM Q50 Q99 QMAX <<<"$(clat bad32)"
read -r N TM T50 T90 T99 TMAX REC AUT <<<"$(trace_lat /tmp/t32)"
QC=$(($(status_field r0 commits) - C0))
RATE=$(fio_json /tmp/bad32.json "int(jobs[0]['write']['iops'])")
log "QD32: 2000 remaps in $t ms wall, fio $RATE remaps/s, $QC commits ($((2000 / (QC ? QC : 1))) remaps per commit)"
log "QD32 remap latency, fio (ms): mean $QM, p50 $Q50, p99 $Q99, max $QMAX"
log "QD32 remap latency, tracepoints (ms): n=$N mean $TM, p50 $T50, p90 $T90, p99 $T99, max $TMAX"
check "QD32 trace: 2000 recovered, 2000 auto remaps" test "$REC $AUT" = "2000 2000"
check "QD32: max latency ${QMAX} ms < 30000, mean ${QM} ms < 5000" \
	awk -v m="$QM" -v x="$QMAX" 'BEGIN { exit !(x < 30000 && m < 5000) }'
check "QD32: batched (fewer than 1000 commits for 2000 remaps: $QC)" test "$QC" -lt 1000
check "status remaps=2200" test "$(status_field r0 remaps)" = 2200

# --- good-region throughput, alone and during a bad-block write stream ---
nullb_bad main0 + $((8000 * BSS)) $((9000 * BSS - 1))
good() {
	fio --name=good --filename="$DEV" --direct=1 --ioengine=libaio --bs=4k --rw=randrw \
		--offset=$((10240 * BS)) --size=$((2048 * BS)) --iodepth=8 --time_based=1 \
		--runtime=8 --eta=never --output-format=json --output="/tmp/$1.json"
}
check "good region alone, 8 s" good g0
A0=$(status_field r0 auto_remaps)
fio_w stream 8000 1000 1 4 --rate_iops=50 &	# each bad block once: >= 20 s
STREAM=$!
# The measurement starts once the stream's writes are being remapped.
wait_status r0 auto_remaps $((A0 + 20)) $STREAM || fail "the error stream did not start"
check "good region during the error stream, 8 s" good g1
if wait $STREAM; then ok "error stream: every bad-block write succeeded"; else
	fail "error stream: fio failed"
fi
G0=$(fio_json /tmp/g0.json "int(jobs[0]['read']['iops'] + jobs[0]['write']['iops'])")
G1=$(fio_json /tmp/g1.json "int(jobs[0]['read']['iops'] + jobs[0]['write']['iops'])")
SR=$(fio_json /tmp/stream.json "int(jobs[0]['write']['iops'])")
log "good-region IOPS: $G0 alone, $G1 while bad-block writes are remapped at $SR/s"
check "good region keeps >= 10% of its IOPS during the error stream ($G1 vs $G0)" \
	test $((G1 * 10)) -ge "$G0" -a "$G1" -gt 0
dmr_status r0
log "${ST[line]}"
check "metadata=ok bad_slots=0 pending=0" \
	test "${ST[metadata]} ${ST[bad_slots]} ${ST[pending]}" = "ok 0 0"
dmsetup remove r0
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
nullb_remove main1
nullb_remove spare1
check "rmmod dm_remap" unload_module
finish
