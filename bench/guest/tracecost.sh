# SPDX-License-Identifier: GPL-2.0-only
# Benchmark guest for the cost of the tracepoints (icount boot): the normal
# module with its tracepoints disabled, the same with every dm_remap event
# enabled, and a build without tracepoints (DMR_NO_TRACE=y), each against
# dm-linear, the module swapped between them in every round.
# Run by bench/run-bench: run-vm --icount bench/guest/tracecost.sh <run-dir> tracecost
. bench/guest/common.sh "$1" "${2:-tracecost}"

EVENTS=$TRACING/events/dm_remap/enable

# tc_round REP BUILD KO: load KO, create the remap devices, run the jobs
# (and, for the traced build, again with the events on), remove, unload.
tc_round() {
	local rep=$1 build=$2 ko=$3 wl cfg
	insmod "$ko"
	dmsetup create b_r0 --table "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_r0 0 $SL_R0"
	dmsetup create b_hit --table "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_hit 0 $SL_HIT"
	if [ "$PREFILLED_HIT" = 0 ]; then
		prefill /dev/mapper/b_hit "${REGION_MB}M"
		PREFILLED_HIT=1
	fi
	for wl in $TC_WORKLOADS; do
		say "round $rep, $build build, $wl"
		tc_jobs "$wl" "$rep" "$build"
		[ "$build" = traced ] || continue
		say "round $rep, traced build with events on, $wl"
		echo 1 >"$EVENTS"
		tc_jobs "$wl" "$rep" enabled
		echo 0 >"$EVENTS"
		# The ring buffer's content: proof that the events fired.
		grep -c ' dmr_spare_io:' "$TRACING/trace" >>"$RAW/enabled-events.txt" || true
		echo >"$TRACING/trace"
	done
	dmsetup remove b_r0 b_hit
	rmmod dm_remap
}

# tc_jobs WORKLOAD REP TAG: dm-linear, remap-0 and remap-all-hit, one job
# each, into $RAW/WORKLOAD-REP-TAG.json (job names CONFIG.TAG).
tc_jobs() {
	local cfg
	{
		fio_global "${REGION_MB}M"
		for cfg in linear remap-0 remap-all-hit; do
			fio_job "$cfg.$3" "$(tc_dev "$cfg")" "$1" "$TC_RT"
		done
	} >/tmp/tc.fio
	run_fio /tmp/tc.fio "$RAW/$1-$2-$3.json"
}

tc_dev() {
	case $1 in
	linear) echo /dev/mapper/b_lin ;;
	remap-0) echo /dev/mapper/b_r0 ;;
	remap-all-hit) echo /dev/mapper/b_hit ;;
	esac
}

say "start: kernel $(uname -r), $TC_REPS rounds, ${TC_RT}s per job, [$TC_WORKLOADS]"
modprobe -a dm_mod dm_bufio libcrc32c
nullb_setup
nullb_create main0 "$TC_MAIN_MB" 512
MAIN_SECTORS=$(sectors /dev/main0)
SL_R0=$(spare_len_of "$RUN/dumps/tc-unhit-0.txt")
SL_HIT=$(spare_len_of "$RUN/dumps/tc-hit.txt")
nullb_create sp_r0 "$(mb_for "$SL_R0")" 512
nullb_create sp_hit "$(mb_for "$SL_HIT")" 512
restore_dump "$RUN/dumps/tc-unhit-0.txt" /dev/sp_r0
restore_dump "$RUN/dumps/tc-hit.txt" /dev/sp_hit
dmsetup create b_lin --table "0 $MAIN_SECTORS linear /dev/main0 0"
prefill /dev/main0 "${REGION_MB}M"
PREFILLED_HIT=0
kv env.tsv kernel "$(uname -r)"
kv env.tsv fio "$(fio --version)"
for rep in $(seq 1 "$TC_REPS"); do
	# Alternate which build goes first, so that neither always follows the other.
	if [ $((rep % 2)) = 1 ]; then
		tc_round "$rep" traced "$BIN/dm-remap.ko"
		tc_round "$rep" notrace "$BIN/dm-remap-notrace.ko"
	else
		tc_round "$rep" notrace "$BIN/dm-remap-notrace.ko"
		tc_round "$rep" traced "$BIN/dm-remap.ko"
	fi
done
dmsetup remove b_lin
say "done"
echo ok >"$RAW/done"
