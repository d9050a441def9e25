# SPDX-License-Identifier: GPL-2.0-only
# Remap devices: create, r0 setup, status/list/query, geometry, checks, models.
# Touches: remap devices, null_blk main0/spare0 (remap_r0), the files given.

# dmr-remaptest: target messages via the dm ioctl, remap-set model, list
# paging, query/list/spare checks, geometry formula, restore dumps.
RT=$TOP/build/bin/dmr-remaptest
DMR_TOOL=$TOP/tools/dm-remap-tool

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

# status_field NAME KEY: the value of KEY=... in `dmsetup status NAME`.
status_field() {
	dmsetup status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# status_is NAME KEY VALUE: NAME's status says KEY=VALUE (for wait_until).
status_is() { [ "$(status_field "$1" "$2")" = "$3" ]; }

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

# geometry_of BS_BYTES MAIN_SECTORS SPARE_START SPARE_LEN: sets GEO_NR_SLOTS,
# GEO_MD_SECTORS, GEO_DATA_START and GEO_NR_BLOCKS (docs/metadata-format.md).
geometry_of() {
	local kv
	for kv in $("$RT" geometry "$@"); do
		eval "GEO_$(printf '%s' "${kv%%=*}" | tr a-z A-Z)=${kv#*=}"
	done
}

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
