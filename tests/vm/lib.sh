# SPDX-License-Identifier: GPL-2.0-only
# Sourced by guest test scripts (run inside the VM by run-vm): devices,
# module loading and assertions shared by every VM test.
set -euo pipefail
export DM_DISABLE_UDEV=1
TOP=${DMR_CHECKOUT:-$(pwd)}
OUT=${DMR_OUT:-/tmp}
IOTEST=$TOP/build/bin/dmr-iotest
FAILS=0
CHECKS=0

log() { echo "[$(date +%T)] $*"; }

# ok CONDITION-DESCRIPTION: record a passed check; fail: record and continue.
ok() {
	CHECKS=$((CHECKS + 1))
	echo "ok: $*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL: $*"
}

# check DESC CMD...: run CMD, record pass/fail.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# expect_fail DESC CMD...: CMD must fail.
expect_fail() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$desc (unexpectedly succeeded)"; else ok "$desc"; fi
}

finish() {
	echo "guest checks: $CHECKS run, $FAILS failed"
	[ "$FAILS" = 0 ]
}

load_module() {
	modprobe -a dm_mod dm_bufio libcrc32c
	if ! grep -q '^dm_remap ' /proc/modules; then
		insmod "$TOP/dm-remap.ko" "$@"
	fi
}

unload_module() {
	rmmod dm_remap
}

nullb_setup() {
	modprobe null_blk nr_devices=0
	modprobe configfs 2>/dev/null || true
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
}

# nullb_create NAME SIZE_MB [BLOCKSIZE] [extra attr=value...]: memory-backed
# null_blk device /dev/NAME.
nullb_create() {
	local name=$1 size=$2 bs=${3:-512} d
	shift 3 || shift $#
	d=/sys/kernel/config/nullb/$name
	mkdir "$d"
	echo "$size" >"$d/size"
	echo 1 >"$d/memory_backed"
	echo "$bs" >"$d/blocksize"
	echo 0 >"$d/irqmode"
	local kv
	for kv in "$@"; do
		echo "${kv#*=}" >"$d/${kv%%=*}"
	done
	echo 1 >"$d/power"
	[ -b "/dev/$name" ] || { echo "no /dev/$name" >&2; return 1; }
}

nullb_remove() {
	local d=/sys/kernel/config/nullb/$1
	echo 0 >"$d/power"
	rmdir "$d"
}

# loop_create FILE SIZE_MB: prints the loop device.
loop_create() {
	modprobe loop
	truncate -s "$2M" "$1"
	losetup --show -f "$1"
}

sectors() { blockdev --getsz "$1"; }

# remap_create NAME LEN MAIN SPARE SPARE_START SPARE_LEN [features...]
remap_create() {
	local name=$1 len=$2
	shift 2
	dmsetup create "$name" --table "0 $len remap $*"
}

# remap_r0 MAIN_MB SPARE_MB [FEATURES...]: null_blk main0 and spare0 (512 B
# sectors) and remap device r0 over all of both, 4 KiB blocks; sets BS, BSS,
# ML, SL, TABLE (without the features) and DEV.
remap_r0() {
	nullb_create main0 "$1" 512
	nullb_create spare0 "$2" 512
	shift 2
	BS=4096 BSS=8
	ML=$(sectors /dev/main0) SL=$(sectors /dev/spare0)
	TABLE="0 $ML remap /dev/main0 /dev/spare0 0 $SL"
	dmsetup create r0 --table "$TABLE${*:+ $*}"
	DEV=/dev/mapper/r0
}

devno() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }

dmesg_has() { dmesg | grep -q -- "$1"; }

# fio_verify DEV SIZE [extra fio args]: write then verify with crc32c.
fio_verify() {
	local dev=$1 size=$2 lbs
	shift 2
	lbs=$(blockdev --getss "$dev")
	fio --name=verify --filename="$dev" --size="$size" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange="$lbs-64k" --blockalign="$lbs" \
		--iodepth=8 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 \
		"$@" >"$OUT/fio-verify.log" 2>&1
}

# --- remap/persist helpers ---
# dmr-remaptest: target messages via the dm ioctl, remap-set model, list
# paging, query/list/spare checks, geometry formula, restore dumps.
RT=$TOP/build/bin/dmr-remaptest
DMR_TOOL=$TOP/tools/dm-remap-tool

# tool_says OUTPUT REGEX...: every REGEX matches a line of OUTPUT.
tool_says() {
	local out=$1 re
	shift
	for re in "$@"; do grep -q -- "$re" <<<"$out" || return 1; done
}

# check_tool_records DEV MAPPED BAD PENDING [WHAT]: `dm-remap-tool check` of
# the spare area at the start of DEV passes, says clean and counts exactly
# those records.
check_tool_records() {
	local out want="records: $2 mapped, $3 bad, $4 pending"
	if out=$("$DMR_TOOL" check "$1" 2>&1); then
		log "$(grep -E '^(records|result):' <<<"$out" | tr '\n' ' ')"
		check "${5:+$5: }dm-remap-tool check: $2 mapped, $3 bad, $4 pending, clean" \
			tool_says "$out" "^$want " "^result: clean"
	else
		fail "${5:+$5: }dm-remap-tool check: $out"
	fi
}

# status_field NAME KEY: the value of KEY=... in `dmsetup status NAME`.
status_field() {
	dmsetup status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# kv_field KEY TEXT: the value of KEY=... in TEXT (space-separated pairs).
kv_field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1
}

# dmesg_mark, then dmesg_new: the kernel log lines since the mark (the log
# is never cleared, so run-vm still sees every report).
dmesg_mark() { DMESG_MARK=$(dmesg | wc -l); }
dmesg_new() { dmesg | tail -n +$((${DMESG_MARK:-0} + 1)); }

# geometry_of BS_BYTES MAIN_SECTORS SPARE_START SPARE_LEN: sets GEO_NR_SLOTS,
# GEO_MD_SECTORS, GEO_DATA_START and GEO_NR_BLOCKS (docs/metadata-format.md).
geometry_of() {
	local kv
	for kv in $("$RT" geometry "$@"); do
		eval "GEO_$(printf '%s' "${kv%%=*}" | tr a-z A-Z)=${kv#*=}"
	done
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# spare_sum DEV START SECTORS: md5 of a sector range (to prove "unchanged").
spare_sum() {
	dd if="$1" bs=64k iflag=direct,skip_bytes,count_bytes skip=$(($2 * 512)) \
		count=$(($3 * 512)) status=none | md5sum | cut -d' ' -f1
}

# --- error injection helpers ---
# Device errors on purpose (null_blk bad blocks, dm-flakey, scsi_debug), the
# target's remap/pending list, and model checks that expect EIO on exactly a
# given set of blocks.
NULLB_CFG=/sys/kernel/config/nullb

# nullb_bad NAME +|- FIRST LAST: mark (+) or clear (-) sectors FIRST..LAST of
# null_blk NAME bad (reads and writes touching them fail with EIO). Linux
# 6.1's badblocks_set() stores the pieces of a range longer than 512 sectors
# in reverse order, after which lookups miss parts of the table (bad sectors
# silently work), so ranges go in as ascending pieces of at most 512 sectors
# and the table is checked to be sorted and disjoint afterwards.
nullb_bad() {
	local name=$1 op=$2 s=$3 last=$4 e
	while [ "$s" -le "$last" ]; do
		e=$((s + 511))
		[ "$e" -le "$last" ] || e=$last
		echo "$op$s-$e" >"$NULLB_CFG/$name/badblocks" || return 1
		s=$((e + 1))
	done
	awk 'NR > 1 && $1 < end { bad = 1 } { end = $1 + $2 } END { exit bad }' \
		"$NULLB_CFG/$name/badblocks" || {
		echo "nullb_bad: $name: bad block table out of order" >&2
		return 1
	}
}

# nullb_bad_blocks NAME BLOCK_SECTORS: the distinct blocks (of BLOCK_SECTORS
# sectors) that touch a bad sector of null_blk NAME, one a line, ascending.
nullb_bad_blocks() {
	awk -v bs="$2" '{ for (b = int($1 / bs); b <= int(($1 + $2 - 1) / bs); b++) print b }' \
		"$NULLB_CFG/$1/badblocks" | sort -n -u
}

# blocks_of FIRST_SECTOR LAST_SECTOR BLOCK_SECTORS: the blocks touching the
# sector range, one a line.
blocks_of() { seq $(($1 / $3)) $(($2 / $3)); }

# set_minus A B: the lines of file A whose first word is not in file B.
set_minus() { awk 'NR == FNR { x[$1]; next } !($1 in x)' "$2" "$1"; }

# blk_read DEV BLOCK [BS]: read one block with O_DIRECT; fails on EIO.
blk_read() {
	dd if="$1" of=/dev/null bs="${3:-4096}" skip="$2" count=1 iflag=direct \
		status=none 2>/dev/null
}

# blk_write DEV BLOCK SRC [BS] [SRC_BLOCK]: write one block from file SRC.
blk_write() {
	dd if="$3" of="$1" bs="${4:-4096}" seek="$2" skip="${5:-$2}" count=1 \
		oflag=direct conv=notrunc status=none 2>/dev/null
}

# dmr_list_all NAME: every entry of the target's list, paged: "BLOCK SLOT"
# for a remapped block, "BLOCK pending" for an unreadable one.
dmr_list_all() {
	awk -v name="$1" 'BEGIN {
		from = 0
		for (;;) {
			cmd = "dmsetup message " name " 0 list " from " 4096"
			n = 0
			while ((cmd | getline line) > 0) {
				if (n++ == 0) {
					nxt = line
					sub(/.* next=/, "", nxt)
					continue
				}
				split(line, f, " ")
				print f[2], f[3]
			}
			close(cmd)
			if (n == 0)
				exit 1
			if (nxt == "none")
				break
			from = nxt
		}
	}'
}

# dmr_remapped NAME / dmr_pending NAME: the remapped / pending blocks.
dmr_remapped() { dmr_list_all "$1" | awk '$2 != "pending" { print $1 }'; }
dmr_pending() { dmr_list_all "$1" | awk '$2 == "pending" { print $1 }'; }

# dmr_query NAME BLOCK [BS_SECTORS]: "main", "pending", "remapped" or
# "migrating" for the block.
dmr_query() {
	dmsetup message "$1" 0 query $(($2 * ${3:-8})) | awk '{ print $3 }'
}

# dmr_query_many NAME BS_SECTORS: for each block number on stdin, print
# "BLOCK STATE" (main, pending, remapped or migrating), one message process.
dmr_query_many() {
	awk -v bs="$2" '{ print "query", $1 * bs }' | "$RT" batch "$1" |
		awk '$1 == "ok" { sub("block=", "", $3); print $3, $4; next } { print "? error" }'
}

# dmr_status NAME: parse `dmsetup status NAME` into the associative array
# ST (ST[remaps], ST[health], ...; ST[line] is the whole line), one process.
declare -gA ST
dmr_status() {
	local w
	ST=()
	ST[line]=$(dmsetup status "$1") || return 1
	for w in ${ST[line]}; do
		[[ $w == *=* ]] && ST[${w%%=*}]=${w#*=}
	done
	return 0
}

# wait_status NAME FIELD MIN [PID]: wait for I/O progress, until the
# counter FIELD of NAME's status reaches MIN; fails if PID (the workload)
# ends first or after 600 s. The poll interval only bounds the wait.
wait_status() {
	local end=$((SECONDS + 600))
	while dmr_status "$1"; do
		[ "${ST[$2]}" -lt "$3" ] || return 0
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || return 1
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
	return 1
}

# dm_events NAME: the device's dm event counter.
dm_events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }

# dmr_image check DEV MODEL BS EIO_FILE [FIRST NBLOCKS]: the blocks (of BS
#   bytes) of DEV, or of blocks FIRST..FIRST+NBLOCKS-1, read with O_DIRECT,
#   equal MODEL, except that exactly the blocks listed in EIO_FILE ("-" for
#   none) fail with EIO. Prints a summary and the first problems; exit 1 on
#   any mismatch, unexpected EIO or unexpectedly readable block.
# dmr_image absorb DEV MODEL BS FIRST NBLOCKS: copy those blocks of DEV into
#   MODEL, leaving blocks that fail with EIO alone (prints how many).
# dmr_image pattern FILE BS TAG BLOCK...: write one BS-sized block per BLOCK
#   into FILE at that block, content derived from TAG and the block number.
# dmr_image put DEV MODEL BS BLOCK...: write those blocks of MODEL to DEV
#   (O_DIRECT, one write each); prints the ones that failed, exit 1 if any.
dmr_image() {
	python3 -I -S - "$@" <<'PY'
import errno, mmap, os, sys, hashlib, time
t0 = time.time()

def pattern(tag, b, bs):
    seed = hashlib.sha256(('%s/%d' % (tag, b)).encode()).digest()
    return (seed * (bs // len(seed) + 1))[:bs]

cmd = sys.argv[1]
if cmd == 'pattern':
    path, bs, tag = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for b in map(int, sys.argv[5:]):
        os.pwrite(fd, pattern(tag, b, bs), b * bs)
    os.close(fd)
    sys.exit(0)

dev, model, bs = sys.argv[2], sys.argv[3], int(sys.argv[4])
if cmd == 'put':
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    mfd = os.open(model, os.O_RDONLY)
    one = mmap.mmap(-1, bs)
    bad = []
    for b in map(int, sys.argv[5:]):
        one[:] = os.pread(mfd, bs, b * bs)
        try:
            if os.pwritev(fd, [one], b * bs) != bs:
                bad.append(b)
        except OSError:
            bad.append(b)
    print('wrote %d blocks, %d failed%s (%.1f s)' % (
        len(sys.argv) - 5, len(bad),
        (': ' + ' '.join(map(str, bad[:10]))) if bad else '', time.time() - t0))
    sys.exit(1 if bad else 0)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
size = os.lseek(fd, 0, os.SEEK_END)
nblocks = size // bs
if cmd == 'check':
    eio_file = sys.argv[5]
    rest = sys.argv[6:]
else:
    eio_file = '-'
    rest = sys.argv[5:]
first, count = (int(rest[0]), int(rest[1])) if rest else (0, nblocks)
expect = set()
if eio_file != '-':
    with open(eio_file) as f:
        expect = {int(l.split()[0]) for l in f if l.strip()}
chunk = 256
buf = mmap.mmap(-1, chunk * bs)
one = mmap.mmap(-1, bs)
mfd = os.open(model, os.O_RDWR)

def read_blocks(b, n):
    """Yield (block, bytes or None on EIO)."""
    try:
        got = os.preadv(fd, [memoryview(buf)[:n * bs]], b * bs)
        if got != n * bs:
            raise OSError(errno.EIO, 'short read')
        data = bytes(buf[:n * bs])
        for i in range(n):
            yield b + i, data[i * bs:(i + 1) * bs]
        return
    except OSError as e:
        if e.errno != errno.EIO:
            raise
    for i in range(n):
        try:
            got = os.preadv(fd, [one], (b + i) * bs)
            yield b + i, bytes(one[:]) if got == bs else None
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            yield b + i, None

eio, mism, unexp_eio, unexp_ok = [], [], [], []
b = first
end = first + count
while b < end:
    n = min(chunk, end - b)
    for blk, data in read_blocks(b, n):
        if cmd == 'absorb':
            if data is None:
                eio.append(blk)
            else:
                os.pwrite(mfd, data, blk * bs)
            continue
        if data is None:
            eio.append(blk)
            if blk not in expect:
                unexp_eio.append(blk)
        elif blk in expect:
            unexp_ok.append(blk)
        elif os.pread(mfd, bs, blk * bs) != data:
            mism.append(blk)
    b += n
if cmd == 'absorb':
    print('absorbed %d blocks, %d unreadable (%.1f s)' % (count - len(eio), len(eio),
                                                      time.time() - t0))
    sys.exit(0)
want = len([x for x in expect if first <= x < end])
print('checked %d blocks: %d EIO (expected %d), %d mismatched, %d unexpected EIO, '
      '%d unexpectedly readable (%.1f s)' % (count, len(eio), want, len(mism),
                                             len(unexp_eio), len(unexp_ok),
                                             time.time() - t0))
for what, l in (('mismatch', mism), ('unexpected EIO', unexp_eio),
                ('readable', unexp_ok)):
    if l:
        print('  %s at blocks %s' % (what, ' '.join(map(str, l[:10]))))
sys.exit(1 if mism or unexp_eio or unexp_ok else 0)
PY
}

# fio_json FILE EXPR: evaluate the Python expression EXPR over the fio JSON
# output in FILE (bound to j; jobs = j['jobs']); prints the result.
fio_json() {
	python3 -I -S - "$@" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{'):])
jobs = j['jobs']
print(eval(sys.argv[2]))
PY
}

# --- debug lane (make check-debug, tests/vm/debug-case.sh) ---
# DMR_DEBUG_KERNEL=1 on the KASAN/lockdep/kmemleak kernel, where the guest
# runs some 6-8 times slower; DMR_SCALE is then a divisor for sizes, rates
# and loop counts that bound a case's run time, never for its scenario
# (faults go in at points fixed by I/O progress or the case's sequence).
# scaled N: N / DMR_SCALE (at least MIN, default 1), logged whenever it
# changes N, so a smaller run is never silent.
DMR_SCALE=${DMR_SCALE:-1}
scaled() {
	local n=$1 min=${2:-1} r
	r=$((n / DMR_SCALE))
	[ "$r" -ge "$min" ] || r=$min
	[ "$r" = "$n" ] || echo "scaled: $n -> $r (DMR_SCALE=$DMR_SCALE, debug kernel)" >&2
	echo "$r"
}

# flakey_table DEV SECTORS SPEC...: a dm table over DEV (SECTORS long) that
# is linear except for dm-flakey segments SPEC = FIRST:LEN:UP:DOWN[:FEATURE]
# (sectors, ascending, disjoint). Linux 6.1's dm-flakey: with no feature all
# I/O fails while down; error_writes fails only writes (reads pass).
flakey_table() {
	local dev=$1 total=$2 pos=0 spec first len up down feat
	shift 2
	for spec in "$@"; do
		IFS=: read -r first len up down feat <<<"$spec"
		if [ "$first" -gt "$pos" ]; then
			echo "$pos $((first - pos)) linear $dev $pos"
		fi
		echo "$first $len flakey $dev $first $up $down${feat:+ 1 $feat}"
		pos=$((first + len))
	done
	if [ "$pos" -lt "$total" ]; then
		echo "$pos $((total - pos)) linear $dev $pos"
	fi
}

# dm_switch NAME TABLE: replace NAME's live table (reload, suspend, resume).
dm_switch() {
	printf '%s\n' "$2" | dmsetup reload "$1" && dmsetup suspend "$1" &&
		dmsetup resume "$1"
}

# scsi_debug_disk: the /dev/sdX of the (single) scsi_debug disk, once it
# has appeared.
scsi_debug_disk() {
	local i d
	for i in $(seq 100); do
		for d in /sys/block/sd*; do
			[ -e "$d/device/model" ] || continue
			if grep -q scsi_debug "$d/device/model" && [ -b "/dev/${d##*/}" ]; then
				echo "/dev/${d##*/}"
				return 0
			fi
		done
		sleep 0.1
	done
	return 1
}

# scsi_debug_medium START COUNT: reads of sectors START..START+COUNT-1 of the
# scsi_debug disk fail with MEDIUM ERROR (COUNT 0: none fail).
scsi_debug_medium() {
	local p=/sys/module/scsi_debug/parameters
	echo "$1" >$p/medium_error_start
	echo "$2" >$p/medium_error_count
	if [ "$2" -gt 0 ]; then echo 2 >$p/opts; else echo 0 >$p/opts; fi
}
