# SPDX-License-Identifier: GPL-2.0-only
# Benchmark guest for the scrub (patrol read), an icount boot: what a running
# scrub costs user I/O (4 KiB random reads on dm-linear and on a remap device
# with no remaps, the scrub off and on at the default rate, interleaved
# rounds), and how closely the scrub holds its rate on an idle device.
# Run by bench/run-bench: run-vm --icount bench/guest/scrub.sh <run-dir> scrub
. bench/guest/common.sh "$1" "${2:-scrub}"

# fio's exec_prerun / exec_postrun: starts the scrub before a job's clock
# starts and stops it after the job, recording the status at both ends.
# The hook, its output and fio's working directory are in /tmp (tmpfs):
# a 9p access idles the guest, and the scrub goes on reading while the
# icount clock jumps over it.
HOOK=/tmp/scrub-hook.sh
HOOK_OUT=/tmp/scrub-hook

# User I/O cost: one fio process, SCRUB_REPS rounds of [dm-linear, remap
# with the scrub idle, remap with the scrub running], stonewalled.
part_cost() {
	local rep
	say "cost: $SCRUB_REPS rounds of [linear, scrub off, scrub on], ${SCRUB_RT}s each"
	{
		fio_global "${REGION_MB}M"
		for rep in $(seq 1 "$SCRUB_REPS"); do
			fio_job "linear.$rep" /dev/mapper/b_lin randread "$SCRUB_RT"
			fio_job "scrub-off.$rep" /dev/mapper/b_r0 randread "$SCRUB_RT"
			fio_job "scrub-on.$rep" /dev/mapper/b_r0 randread "$SCRUB_RT" \
				"exec_prerun=bash $HOOK start b_r0 $HOOK_OUT/hook.tsv scrub-on.$rep" \
				"exec_postrun=bash $HOOK stop b_r0 $HOOK_OUT/hook.tsv scrub-on.$rep"
		done
	} >/tmp/scrub-cost.fio
	cp bench/guest/scrub-hook.sh "$HOOK"
	mkdir -p "$HOOK_OUT"
	# fio writes the hooks' output to <job>.prerun.txt / .postrun.txt here.
	(cd "$HOOK_OUT" && run_fio /tmp/scrub-cost.fio "$RAW/cost.json")
	cp "$HOOK_OUT/hook.tsv" "$RAW/cost-hook.tsv"
	mkdir -p "$RAW/hook-out"
	cp "$HOOK_OUT"/*.txt "$RAW/hook-out/"
	{ echo "== after the cost jobs"; dmsetup status b_r0; } >>"$RAW/device-stats.txt"
}

# rate_sample NAME RATE N: NAME's status with the guest time (us) around it.
rate_sample() {
	local t0 t1 st
	t0=$(now_us)
	st=$(dmsetup status "$1")
	t1=$(now_us)
	printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$t0" "$t1" "$st" >>"$RAW/rate.tsv"
}

# Rate accuracy: no user I/O; for each rate a fresh table with scrub_rate,
# `scrub start`, SCRUB_SETTLE_S guest seconds, then two samples at least
# SCRUB_MIN_S apart, and long enough for SCRUB_CHUNKS 1 MiB reads (the count
# moves a chunk at a time). Under icount the guest clock jumps over the idle
# time, so the waits cost little wall time.
part_rate() {
	local rate s
	for rate in $SCRUB_RATES; do
		s=$(((SCRUB_CHUNKS * 1024 + rate - 1) / rate))
		[ "$s" -ge "$SCRUB_MIN_S" ] || s=$SCRUB_MIN_S
		say "rate $rate KiB/s: scrub start, ${SCRUB_SETTLE_S}s, two samples ${s}s apart"
		dmsetup create b_rate --table \
			"0 $MAIN_SECTORS remap /dev/main0 /dev/sp_r0 0 $SL 2 scrub_rate $rate"
		echo "$rate $(dmsetup table b_rate)" >>"$RAW/rate-tables.txt"
		dmsetup message b_rate 0 scrub start
		rate_sample b_rate "$rate" 0
		sleep "$SCRUB_SETTLE_S"
		rate_sample b_rate "$rate" 1
		sleep "$s"
		rate_sample b_rate "$rate" 2
		dmsetup message b_rate 0 scrub stop
		dmsetup remove b_rate
	done
}

say "start: kernel $(uname -r), cost: $SCRUB_REPS rounds of ${SCRUB_RT}s; rates [$SCRUB_RATES] KiB/s"
bench_load_module
nullb_setup
nullb_create main0 "$SCRUB_MAIN_MB" 512
MAIN_SECTORS=$(sectors /dev/main0)
SL=$(spare_len_of "$RUN/dumps/scrub-unhit-0.txt")
nullb_create sp_r0 "$(mb_for "$SL")" 512
restore_dump "$RUN/dumps/scrub-unhit-0.txt" /dev/sp_r0
dmsetup version >/dev/null # warm the 9p page cache for dmsetup
kv env.tsv kernel "$(uname -r)"
kv env.tsv fio "$(fio --version)"
kv env.tsv icount "$DMR_VM_ICOUNT"
kv env.tsv scrub_rate_param "$(cat /sys/module/dm_remap/parameters/scrub_rate)"
dmsetup create b_lin --table "0 $MAIN_SECTORS linear /dev/main0 0"
dmsetup create b_r0 --table "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_r0 0 $SL"
{ echo "== remap-0"; dmsetup table b_r0; dmsetup status b_r0; } >>"$RAW/device-stats.txt"
say "prefill ${REGION_MB} MiB of main0"
prefill /dev/main0 "${REGION_MB}M"
part_cost
dmsetup remove b_r0 b_lin
part_rate
dmesg | grep -E 'remap|device-mapper' | tail -n 50 >"$RAW/dmesg-tail.txt" || true
say "done"
echo ok >"$RAW/done"
