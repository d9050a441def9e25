# SPDX-License-Identifier: GPL-2.0-only
# Suspend/resume and `dmsetup reload` of the same table while remap messages
# and fio verify run: messages while suspended are refused with EBUSY and a
# 'suspended' log line, remaps made before, during and between reload and
# resume survive (list/query = model), data verified byte-exact; `dmsetup
# remove` under load (refused while open, deferred, during a long remap
# message); rmmod at the end.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio
load_module
nullb_setup
nullb_create main0 64 512
nullb_create spare0 32 512
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
TABLE="0 $L remap /dev/main0 /dev/spare0 0 $SL"
dmsetup create r0 --table "$TABLE"
dev=/dev/mapper/r0
geometry_of 4096 "$L" 0 "$SL"
B=$GEO_NR_BLOCKS
SET=/tmp/set
: >"$SET"
STOP=/tmp/stop

storm() {
	"$RT" storm r0 "$SET" bs=8 blocks="$B" slots="$GEO_NR_SLOTS" "$@" 2>&1
}

checkmap() {
	"$RT" list r0 512 >/tmp/list 2>/dev/null || true
	check "$1: list/query = model ($(wc -l <"$SET") remaps)" \
		"$RT" checkmap r0 "$SET" /tmp/list bs=8 blocks="$B" \
		data_start="$GEO_DATA_START" samples=50 qmax=200
}

# resume_or_recover WHAT: resume r0. A failed resume leaves the device
# suspended (I/O would hang): record the failure, then recover with a fresh
# load of the same table (its constructor reads the metadata from disk) and
# a resume; give up if even that fails.
resume_or_recover() {
	if dmsetup resume r0 2>/tmp/resume.err; then
		return 0
	fi
	fail "$1: resume failed: $(head -n1 /tmp/resume.err) / $(dmesg | grep 'remap:' | tail -n2 | tr '\n' ' ')"
	if dmsetup reload r0 --table "$TABLE" && dmsetup resume r0; then
		log "$1: recovered by reload + resume"
		return 0
	fi
	fail "$1: cannot recover: $(dmesg | grep 'remap:' | tail -n2 | tr '\n' ' ')"
	dmsetup remove --force r0 >/dev/null 2>&1 || true
	touch "$STOP"
	wait || true
	dmsetup remove r0 >/dev/null 2>&1 || true
	log "metadata on the spare now: $("$DMR_TOOL" check /dev/spare0 2>&1 | grep -E 'error|result' | head -n5 | tr '\n' ' ')"
	finish
	exit 1
}

# 1. Deterministic: reload, then remap on the still-live old table, then
# resume: the new table must pick up what the old one committed meanwhile.
check "fill" "$IOTEST" fill "$dev" /tmp/model 51
out=$(storm seed=1 msgs=10 maxrun=20) && ok "remaps before reload: $out" || fail "storm: $out"
dmsetup reload r0 --table "$TABLE"
out=$(storm seed=2 msgs=10 maxrun=20) && ok "remaps between reload and resume: $out" || fail "storm: $out"
g=$(status_field r0 generation)
resume_or_recover "reload, remaps on the old table, resume"
check "new table reports the same generation ($g)" test "$(status_field r0 generation)" = "$g"
checkmap "after reload+resume"
check "identical after reload+resume" "$IOTEST" verify "$dev" /tmp/model
out=$(storm seed=3 msgs=5 maxrun=20) && ok "remaps on the new table: $out" || fail "storm: $out"
check "the new table commits after the old one's generation" test "$(status_field r0 generation)" -gt "$g"

# 2. Messages while suspended: EBUSY, logged, nothing changes.
dmsetup suspend r0
before=$(dmsetup status r0)
for m in "remap 4096 8" "unremap 0 $L" "commit"; do
	dmesg_mark
	out=$("$RT" msg r0 $m || true)
	check "suspended: '$m' -> EBUSY ($out)" test "$out" = "error: EBUSY (16)"
	check "suspended: '$m' logged 'suspended'" \
		bash -c "dmesg | tail -n +$((DMESG_MARK + 1)) | grep 'device-mapper: remap:' | grep -q suspended"
done
check "dmsetup message exits non-zero while suspended" \
	bash -c "! dmsetup message r0 0 remap 4096 8 >/dev/null 2>&1"
check "query/list/ping still answer while suspended" \
	bash -c "dmsetup message r0 0 ping >/dev/null && dmsetup message r0 0 query 0 >/dev/null && dmsetup message r0 0 list >/dev/null"
check "status unchanged by the refused messages" test "$(dmsetup status r0)" = "$before"
resume_or_recover "suspend"
checkmap "after the refused messages"

# 3. Cycles under fio verify + a remap/unremap storm that retries EBUSY.
fio_loop() {
	local i=0
	while [ ! -e "$STOP" ]; do
		i=$((i + 1))
		fio --name=v --filename="$dev" --ioengine=libaio --direct=1 \
			--rw=randrw --rwmixread=40 --bsrange=512-64k --blockalign=512 \
			--iodepth=16 --size=64M --io_size=16M --randrepeat=0 \
			--verify=crc32c --verify_fatal=1 --verify_state_save=0 \
			--verify_backlog=128 >"$OUT/fio-$i.log" 2>&1 ||
			echo "fio run $i failed" >>/tmp/fio-failed
	done
	echo "$i" >/tmp/fio-runs
}
rm -f "$STOP" /tmp/fio-failed
fio_loop &
floop=$!
STORM_STOP=$STOP storm seed=4 msgs=100000 maxrun=40 unremap=30 hit=40 retry_busy=1 \
	sleep=20000 >/tmp/storm.out 2>&1 &
spid=$!
# The cycles start once fio's I/O flows (progress, not time).
wait_status r0 writes $(($(status_field r0 writes) + 200)) $floop || fail "fio did not start writing"
cycles=0
while [ $cycles -lt 6 ]; do
	dmsetup suspend r0
	sleep 0.3
	resume_or_recover "cycle $cycles suspend"
	sleep 0.5
	dmsetup reload r0 --table "$TABLE" 2>/tmp/reload.err ||
		fail "cycle $cycles: reload refused: $(cat /tmp/reload.err)"
	sleep 0.5
	resume_or_recover "cycle $cycles reload"
	sleep 0.5
	cycles=$((cycles + 1))
done
touch "$STOP"
if wait $spid; then
	ok "storm during the cycles answered as modelled: $(cat /tmp/storm.out)"
else
	fail "storm during the cycles: $(cat /tmp/storm.out)"
fi
wait $floop
ok "$cycles suspend/resume + reload/resume cycles under load"
if [ -e /tmp/fio-failed ]; then
	fail "fio verify under cycles: $(tr '\n' ' ' </tmp/fio-failed)"
	grep -h -m3 -iE "verify|crc|error" "$OUT"/fio-*.log || true
else
	ok "fio verify: $(cat /tmp/fio-runs) runs, zero errors"
fi
busy=$(kv_field busy "$(cat /tmp/storm.out)")
log "storm messages refused while suspended and retried: ${busy:-?}"
checkmap "after the cycles"

# 4. Model-based writes under the same cycles, then a byte-exact verify.
rm -f "$STOP"
check "fill" "$IOTEST" fill "$dev" /tmp/model 52
"$IOTEST" write "$dev" /tmp/model 53 800 512 262144 direct >/tmp/w.log 2>&1 &
wpid=$!
STORM_STOP=$STOP storm seed=5 msgs=100000 maxrun=40 unremap=40 hit=40 retry_busy=1 \
	sleep=20000 >/tmp/storm.out 2>&1 &
spid=$!
cycles=0
while kill -0 $wpid 2>/dev/null && [ $cycles -lt 10 ]; do
	dmsetup suspend r0
	resume_or_recover "writer cycle $cycles suspend"
	sleep 0.3
	dmsetup reload r0 --table "$TABLE" 2>/tmp/reload.err ||
		fail "writer cycle $cycles: reload refused: $(cat /tmp/reload.err)"
	resume_or_recover "writer cycle $cycles reload"
	sleep 0.3
	cycles=$((cycles + 1))
done
if wait $wpid; then ok "model writer: $(cat /tmp/w.log)"; else fail "model writer: $(cat /tmp/w.log)"; fi
touch "$STOP"
if wait $spid; then
	ok "storm during writer cycles answered as modelled: $(cat /tmp/storm.out)"
else
	fail "storm during writer cycles: $(cat /tmp/storm.out)"
fi
check "cycles ran during the writes ($cycles)" test $cycles -ge 2
check "identical after $cycles cycles with remaps" "$IOTEST" verify "$dev" /tmp/model
checkmap "after the writer cycles"
"$RT" list r0 512 >/tmp/list 2>/dev/null || true
check "spare copies hold the model's data" "$RT" sparecheck /dev/spare0 /tmp/model /tmp/list 4096
st=$(dmsetup status r0)
log "status: $st"
check "no copy/I/O errors, metadata ok" test \
	"$(kv_field copy_errors "$st") $(kv_field errors "$st") $(kv_field metadata "$st")" = "0 W0:R0 ok"

# 5. Remove under load. The shell holds r0 open (fio opens and closes
# the device while it sets up, so it cannot be the one holding it), and fio
# uses the kernel's /dev/dm-N node: without udev, dmsetup deletes the
# /dev/mapper node at once even for a deferred remove.
exec 7<"$dev"
dmn=/dev/dm-$(dmsetup info -c --noheadings -o minor r0 | tr -d ' ')
fio --name=bg --filename="$dmn" --ioengine=libaio --direct=1 --rw=randrw \
	--bs=4k --iodepth=16 --size=64M --io_size=24M --randrepeat=0 \
	--verify=crc32c --verify_fatal=1 --verify_state_save=0 --verify_backlog=64 \
	>"$OUT/fio-remove.log" 2>&1 &
fpid=$!
check "remove refused while r0 is open" bash -c "! dmsetup remove r0 >/dev/null 2>&1"
check "deferred remove accepted while open" dmsetup remove --deferred r0
if wait $fpid; then
	ok "fio verify unaffected by the deferred remove"
else
	fail "fio under deferred remove: $(grep -m3 -iE 'verify|error' "$OUT/fio-remove.log" | tr '\n' ' ')"
fi
check "r0 still there while open" dmsetup info r0
exec 7<&-
for i in $(seq 50); do dmsetup info r0 >/dev/null 2>&1 || break; sleep 0.1; done
check "device gone after the last close" bash -c "! dmsetup info r0 >/dev/null 2>&1"

# A long remap message racing with remove: one of them wins, no crash.
dmsetup create r0 --table "$TABLE"
"$RT" msg r0 remap 0 $((L / 2)) >/tmp/long.out 2>&1 &
mpid=$!
sleep 0.2
dmsetup remove --retry r0 >/tmp/remove.out 2>&1 || true
wait $mpid || true
log "long remap during remove: '$(cat /tmp/long.out)'; remove: '$(cat /tmp/remove.out)'"
dmsetup remove r0 >/dev/null 2>&1 || true
check "device gone" bash -c "! dmsetup info r0 >/dev/null 2>&1"
check "dm-remap-tool check clean after the race" "$DMR_TOOL" check -q /dev/spare0
check "rmmod dm_remap" unload_module
nullb_remove main0
nullb_remove spare0
finish
