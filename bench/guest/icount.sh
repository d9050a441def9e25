# SPDX-License-Identifier: GPL-2.0-only
# Benchmark guest for the deterministic (icount) boot: dm-linear vs dm-remap
# matrix, table load time, concurrent remapping, many devices.
# Run by bench/run-bench: run-vm --icount bench/guest/icount.sh <run-dir> icount
. bench/guest/common.sh "$1" "${2:-icount}"

# Config name -> short id (device b_<id>, spare null_blk sp_<id>).
cfg_id() {
	case $1 in
	linear) echo lin ;;
	remap-0) echo r0 ;;
	remap-1k) echo r1k ;;
	remap-100k) echo r100k ;;
	remap-1M) echo r1m ;;
	remap-1M-nosummary) echo r1mns ;;
	remap-all-hit) echo hit ;;
	*) echo "unknown config $1" >&2; return 1 ;;
	esac
}

# Config name -> the dump (made by run-bench) restored onto its spare.
cfg_dump() {
	case $1 in
	remap-0) echo "$RUN/dumps/unhit-0.txt" ;;
	remap-1k) echo "$RUN/dumps/unhit-1000.txt" ;;
	remap-100k) echo "$RUN/dumps/unhit-100000.txt" ;;
	remap-1M | remap-1M-nosummary) echo "$RUN/dumps/unhit-1000000.txt" ;;
	remap-all-hit) echo "$RUN/dumps/hit.txt" ;;
	esac
}

dev_of() { echo "/dev/mapper/b_$(cfg_id "$1")"; }

create_config() {
	local cfg=$1 id dump sl shift_param old
	id=$(cfg_id "$cfg")
	if [ "$cfg" = linear ]; then
		timed_create "b_$id" "0 $MAIN_SECTORS linear /dev/main0 0"
		return
	fi
	dump=$(cfg_dump "$cfg")
	sl=$(spare_len_of "$dump")
	nullb_create "sp_$id" "$(mb_for "$sl")" 512
	restore_dump "$dump" "/dev/sp_$id"
	shift_param=/sys/module/dm_remap/parameters/summary_shift
	old=$(cat "$shift_param")
	# Without the summary every I/O probes the hash table (and misses).
	[ "$cfg" != remap-1M-nosummary ] || echo 30 >"$shift_param"
	if [ "$cfg" = remap-1M ]; then
		# Load time of 1M remaps: dmsetup create, remove, then create again
		# in three timed steps (create --notable, load, resume).
		timed_create "b_$id" "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_$id 0 $sl"
		kv load.tsv remove_r1m "$(timed_remove "b_$id")"
		sed -i "\$s/^b_$id\t/b_$id#1\t/" "$RAW/tables.tsv"
		timed_create "b_$id" "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_$id 0 $sl" split
	else
		timed_create "b_$id" "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_$id 0 $sl"
	fi
	echo "$old" >"$shift_param"
	{ echo "== $cfg"; dmsetup message "b_$id" 0 stats; dmsetup status "b_$id"; } \
		>>"$RAW/device-stats.txt"
}

part_matrix() {
	local cfg wl rep
	say "creating devices: $CONFIGS"
	for cfg in $CONFIGS; do
		say "create $cfg"
		create_config "$cfg"
	done
	say "prefill ${REGION_MB} MiB of main0 (and of the spare for remap-all-hit)"
	prefill /dev/main0 "${REGION_MB}M"
	PREFILLED=1
	case " $CONFIGS " in
	*" remap-all-hit "*) prefill "$(dev_of remap-all-hit)" "${REGION_MB}M" ;;
	esac
	for wl in $WORKLOADS; do
		# 1 MiB reads: ~500 per guest second; run 3x longer for resolution.
		local rt=$RT
		[ "$wl" != seqread ] || rt=$(awk -v r="$RT" 'BEGIN { print r * 3 }')
		say "matrix $wl: $REPS rounds of [$CONFIGS], ${rt}s each"
		{
			fio_global "${REGION_MB}M"
			for rep in $(seq 1 "$REPS"); do
				for cfg in $CONFIGS; do
					fio_job "$cfg.$rep" "$(dev_of "$cfg")" "$wl" "$rt"
				done
			done
		} >/tmp/matrix-$wl.fio
		run_fio /tmp/matrix-$wl.fio "$RAW/matrix-$wl.json"
	done
	{ echo "== after the matrix"; dmsetup status; } >>"$RAW/device-stats.txt"
	for cfg in $CONFIGS; do
		[ "$cfg" = linear ] || { echo "== $cfg"; dmsetup message "b_$(cfg_id "$cfg")" 0 stats; } \
			>>"$RAW/device-stats.txt"
	done
}

# churn_loop MODE STOP COUNT: background load until STOP exists.
#   ping:  `dmsetup message ping` (what starting dmsetup costs)
#   remap: remap 1 MiB ranges of the I/O region, keep 8, unremap the oldest
churn_loop() {
	local mode=$1 stop=$2 count=$3 n=0 i=0 r nr=$REGION_MB q=() fails=0
	while [ ! -e "$stop" ]; do
		if [ "$mode" = ping ]; then
			dmsetup message b_churn 0 ping >/dev/null || fails=$((fails + 1))
		elif [ ${#q[@]} -ge 8 ]; then
			dmsetup message b_churn 0 unremap $((q[0] * 2048)) 2048 \
				>>"$RAW/churn-messages.log" 2>&1 || fails=$((fails + 1))
			q=("${q[@]:1}")
		else
			r=$(((i * 37) % nr))
			i=$((i + 1))
			dmsetup message b_churn 0 remap $((r * 2048)) 2048 \
				>>"$RAW/churn-messages.log" 2>&1 || fails=$((fails + 1))
			q+=("$r")
		fi
		n=$((n + 1))
	done
	echo "$n $fails" >"$count"
}

part_churn() {
	local dump sl wl v t0 t1 pid
	dump=$RUN/dumps/churn.txt
	sl=$(spare_len_of "$dump")
	nullb_create sp_churn "$(mb_for "$sl")" 512
	restore_dump "$dump" /dev/sp_churn
	timed_create b_churn "0 $MAIN_SECTORS remap /dev/main0 /dev/sp_churn 0 $sl"
	[ "$PREFILLED" = 1 ] || prefill /dev/main0 "${REGION_MB}M"
	for wl in randread randwrite; do
		for v in quiet ping remap; do
			say "churn $wl with $v background, ${CHURN_RT}s"
			dmsetup message b_churn 0 clear_stats
			fio_global "${REGION_MB}M" >/tmp/churn.fio
			fio_job "$wl.$v" /dev/mapper/b_churn "$wl" "$CHURN_RT" >>/tmp/churn.fio
			rm -f /tmp/churn.stop /tmp/churn.count
			if [ "$v" != quiet ]; then
				churn_loop "$v" /tmp/churn.stop /tmp/churn.count &
				pid=$!
			fi
			t0=$(now_us)
			run_fio /tmp/churn.fio "$RAW/churn-$wl-$v.json"
			t1=$(now_us)
			touch /tmp/churn.stop
			if [ "$v" != quiet ]; then
				wait "$pid"
				kv churn.tsv "$wl.$v" "$(cat /tmp/churn.count) $((t1 - t0))"
			fi
			{ echo "== $wl.$v"; dmsetup message b_churn 0 stats; dmsetup status b_churn; } \
				>>"$RAW/churn-stats.txt"
			# Back to no remaps for the next run.
			dmsetup message b_churn 0 unremap 0 $((REGION_MB * 2048)) \
				>>"$RAW/churn-messages.log"
		done
	done
	dmsetup status b_churn >>"$RAW/churn-stats.txt"
	dmsetup remove b_churn
}

# slab_snap FILE: active bytes per slab cache.
slab_snap() {
	awk 'NR > 2 { printf "%s %d\n", $1, $2 * $4 }' /proc/slabinfo | sort >"$1"
}

# slab_top BEFORE AFTER: the caches that grew most, "name:+KiB ...".
slab_top() {
	join "$1" "$2" | awk '{ d = ($3 - $2) / 1024; if (d >= 4) printf "%s %.0f\n", $1, d }' |
		sort -k2 -n -r | head -n 8 | awk '{ printf "%s%s:+%d", sep, $1, $2; sep = " " } END { print "" }'
}

# Many devices: MANY_N small null_blk main devices, spare areas sliced from
# one null_blk device by spare_start; remaps restored offline.
part_many() {
	local n=$MANY_N i dump sl spec lspec names lnames t0 t1 files
	dump=$RUN/dumps/many.txt
	sl=$(spare_len_of "$dump")
	say "many: $n null_blk devices of ${MANY_MB} MiB, one spare device"
	for i in $(seq 0 $((n - 1))); do
		nullb_create "m$i" "$MANY_MB" 512
	done
	nullb_create manysp "$(mb_for $((n * sl)))" 512
	say "many: restore $n spare areas"
	t0=$(now_us)
	for i in $(seq 0 $((n - 1))); do
		"$TOOL" restore -i "$dump" -s $((i * sl)) /dev/manysp >>"$RAW/restore.log" 2>&1
	done
	t1=$(now_us)
	kv many.tsv restore_us_total $((t1 - t0))
	local msect=$((MANY_MB * 2048))
	spec="" lspec="" names="" lnames="" files=""
	for i in $(seq 0 $((n - 1))); do
		spec+="${spec:+;}mr$i,,,rw,0 $msect remap /dev/m$i /dev/manysp $((i * sl)) $sl"
		lspec+="${lspec:+;}ml$i,,,rw,0 $msect linear /dev/m$i 0"
		names+=" mr$i"
		lnames+=" ml$i"
		files+="${files:+:}/dev/mapper/mr$i"
	done
	kv many.tsv n "$n"
	kv many.tsv remaps_per_device "$(awk '$1 == "map"' "$dump" | wc -l)"
	local kind s names_k
	for kind in linear remap; do
		if [ $kind = linear ]; then s=$lspec names_k=$lnames; else s=$spec names_k=$names; fi
		say "many: create $n $kind devices (one dmsetup create --concise)"
		meminfo_snap /tmp/many-0
		slab_snap /tmp/slab-0
		probes_clear
		t0=$(now_us)
		dmsetup create --concise "$s"
		t1=$(now_us)
		kv many.tsv "${kind}_create" "$((t1 - t0)) $(probe_us ioctl | cut -d' ' -f1) $(probe_us ctr | cut -d' ' -f1)"
		meminfo_snap /tmp/many-1
		slab_snap /tmp/slab-1
		kv many.tsv "${kind}_mem_create" "$(meminfo_delta /tmp/many-0 /tmp/many-1)"
		kv many.tsv "${kind}_slab_create" "$(slab_top /tmp/slab-0 /tmp/slab-1)"
		if [ $kind = remap ]; then
			say "many: short fio over all $n devices"
			{
				fio_global "${MANY_MB}M"
				fio_job many "$files" randread "$MANY_RT" file_service_type=roundrobin
			} >/tmp/many.fio
			run_fio /tmp/many.fio "$RAW/many-fio.json"
			dmsetup status >"$RAW/many-status.txt"
		fi
		# shellcheck disable=SC2086
		kv many.tsv "${kind}_remove" "$(timed_remove $names_k)"
		meminfo_snap /tmp/many-3
		slab_snap /tmp/slab-3
		kv many.tsv "${kind}_mem_after_remove" "$(meminfo_delta /tmp/many-0 /tmp/many-3)"
		kv many.tsv "${kind}_slab_after_remove" "$(slab_top /tmp/slab-0 /tmp/slab-3)"
	done
	# Leak check: a second create/remove cycle must not leave more behind.
	say "many: second create/remove cycle of the $n remap devices"
	dmsetup create --concise "$spec"
	# shellcheck disable=SC2086
	kv many.tsv remap_remove2 "$(timed_remove $names)"
	meminfo_snap /tmp/many-5
	slab_snap /tmp/slab-5
	kv many.tsv remap_mem_cycle2 "$(meminfo_delta /tmp/many-3 /tmp/many-5)"
	kv many.tsv remap_slab_cycle2 "$(slab_top /tmp/slab-3 /tmp/slab-5)"
}

say "start: parts [$PARTS], kernel $(uname -r), $(nproc) CPU(s)"
bench_load_module
nullb_setup
nullb_create main0 "$MAIN_MB" 512
MAIN_SECTORS=$(sectors /dev/main0)
dmsetup version >/dev/null # warm the 9p page cache for dmsetup
probes_setup
PREFILLED=0
kv env.tsv kernel "$(uname -r)"
kv env.tsv fio "$(fio --version)"
kv env.tsv nproc "$(nproc)"
kv env.tsv icount "$DMR_VM_ICOUNT"
for p in $PARTS; do
	case $p in
	matrix) part_matrix ;;
	churn) part_churn ;;
	many) part_many ;;
	*) say "unknown part $p" ;;
	esac
done
probes_teardown
dmesg | grep -E 'remap|device-mapper' | tail -n 50 >"$RAW/dmesg-tail.txt" || true
say "done"
echo ok >"$RAW/done"
