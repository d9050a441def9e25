# SPDX-License-Identifier: GPL-2.0-only
# Benchmark guest for the wall-clock boots (no icount, 2 CPUs): scaling
# with 1 and 2 fio jobs and the perf profile, and the NUMA case with two
# emulated nodes.
# Run by bench/run-bench:
#   run-vm --cpus 2 bench/guest/wall.sh <run-dir> scaling
#   run-vm --numa 2 --cpus 2 bench/guest/wall.sh <run-dir> numa
# Numbers from these boots are wall clock under TCG: indicative only.
. bench/guest/common.sh "$1" "$2"

cfg_dev() {
	case $1 in
	linear) echo /dev/mapper/b_lin ;;
	remap-1M) echo /dev/mapper/b_r1m ;;
	remap-all-hit) echo /dev/mapper/b_hit ;;
	esac
}

# make_devices NODE CONFIGS: main0 (and spares) on NUMA node NODE (-1: any).
make_devices() {
	local node=$1 cfgs=$2 cfg sl dump extra=()
	[ "$node" = -1 ] || extra=(home_node="$node")
	nullb_create main0 "$MAIN_MB" 512 submit_queues=2 "${extra[@]}"
	MAIN_SECTORS=$(sectors /dev/main0)
	for cfg in $cfgs; do
		case $cfg in
		linear)
			timed_create b_lin "0 $MAIN_SECTORS linear /dev/main0 0" ;;
		remap-1M | remap-all-hit)
			if [ "$cfg" = remap-1M ]; then dump=$RUN/dumps/unhit-1000000.txt id=r1m
			else dump=$RUN/dumps/hit.txt id=hit; fi
			sl=$(spare_len_of "$dump")
			nullb_create "sp_$id" "$(mb_for "$sl")" 512 submit_queues=2 "${extra[@]}"
			say "restore $(basename "$dump")"
			restore_dump "$dump" "/dev/sp_$id"
			timed_create "b_$id" "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_$id 0 $sl" ;;
		esac
	done
	say "prefill ${REGION_MB} MiB"
	prefill /dev/main0 "${REGION_MB}M"
	[ ! -b /dev/mapper/b_hit ] || prefill /dev/mapper/b_hit "${REGION_MB}M"
}

part_scaling() {
	local rep cfg
	say "scaling: $SCALE_REPS rounds of [$SCALE_CONFIGS] x [1 job, 2 jobs], ${SCALE_RT}s each"
	{
		fio_global "${REGION_MB}M"
		for rep in $(seq 1 "$SCALE_REPS"); do
			for cfg in $SCALE_CONFIGS; do
				fio_job "$cfg.j1.$rep" "$(cfg_dev "$cfg")" randread "$SCALE_RT" \
					numjobs=1 cpus_allowed=0 group_reporting=1
				fio_job "$cfg.j2.$rep" "$(cfg_dev "$cfg")" randread "$SCALE_RT" \
					numjobs=2 cpus_allowed=0-1 cpus_allowed_policy=split group_reporting=1
			done
		done
	} >/tmp/scaling.fio
	run_fio /tmp/scaling.fio "$RAW/scaling.json"
}

part_numa() {
	local rep cfg cpu
	numactl --hardware >"$RAW/numactl.txt" 2>&1 || cat /sys/devices/system/node/node*/cpulist >"$RAW/numactl.txt"
	make_devices 1 "linear remap-1M"
	{
		echo "NUMA nodes: $(ls -d /sys/devices/system/node/node* | xargs -n1 basename | tr '\n' ' ')"
		for n in /sys/devices/system/node/node*; do
			echo "$(basename "$n"): cpus $(cat "$n/cpulist"), $(awk '/MemTotal/ { print $4, $5 }' "$n/meminfo")"
		done
		echo "main0: null_blk home_node=$(cat /sys/kernel/config/nullb/main0/home_node)"
		echo "remap table (the largest vmalloc of dm_remap; N<node>=<pages>):"
		grep dm_remap /proc/vmallocinfo | sort -k2 -n -r | head -n 3 |
			awk '{ n = ""; for (i = 1; i <= NF; i++) if ($i ~ /^N[0-9]+=/) n = n " " $i;
			       print "  " $2 " bytes, " $3 n }'
		dmsetup message b_r1m 0 stats | tr ' ' '\n' | grep -E '^(remaps|table_bytes)=' | tr '\n' ' '
		echo
	} >"$RAW/placement.txt"
	say "numa: $NUMA_REPS rounds of [linear remap-1M] x [cpu0, cpu1], ${NUMA_RT}s each"
	{
		fio_global "${REGION_MB}M"
		for rep in $(seq 1 "$NUMA_REPS"); do
			for cfg in linear remap-1M; do
				for cpu in 0 1; do
					fio_job "$cfg.cpu$cpu.$rep" "$(cfg_dev "$cfg")" randread "$NUMA_RT" \
						cpus_allowed="$cpu"
				done
			done
		done
	} >/tmp/numa.fio
	run_fio /tmp/numa.fio "$RAW/numa.json"
}

# perf profile of 4 KiB randread, fio pinned to CPU 0. In this boot, not the
# icount one: under icount the sampling timer fires at exact instruction
# counts, in lockstep with the (deterministic, periodic) I/O loop, and the
# samples alias (the same symbol got 44% of one profile and 73% of another
# for nearly the same instructions). Here, sampling follows the host clock.
part_perf() {
	local cfg dev
	sysctl -q -w kernel.kptr_restrict=0 kernel.perf_event_paranoid=-1
	for cfg in $PERF_CONFIGS; do
		dev=$(cfg_dev "$cfg")
		[ -b "$dev" ] || { say "perf: no device for $cfg"; continue; }
		say "perf record -g on randread $cfg, ${PERF_RT}s"
		{
			fio_global "${REGION_MB}M"
			fio_job "perf.$cfg" "$dev" randread 300 cpus_allowed=0
		} >/tmp/perf.fio
		# Start fio, wait until its I/O flows (its start-up, e.g. loading the
		# ceph libraries of its rbd engine, takes seconds under TCG), then
		# sample CPU 0, where fio runs, for PERF_RT seconds.
		local stat r0 r1 i fpid
		stat=/sys/dev/block/$(devno "$dev")/stat
		fio --eta=never --output-format=json --output="$RAW/perf-$cfg.json" /tmp/perf.fio \
			>>"$RAW/perf.log" 2>&1 &
		fpid=$!
		r0=$(awk '{ print $1 }' "$stat")
		for i in $(seq 1 1200); do
			sleep 0.1
			r1=$(awk '{ print $1 }' "$stat")
			[ $((r1 - r0)) -lt 2000 ] || break
		done
		perf record -q -N -g -e cpu-clock -F 4000 -a -C 0 -o "/tmp/perf-$cfg.data" -- \
			sleep "$PERF_RT" >>"$RAW/perf.log" 2>&1
		kill -INT "$fpid" 2>/dev/null || true
		wait "$fpid" || true
		(
			set +o pipefail
			# fio only: completions run in its context (null_blk irqmode=0).
			rep() { perf report -i "/tmp/perf-$cfg.data" --stdio --comms fio "$@" 2>>"$RAW/perf.log"; }
			strip() { grep -v '^#' | grep -v '^$' | sed -E 's/( +-)* *$//'; }
			echo "### self time, top symbols (perf report --no-children --sort symbol)"
			rep --no-children -g none --sort symbol --percent-limit 0.7 | strip | head -n 30
			echo "### by object (--sort dso)"
			rep --no-children -g none --sort dso | strip | head -n 8
			echo "### inclusive time of the DM and dm-remap functions (--children)"
			rep --children -g none --sort symbol | strip |
				grep -E '\] (dm_submit_bio|__map_bio|remap_map|remap_end_io|dmr_[a-z_]+|linear_map|clone_endio|dm_accept_partial_bio|null_queue_rq|blk_mq_submit_bio|__x64_sys_io_submit)$' |
				head -n 16
		) >"$RAW/perf-$cfg.txt" || true
		mv "/tmp/perf-$cfg.data" "$RAW/" 2>/dev/null || true
	done
}

say "start: kernel $(uname -r), $(nproc) CPUs, icount=$DMR_VM_ICOUNT"
bench_load_module
nullb_setup
dmsetup version >/dev/null
probes_setup
case $PART in
scaling)
	# SCALING_PARTS: "scaling" and/or "perf", on the same devices.
	make_devices -1 "$SCALE_CONFIGS"
	for p in $SCALING_PARTS; do
		case $p in
		scaling) part_scaling ;;
		perf) part_perf ;;
		esac
	done ;;
numa) part_numa ;;
*) say "unknown part $PART"; exit 2 ;;
esac
probes_teardown
say "done"
echo ok >"$RAW/done"
