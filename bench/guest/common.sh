# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the benchmark guest scripts (run inside the VM by
# tests/vm/run-vm): parameters, devices, fio helpers, timing.
#
# Usage from a guest script: . bench/guest/common.sh <run-dir> <part>
# <run-dir> (prepared by bench/run-bench) holds params.sh, bin/ (the
# module and tool snapshot) and dumps/; results go to <run-dir>/<part>/.
. tests/vm/lib.sh

RUN=$1
PART=$2
RAW=$RUN/$PART
mkdir -p "$RAW"
# shellcheck source=/dev/null
. "$RUN/params.sh"
BIN=$RUN/bin
TOOL=$BIN/dm-remap-tool
TRACING=/sys/kernel/tracing
export HOME=/tmp

say() {
	echo "BENCH: [$PART] $*"
	echo "$(date +%T) $*" >>"$RAW/progress.log"
}

# Microseconds of guest time, without spawning a process. Under icount,
# guest time advances 1 ns per instruction (plus jumps while idle).
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# kv FILE KEY VALUE: append one result line.
kv() { printf '%s\t%s\n' "$2" "$3" >>"$RAW/$1"; }

bench_load_module() {
	modprobe -a dm_mod dm_bufio libcrc32c
	grep -q '^dm_remap ' /proc/modules || insmod "$BIN/dm-remap.ko"
}

# meminfo_snap FILE: the kernel memory counters we difference.
meminfo_snap() {
	{
		awk '/^(MemFree|Slab|SReclaimable|SUnreclaim|VmallocUsed|Percpu|KernelStack|PageTables):/ \
			{ print $1, $2 }' /proc/meminfo | tr -d :
		# dm-bufio's cache (metadata blocks read at load): not in the above.
		awk '{ printf "Bufio %d\n", $1 / 1024 }' \
			/sys/module/dm_bufio/parameters/current_allocated_bytes 2>/dev/null
	} >"$1"
}

# meminfo_delta BEFORE AFTER: "key=delta_kB ..." for every counter.
meminfo_delta() {
	awk 'NR == FNR { a[$1] = $2; next } { printf "%s%s=%d", sep, $1, $2 - a[$1]; sep = " " }
		END { print "" }' "$1" "$2"
}

# spare_len_of DUMP: the spare_len line of a generated dump.
spare_len_of() { awk '$1 == "spare_len" { print $2; exit }' "$1"; }

# Size in MiB of a null_blk device holding SECTORS.
mb_for() { echo $((($1 * 512 + 1048575) / 1048576)); }

# kprobes (tracefs) on the remap constructor and destructor and on the DM
# control ioctl: kernel-side times that exclude starting dmsetup, which
# under icount also includes jumps of the guest clock while the guest waits
# for the 9p share. Optional: a symbol may be renamed or inlined.
PROBES=""
probes_setup() {
	local ev fn
	[ -w "$TRACING/kprobe_events" ] || return 0
	for ev in ctr:remap_ctr dtr:remap_dtr ioctl:dm_ctl_ioctl; do
		fn=${ev#*:}
		ev=${ev%%:*}
		if echo "p:bench/${ev}_in $fn" >>"$TRACING/kprobe_events" 2>/dev/null &&
			echo "r:bench/${ev}_out $fn" >>"$TRACING/kprobe_events" 2>/dev/null; then
			PROBES+=" $ev"
		else
			say "no kprobe on $fn: its times are not measured"
		fi
	done
	[ -z "$PROBES" ] || echo 1 >"$TRACING/events/bench/enable"
	echo 16384 >"$TRACING/buffer_size_kb"
}

probes_clear() { [ -z "$PROBES" ] || echo >"$TRACING/trace"; }

# probe_us EVENT: total microseconds between EVENT_in and EVENT_out pairs in
# the trace buffer, and their count: "<us> <n>" (or "NA 0").
probe_us() {
	case " $PROBES " in *" $1 "*) ;; *) echo "NA 0"; return ;; esac
	awk -v ev="$1" '
	function ts(   i) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) return substr($i, 1, length($i) - 1) }
	$0 ~ (" " ev "_in:") { s = ts() }
	$0 ~ (" " ev "_out:") && s != "" { tot += ts() - s; n++; s = "" }
	END { if (n) printf "%d %d\n", tot * 1e6 + 0.5, n; else print "NA 0" }' "$TRACING/trace"
}

probes_teardown() {
	[ -n "$PROBES" ] || return 0
	echo 0 >"$TRACING/events/bench/enable"
	echo >"$TRACING/kprobe_events"
	PROBES=""
}

# timed_create NAME TABLE [split]: dmsetup create; appends to tables.tsv
# name, total create time (us, guest), constructor time (us), memory delta,
# and with "split" (three dmsetup calls: create --notable, load, resume)
# the time of each phase.
timed_create() {
	local name=$1 table=$2 split=${3:-} t0 t1 t2 t3 phases=""
	meminfo_snap /tmp/mem-before
	probes_clear
	t0=$(now_us)
	if [ -n "$split" ]; then
		dmsetup create "$name" --notable
		t1=$(now_us)
		dmsetup load "$name" --table "$table"
		t2=$(now_us)
		dmsetup resume "$name"
		t3=$(now_us)
		phases="create=$((t1 - t0)) load=$((t2 - t1)) resume=$((t3 - t2))"
	else
		dmsetup create "$name" --table "$table"
		t3=$(now_us)
	fi
	local ctr ioctl
	ctr=$(probe_us ctr)
	ioctl=$(probe_us ioctl)
	meminfo_snap /tmp/mem-after
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" $((t3 - t0)) "${ctr% *}" \
		"$(meminfo_delta /tmp/mem-before /tmp/mem-after)" "${ioctl% *}" "$phases" \
		>>"$RAW/tables.tsv"
}

# timed_remove NAME...: dmsetup remove; prints "<total us> <ioctl us> <dtr us>".
timed_remove() {
	local t0 t1
	probes_clear
	t0=$(now_us)
	dmsetup remove "$@"
	t1=$(now_us)
	echo "$((t1 - t0)) $(probe_us ioctl | cut -d' ' -f1) $(probe_us dtr | cut -d' ' -f1)"
}

# restore_dump DUMP DEV [restore options]: timed, into restore.tsv.
restore_dump() {
	local dump=$1 dev=$2 t0 t1
	shift 2
	t0=$(now_us)
	"$TOOL" restore -i "$dump" "$@" "$dev" >>"$RAW/restore.log" 2>&1
	t1=$(now_us)
	printf '%s\t%s\t%s\n' "$(basename "$dump")" "$dev" $((t1 - t0)) >>"$RAW/restore.tsv"
}

# prefill DEV SIZE: write the I/O region once, so that every later read or
# write finds null_blk pages already allocated (equal cost for all devices).
prefill() {
	fio --eta=never --name=prefill --filename="$1" --rw=write --bs=1M --size="$2" \
		--ioengine=libaio --direct=1 --iodepth=4 >/dev/null
}

# fio_job NAME DEV WORKLOAD RUNTIME [extra option lines...]: a job section.
fio_job() {
	local name=$1 dev=$2 wl=$3 rt
	rt=$(awk -v s="$4" 'BEGIN { printf "%d", s * 1000 + 0.5 }')
	shift 4
	printf '[%s]\nfilename=%s\nruntime=%sms\nstonewall\n' "$name" "$dev" "$rt"
	case $wl in
	randread) printf 'rw=randread\nbs=4k\niodepth=32\n' ;;
	randwrite) printf 'rw=randwrite\nbs=4k\niodepth=32\n' ;;
	randrw) printf 'rw=randrw\nrwmixread=70\nbs=4k\niodepth=32\n' ;;
	seqread) printf 'rw=read\nbs=1M\niodepth=32\n' ;;
	*) echo "unknown workload $wl" >&2; return 1 ;;
	esac
	local o
	for o in "$@"; do printf '%s\n' "$o"; done
	echo
}

fio_global() {
	printf '[global]\nioengine=libaio\ndirect=1\ntime_based=1\nsize=%s\n' "$1"
	printf 'offset=0\n\n'
}

# run_fio JOBFILE OUT.json
run_fio() {
	cp "$1" "${2%.json}.fio"
	fio --eta=never --output-format=json --output="$2" "$1"
}
