# SPDX-License-Identifier: GPL-2.0-only
# Scrub (patrol read): bad scrub messages are refused and change nothing; a
# pass finds the null_blk bad blocks planted where nobody reads and lists
# exactly them pending (event, log line, last pass time), while fio writes
# and verifies through the target; pause holds the position, resume goes on
# from it, stop forgets it; a reload resumes at the same position (paused:
# exactly; running: not before it); a bad block a user read finds has its
# neighbourhood scrubbed ahead of the pass; an outage of main during a pass
# lists nothing and the pass goes on after it; a crash (the spare frozen,
# then failing) resumes at the last committed position, within a chunk of
# where it was.
# vm-timeout: 900
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio
load_module
nullb_setup
M=/tmp/model
CHUNK=256	# blocks of 4 KiB per scrub read (DMR_SCRUB_CHUNK)

# scrub_pos NAME: the block the scrub reads next; scrub_past NAME N: it is
# beyond N, or the pass ended (position 0).
scrub_pos() { status_field "$1" scrub_pos | cut -d/ -f1; }
scrub_past() {
	local p
	p=$(scrub_pos "$1")
	[ "$p" -gt "$2" ] || [ "$p" = 0 ]
}

# Part 1: r0 at 16 MiB/s, 64 MiB main (16384 blocks), bad sectors planted
# in blocks nobody reads: 1000, 5000..5003 (a cluster), 9999, 16383 (last).
remap_r0 64 16 2 scrub_rate 16384
NB=$((ML / BSS))
check "fill the device (model)" "$IOTEST" fill "$DEV" "$M" 3
for b in 1000 5000 9999 16383; do
	n=1
	[ "$b" != 5000 ] || n=4
	nullb_bad main0 + $((b * BSS + 1)) $((b * BSS + n * BSS - 2))
done
printf '%s\n' 1000 5000 5001 5002 5003 9999 16383 >/tmp/planted

# Bad messages: each refused with a reason, the state and generation kept.
dmr_status r0
gen0=${ST[generation]}
for m in "scrub" "scrub go" "scrub start now" "scrub pause" "scrub resume"; do
	expect_fail "message '$m' refused" dmsetup message r0 0 $m
done
dmr_status r0
check "refused messages changed nothing" \
	test "${ST[scrub]}:${ST[scrub_pos]}:${ST[generation]}" = "idle:0/$NB:$gen0"
check "the kernel log says why ('the scrub is idle')" \
	grep -q "scrub pause: the scrub is idle" <<<"$(dmesg | tail -n 20)"

# A pass with fio writing and verifying a region without bad blocks.
ev=$(dm_events r0)
dmesg_mark
check "scrub start" dmsetup message r0 0 scrub start
check "status: scrub=running" status_is r0 scrub running
expect_fail "a second start is refused while running" dmsetup message r0 0 scrub start
fio_verify "$DEV" 16M --offset=$((11264 * BS)) &
fio_pid=$!
check "the pass ends (scrub=idle)" wait_until 300 status_is r0 scrub idle
rc=0
wait $fio_pid || rc=$?
check "fio verify beside the scrub passed" test "$rc" = 0
dmr_status r0
dmr_pending r0 | sort -n >/tmp/pending
check "exactly the planted blocks are pending" cmp /tmp/planted /tmp/pending
check "scrub_errors = 7" test "${ST[scrub_errors]}" = 7
check "scrub_last_pass set" test "${ST[scrub_last_pass]}" -gt 1600000000
check "every block not pending was read ($NB - 7)" test "${ST[scrub_read]}" -ge $((NB - 7))
check "position back to 0" test "${ST[scrub_pos]}" = "0/$NB"
check "dm events raised (pending blocks, end of pass)" test "$(dm_events r0)" -gt "$ev"
check "kernel log: pass done" grep -q "scrub pass done" <<<"$(dmesg_new)"
for b in 1000 5002 16383; do
	expect_fail "block $b reads EIO (pending)" blk_read "$DEV" $b
done
# same_as_model FIRST END: blocks [FIRST, END) of r0 equal the model.
same_as_model() {
	test "$(dd if="$DEV" bs=$BS skip="$1" count=$(($2 - $1)) iflag=direct status=none | md5sum)" = \
		"$(dd if="$M" bs=$BS skip="$1" count=$(($2 - $1)) status=none | md5sum)"
}
for r in 0:1000 1001:5000 5004:9999 10000:11264 15360:16383; do
	check "blocks ${r/:/..} (not bad, not fio's) equal the model" same_as_model ${r%:*} ${r#*:}
done

# Pause, resume, stop, at 1 MiB/s: a pass takes a minute, longer than the
# commands below on any kernel. The position is read after a commit
# message, which the worker handles after any scrub read queued before it.
TABLE1="$(dmsetup table r0 | sed 's/ 2 scrub_rate 16384$//') 2 scrub_rate 1024"
dm_switch r0 "$TABLE1"
check "reloaded at 1 MiB/s" grep -q "scrub_rate 1024$" <<<"$(dmsetup table r0)"
check "second pass: start" dmsetup message r0 0 scrub start
check "second pass: past block 2048" wait_until 120 scrub_past r0 2048
check "pause" dmsetup message r0 0 scrub pause
dmr_status r0
p1=${ST[scrub_pos]}
check "status: paused" test "${ST[scrub]}" = paused
dmsetup message r0 0 commit
dmsetup message r0 0 commit
check "paused: position held (${p1})" status_is r0 scrub_pos "$p1"
expect_fail "pause while paused is refused" dmsetup message r0 0 scrub pause
expect_fail "start while paused is refused" dmsetup message r0 0 scrub start

# Reload while paused: exactly the same position, still paused.
dm_switch r0 "$(dmsetup table r0)"
check "reload: still paused at $p1" \
	test "$(status_field r0 scrub):$(status_field r0 scrub_pos)" = "paused:$p1"
check "resume" dmsetup message r0 0 scrub resume
p1n=${p1%/*}
check "resumed: goes on from $p1n" wait_until 120 scrub_past r0 "$p1n"
dmr_status r0
if [ "${ST[scrub]}" = running ]; then
	# Reload while running: on from where it was, not from 0.
	p2=${ST[scrub_pos]%/*}
	dm_switch r0 "$(dmsetup table r0)"
	dmr_status r0
	check "reload while running: on from $p2 or later (${ST[scrub_pos]})" \
		test "${ST[scrub_pos]%/*}" -ge "$p2" -o "${ST[scrub]}" = idle
fi
check "stop" dmsetup message r0 0 scrub stop
check "stopped: idle at 0" \
	test "$(status_field r0 scrub):$(status_field r0 scrub_pos)" = "idle:0/$NB"
check "stop while idle is fine" dmsetup message r0 0 scrub stop
dmsetup remove r0
nullb_remove main0
nullb_remove spare0

# Part 2: r1 over dm-linear main1 and spare1, slow (1 MiB/s: one chunk a
# second), so that the pass is far from the blocks below for the whole part.
nullb_create main1n 64 512
nullb_create spare1n 16 512
ML=$(sectors /dev/main1n) SL=$(sectors /dev/spare1n)
dmsetup create main1 --table "0 $ML linear /dev/main1n 0"
dmsetup create spare1 --table "0 $SL linear /dev/spare1n 0"
T1="0 $ML remap /dev/mapper/main1 /dev/mapper/spare1 0 $SL 2 scrub_rate 1024"
dmsetup create r1 --table "$T1"
D1=/dev/mapper/r1
check "r1: scrub start" dmsetup message r1 0 scrub start

# Neighbourhood: 14000..14003 are bad; a user read of 14000 fails and makes
# it pending; the scrub reads around it next, long before its pass does.
nullb_bad main1n + $((14000 * 8)) $((14004 * 8 - 1))
expect_fail "user read of block 14000 fails" blk_read "$D1" 14000
check "neighbours 14001..14003 found pending" wait_until 120 \
	sh -c "test \$(dmsetup message r1 0 list | grep -c pending) -ge 4"
dmr_status r1
check "...while the pass was far before them (${ST[scrub_pos]})" \
	test "${ST[scrub_pos]%/*}" -lt $((14000 - CHUNK))
printf '%s\n' 14000 14001 14002 14003 >/tmp/near
dmr_pending r1 | sort -n >/tmp/pending
check "exactly 14000..14003 pending" cmp /tmp/near /tmp/pending

# Outage: main fails every I/O for a while during the pass. Nothing new is
# pending, health says main_unavailable, the pass goes on after it.
p=$(status_field r1 scrub_pos)
dm_switch main1 "0 $ML error"
check "outage: health main_unavailable" wait_until 120 status_is r1 health main_unavailable
dm_switch main1 "0 $ML linear /dev/main1n 0"
check "outage over: health back" wait_until 120 sh -c "! dmsetup status r1 | grep -q main_unavailable"
check "outage: the pass goes on (from ${p})" wait_until 120 scrub_past r1 "${p%/*}"
dmr_pending r1 | sort -n >/tmp/pending
check "outage: still exactly 14000..14003 pending" cmp /tmp/near /tmp/pending
check "outage: scrub still running" status_is r1 scrub running

# Crash: freeze the spare (its writes held), read where the scrub is and the
# generation last committed, then fail the held writes and re-create r1 on
# the spare as it was at the freeze.
check "r1: past block 1024" wait_until 120 scrub_past r1 1024
dmsetup suspend --noflush spare1
dmr_status r1
pc=${ST[scrub_pos]%/*} gc=${ST[generation]}
dmsetup reload spare1 --table "0 $SL error"
dmsetup resume spare1
check "crash: r1's metadata fails" wait_until 120 status_is r1 metadata failed
dmsetup remove r1
dm_switch spare1 "0 $SL linear /dev/spare1n 0"
# Loaded, not yet resumed: the status is what the metadata says.
dmsetup create r1 --notable
check "crash: r1 loaded again" dmsetup load r1 --table "$T1"
ST[line]=$(dmsetup status --inactive r1)
kv() { kv_field "$1" "${ST[line]}"; }
check "crash: the generation committed before the freeze ($gc)" test "$(kv generation)" = "$gc"
pr=$(kv scrub_pos) pr=${pr%/*}
check "crash: still running, at $pr, within a chunk before $pc" \
	test "$(kv scrub)" = running -a "$pr" -le "$pc" -a $((pc - pr)) -le $CHUNK
check "crash: dm-remap-tool check says the same" \
	grep -q "^scrub: running at block $pr," <<<"$("$DMR_TOOL" check /dev/mapper/spare1)"
check "crash: and its JSON dump" grep -q "\"scrub\": { \"state\": \"running\", \"pos\": $pr," \
	<<<"$("$DMR_TOOL" dump --json /dev/mapper/spare1)"
dmsetup resume r1
dmr_pending r1 | sort -n >/tmp/pending
check "crash: the pending blocks kept" cmp /tmp/near /tmp/pending
check "crash: the pass goes on" wait_until 120 scrub_past r1 "$pr"
check "r1: stop" dmsetup message r1 0 scrub stop
dmsetup remove r1
dmsetup remove main1 spare1
check "rmmod dm_remap" unload_module
finish
