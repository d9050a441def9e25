# SPDX-License-Identifier: GPL-2.0-only
# A failing device is not a bad block. Main is dm-linear over null_blk; an
# outage swaps the `error` target in under fio randrw QD8 and a model
# writer, for 3 s and for 30 s, then swaps linear back. Asserts: no remap
# and no pending block, health main_unavailable during the outage and ok
# after (kernel log lines and dm events), every write the writer saw
# succeed reads back and every failed one was reported failed; then media
# errors planted during an outage are still remapped (write) or pending
# (read) right after it; a pending block that reads again leaves the list
# (persisted). A main that reads but fails every write (dm-flakey
# error_writes) for 10 s answers the probes: the burst of failing blocks
# (outage_blocks 16 within outage_window 3000) is taken for an outage,
# fewer than 16 blocks are remapped, none pending, and probation moves
# those back once it is over. A main that stays dead remaps nothing and can
# be removed.
# vm-timeout: 720
. tests/vm/lib.sh
requires_module null_blk
requires_target flakey
requires_cmd fio python3
load_module
nullb_setup
BS=4096 BSS=8
nullb_create main0 96 512
nullb_create spare0 16 512
ML=$(sectors /dev/main0) SL=$(sectors /dev/spare0)
LINEAR="0 $ML linear /dev/main0 0"
dmsetup create mainx --table "$LINEAR"
TABLE="0 $ML remap /dev/mapper/mainx /dev/spare0 0 $SL"
dmsetup create r0 --table "$TABLE"
DEV=/dev/mapper/r0
# The writer's blocks [WA, WA + WN), a fresh (zeroed) region for each
# outage (outage sets WA); fio's region is [FA, FA + FN).
WN=2000 FA=4096 FN=8192

# writer LOG STOP: 4 KiB O_DIRECT writes, QD1, of random blocks of the
# writer's region, each with content unique to its sequence number; logs
# "SEQ BLOCK ok|fail" once the write returned, until STOP exists.
writer() {
	python3 -I -S - "$DEV" "$WA" "$WN" "$1" "$2" <<'PY'
import mmap, os, random, sys
dev, wa, wn, log, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
rnd = random.Random(7)
with open(log, 'w', buffering=1) as out:
    seq = 0
    while not os.path.exists(stop):
        seq += 1
        b = wa + rnd.randrange(wn)
        buf[:] = (('W%08d B%08d ' % (seq, b)).encode() * 256)[:4096]
        try:
            ok = os.pwritev(fd, [buf], b * 4096) == 4096
        except OSError:
            ok = False
        out.write('%d %d %s\n' % (seq, b, 'ok' if ok else 'fail'))
PY
}

# writer_check LOG: every block of the region holds its last acknowledged
# write, or one of the failed writes since (a failed write lands old or new);
# blocks never written hold zeroes. Prints the counts; exit 1 on a mismatch.
writer_check() {
	python3 -I -S - "$DEV" "$WA" "$WN" "$1" <<'PY'
import mmap, os, sys
dev, wa, wn, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ok = {}
allowed = {}
acked = failed = 0
for line in open(log):
    seq, b, res = line.split()
    seq, b = int(seq), int(b)
    data = (('W%08d B%08d ' % (seq, b)).encode() * 256)[:4096]
    if res == 'ok':
        acked += 1
        allowed[b] = [data]
    else:
        failed += 1
        allowed.setdefault(b, [bytes(4096)]).append(data)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
bad = []
for b in range(wa, wa + wn):
    os.preadv(fd, [buf], b * 4096)
    if bytes(buf) not in allowed.get(b, [bytes(4096)]):
        bad.append(b)
print('%d acknowledged writes, %d failed; %d blocks wrong%s' % (
    acked, failed, len(bad), (': ' + ' '.join(map(str, bad[:10]))) if bad else ''))
sys.exit(1 if bad else 0)
PY
}

# ios: reads + writes the remap device has seen.
ios() { dmr_status r0 && echo $((ST[reads] + ST[writes])); }

# outage SECS WA [FAULT]: fio randrw QD8 and the writer (on blocks from
# WA) run; once I/O flows, main is FAULT (a table; default the error
# target) for SECS (the outage the scenario is about), then linear again;
# fio and the writer stop once I/O has flowed again after it.
outage() {
	local secs=$1 fault=${3:-0 $ML error} t0 t1 t2 t3 i0 i1 i2 i3 ev0 w0
	WA=$2
	rm -f /tmp/stop
	fio --name=o --filename=$DEV --direct=1 --ioengine=libaio --rw=randrw \
		--bs=4k --iodepth=8 --offset=$((FA * BS)) --size=$((FN * BS)) \
		--time_based --runtime=3600 --continue_on_error=all \
		--output-format=json --output=/tmp/fio-$secs.json \
		>/tmp/fio-$secs.err 2>&1 &
	local fpid=$!
	writer /tmp/writer-$secs.log /tmp/stop &
	local wpid=$!
	w0=$(status_field r0 writes)
	wait_status r0 writes $((w0 + 400)) $fpid || fail "$secs s: I/O did not start"
	t0=$(now_ms) i0=$(ios)
	wait_status r0 writes $((w0 + 1200)) $fpid || fail "$secs s: I/O stopped"
	dmesg_mark
	ev0=$(dm_events r0)
	t1=$(now_ms) i1=$(ios)
	check "$secs s: main becomes: $fault" dm_switch mainx "$fault"
	check "$secs s: health main_unavailable" wait_until 60 status_is r0 health main_unavailable
	sleep "$secs"
	# Bad sectors appear during the outage (blocks 300 and 301): found
	# right after it, they are media errors again.
	if [ "$secs" = 3 ]; then
		nullb_bad main0 + $((300 * BSS + 3)) $((300 * BSS + 3))
		nullb_bad main0 + $((301 * BSS + 5)) $((301 * BSS + 5))
	fi
	t2=$(now_ms) i2=$(ios)
	check "$secs s: main is linear again" dm_switch mainx "$LINEAR"
	if [ "$secs" = 3 ]; then
		dmr_image pattern /tmp/m300 $BS after 300
		check "3 s: right after: a full write of bad block 300 succeeds" \
			dmr_image put $DEV /tmp/m300 $BS 300
		expect_fail "3 s: right after: a read of bad block 301 fails" \
			dd if=$DEV of=/dev/null bs=$BS skip=301 count=1 iflag=direct status=none
	fi
	check "$secs s: health leaves main_unavailable" wait_until 60 eval '! status_is r0 health main_unavailable'
	w0=$(status_field r0 writes)
	wait_status r0 writes $((w0 + 400)) $fpid || fail "$secs s: I/O did not resume"
	t3=$(now_ms) i3=$(ios)
	touch /tmp/stop
	kill -INT $fpid
	wait $fpid || true
	wait $wpid || true
	log "$secs s outage: IOPS before $(((i1 - i0) * 1000 / (t1 - t0)))," \
		"during $(((i2 - i1) * 1000 / (t2 - t1))), after $(((i3 - i2) * 1000 / (t3 - t2)))"
	log "status: $(dmsetup status r0)"
	log "stats: $(dmsetup message r0 0 stats)"
	check "$secs s: the writer's acknowledged writes read back" writer_check /tmp/writer-$secs.log
	check "$secs s: the writer saw failed writes (the outage reached it)" \
		grep -q ' fail$' /tmp/writer-$secs.log
	check "$secs s: fio saw the errors (total_err > 0)" python3 -c "
import json, sys; s = open('/tmp/fio-$secs.json').read()
j = json.loads(s[s.index('{'):])
sys.exit(not sum(x['total_err'] for x in j['jobs']))"
	dmesg_new >/tmp/dmesg-$secs
	check "$secs s: kernel log: health -> main_unavailable" \
		grep -q 'health [a-z_]* -> main_unavailable' /tmp/dmesg-$secs
	check "$secs s: kernel log: main_unavailable -> back" \
		grep -q 'health main_unavailable -> ' /tmp/dmesg-$secs
	check "$secs s: dm events for both transitions ($ev0 -> $(dm_events r0))" \
		test "$(dm_events r0)" -ge $((ev0 + 2))
}
outage 3 1000
dmr_status r0
check "3 s: remaps=1 pending=1 (bad blocks 300, 301 only): ${ST[remaps]} ${ST[pending]}" \
	test "${ST[remaps]} ${ST[pending]}" = "1 1"
check "3 s: 300 remapped, 301 pending" test \
	"$(printf '%s\n' 300 301 | dmr_query_many r0 $BSS | cut -d' ' -f2 | tr '\n' ' ')" = "remapped pending "
dd if=$DEV of=/tmp/r300 bs=$BS skip=300 count=1 iflag=direct status=none
dd if=/tmp/m300 of=/tmp/w300 bs=$BS skip=300 count=1 status=none
check "3 s: block 300 reads back what was written" cmp /tmp/r300 /tmp/w300

# Pending block 301 reads whole again (the sector recovered): it leaves
# the list, persisted.
nullb_bad main0 - $((301 * BSS + 5)) $((301 * BSS + 5))
ev0=$(dm_events r0)
check "block 301 reads again" dd if=$DEV of=/dev/null bs=512 skip=$((301 * BSS)) count=1 \
	iflag=direct status=none
check "pending=0 once the worker read it whole" wait_until 60 status_is r0 pending 0
check "a dm event for it" test "$(dm_events r0)" -gt "$ev0"
check "stats: pending_readable=1" \
	test "$(kv_field pending_readable "$(dmsetup message r0 0 stats)")" = 1
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
check "after re-create: remaps=1 pending=0" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "1 0"

outage 30 13000
check "30 s: remaps=1 pending=0, as before it" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "1 0"

# Main reads but fails every write: the probes answer, the burst decides.
# Blocks remapped before it was recognised are healthy: probation moves
# them back once it is over.
dmsetup reload r0 --table "$TABLE 4 outage_blocks 16 outage_window 3000"
dmsetup resume r0
check "the table line keeps the outage features" \
	grep -q ' 4 outage_blocks 16 outage_window 3000$' <<<"$(dmsetup table r0)"
outage 10 16000 "0 $ML flakey /dev/main0 0 0 1 1 error_writes"
check "10 s writes fail: kernel log: the burst taken for an outage" \
	grep -q 'blocks of main fail faster than media defects, taken for an outage' /tmp/dmesg-10
burst=$(status_field r0 auto_remaps)
check "10 s writes fail: 1 to 15 blocks remapped before the burst was recognised ($burst)" \
	test "$burst" -ge 1 -a "$burst" -le 15
check "10 s writes fail: probation moves them back: remaps=1 pending=0" \
	wait_until 60 eval 'status_is r0 remaps 1 && status_is r0 pending 0'
check "stats: probation_reclaims=$burst" \
	test "$(kv_field probation_reclaims "$(dmsetup message r0 0 stats)")" = "$burst"
out=$(dmsetup message r0 0 reclaim $((1000 * BSS)) $((ML - 1000 * BSS)))
check "reclaim finds nothing left to move: $out" test "${out%% *}" = reclaimed=0
check "10 s writes fail: the writer's data after probation" writer_check /tmp/writer-10.log

# A main that stays dead: errors pass, nothing is remapped, remove works.
E0=$(status_field r0 errors)
check "main dies" dm_switch mainx "0 $ML error"
expect_fail "a write fails" dd if=/dev/zero of=$DEV bs=$BS seek=50 count=1 oflag=direct status=none
expect_fail "a read fails" dd if=$DEV of=/dev/null bs=$BS skip=60 count=1 iflag=direct status=none
check "health main_unavailable" wait_until 60 status_is r0 health main_unavailable
expect_fail "a second write fails" dd if=/dev/zero of=$DEV bs=$BS seek=70 count=1 oflag=direct status=none
dmr_status r0
check "dead: remaps=1 pending=0, errors counted (${ST[errors]}, were $E0)" \
	test "${ST[remaps]} ${ST[pending]}" = "1 0" -a "${ST[errors]}" != "$E0"
check "remove while main is dead" timeout 60 dmsetup remove r0
dmsetup remove mainx
check_tool_records /dev/spare0 1 0 0 "after the outages"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
