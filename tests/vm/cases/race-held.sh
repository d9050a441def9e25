# SPDX-License-Identifier: GPL-2.0-only
# Bios held by the error worker (commit_interval 60000: a failed bio waits
# until the test kicks the round with an empty flush) while the block they
# belong to moves. Each interleaving is built step by step:
# 1) lost write: a write fails on main and is held; `remap` moves the block
#    (main's old data) to a slot; main heals; the retry must not land on main
#    behind the slot: the acknowledged write reads back, also after re-create.
# 2) the same with no message: a round remaps the block for one held write
#    while a second write to the other half of the block is still in flight
#    to main (parked in dm-delay); it fails after the round took its list,
#    main heals, its retry must reach the block's slot: both halves read back.
# 3) a held read, then `unremap` frees its slot and `remap` gives the slot to
#    another block: the read returns its own block's data or EIO, never the
#    other block's. The same with a held write: it must not overwrite the
#    other block's slot, and it must read back.
# 4) a write held on main, `remap` gives the block a slot, a later write is
#    acknowledged there; then every slot fails writes and the round fails the
#    held write: after re-create the block still reads the acknowledged data.
# 5) suspend with a held write finishes without waiting out commit_interval.
# vm-timeout: 600
. tests/vm/lib.sh
. tests/vm/race-lib.sh
requires_module null_blk
requires_target flakey delay
requires_cmd python3
load_module
nullb_setup
T0=$(now_ms)
HOLD="2 commit_interval 60000"
D=$((10000 * DMR_SCALE))	# ms a parked write waits in dm-delay

# --- 1: held write on main, block remapped by hand, main heals ---
stack_create 1 224 "$HOLD"
M=/tmp/model1
check "1: fill (model)" "$IOTEST" fill "$DEV" "$M" 1
X=10
model_block "$M" $X /tmp/x-old
pattern /tmp/x-new 1-new
dm_switch fmain1 "$(flakey_table /dev/main1 "$ML" $((X * 8)):8:0:1:error_writes)"
w0=$(err_count r1 W)
put "$DEV" $X /tmp/x-new &
P=$!
if wait_until 60 err_grew r1 W "$w0"; then
	ok "1: the write to block $X failed on main and is held"
else
	fail "1: the write to block $X never failed on main"
fi
ans=$(dmsetup message r1 0 remap $((X * 8))) || ans="error $?"
log "1: remap $X while its write is held: $ans (slot $(slot_of r1 $X))"
dm_switch fmain1 "$(flakey_table /dev/main1 "$ML")"
log "1: main healed; the write is $(running $P && echo 'still held' || echo 'done') at the kick"
kick "$DEV"
rc=0
wait_exit $P 120 || rc=$?
check "1: the held write is acknowledged (dd exit $rc)" test $rc = 0
got=$(which_data "$DEV" $X new=/tmp/x-new old=/tmp/x-old)
check "1: block $X reads the acknowledged write (reads: $got)" test "$got" = new
stack_recreate 1
got=$(which_data "$DEV" $X new=/tmp/x-new old=/tmp/x-old)
check "1: after re-create block $X reads the acknowledged write (reads: $got)" test "$got" = new

# --- 2: no message: a round remaps the block while a second write is in flight ---
X=20
model_block "$M" $X /tmp/x-old
pattern /tmp/x-a 2-a
pattern /tmp/x-b 2-b
# Expected: first half from write A, second half from write B.
{ head -c 2048 /tmp/x-a; tail -c 2048 /tmp/x-b; } >/tmp/x-ab
dm_switch fmain1 "$(flakey_table /dev/main1 "$ML" $((X * 8)):8:0:1:error_writes)"
w0=$(err_count r1 W)
put "$DEV" $X /tmp/x-a 0 4 &
PA=$!
check "2: write A (sectors 0-3 of block $X) failed on main and is held" \
	wait_until 60 err_grew r1 W "$w0"
dm_switch dmain1 "$(delay_table /dev/mapper/fmain1 "$ML" 0 $D)"
put "$DEV" $X /tmp/x-b 4 4 &
PB=$!
check "2: write B (sectors 4-7) is in flight to main, parked in dm-delay" \
	wait_until 60 parked_at_least dmain1 W 1
kick "$DEV"
# The round's retry of A is parked behind B: the round took its list first.
if wait_until 60 parked_at_least dmain1 W 2; then
	log "2: the round started while write B was still in flight"
else
	log "2: did not see the round's retry parked next to write B"
fi
rc=0
wait_exit $PA 120 || rc=$?
check "2: write A is acknowledged (dd exit $rc)" test $rc = 0
log "2: after that round block $X is $(dmr_query r1 $X); write B is $(running $PB && echo 'still held' || echo 'done')"
dm_switch dmain1 "$(delay_table /dev/mapper/fmain1 "$ML" 0 0)"
dm_switch fmain1 "$(flakey_table /dev/main1 "$ML")"
kick "$DEV"
rc=0
wait_exit $PB 120 || rc=$?
check "2: write B is acknowledged (dd exit $rc)" test $rc = 0
{ head -c 2048 /tmp/x-a; tail -c 2048 /tmp/x-old; } >/tmp/x-a-only
got=$(which_data "$DEV" $X both=/tmp/x-ab a-only=/tmp/x-a-only old=/tmp/x-old)
check "2: block $X holds both acknowledged halves (reads: $got)" test "$got" = both
stack_recreate 1
got=$(which_data "$DEV" $X both=/tmp/x-ab a-only=/tmp/x-a-only old=/tmp/x-old)
check "2: after re-create block $X holds both halves (reads: $got)" test "$got" = both
stack_remove 1

# --- 3: held read / held write, slot freed by unremap and given to another block ---
stack_create 3 224 "$HOLD"
M=/tmp/model3
check "3: fill (model)" "$IOTEST" fill "$DEV" "$M" 3
X=10 Y=20 Z=30
for b in $X $Y $Z; do model_block "$M" $b /tmp/b$b; done
dmsetup message r3 0 remap $((X * 8)) >/dev/null
dmsetup message r3 0 remap 800 56 >/dev/null	# blocks 100..106 fill the spare
check "3: spare full: 8 of 8 slots used" test "$(status_field r3 spare)" = "8/8"
sX=$(slot_of r3 $X)
# 3a: a read of X fails on its slot and is held.
dm_switch fspare3 "$(flakey_table /dev/spare3 2048 $((DS + sX * 8)):8:0:1)"
r0=$(err_count r3 R)
get "$DEV" $X /tmp/x-read &
P=$!
check "3a: the read of block $X failed on slot $sX and is held" \
	wait_until 60 err_grew r3 R "$r0"
dm_switch fspare3 "$(flakey_table /dev/spare3 2048)"
ans=$(dmsetup message r3 0 unremap $((X * 8))) || ans="error $?"
log "3a: unremap $X: $ans"
ans=$(dmsetup message r3 0 remap $((Y * 8))) || ans="error $?"
log "3a: remap $Y: $ans; block $Y is on slot $(slot_of r3 $Y) (block $X was on $sX)"
log "3a: the read is $(running $P && echo 'still held' || echo 'done') at the kick"
kick "$DEV"
rc=0
wait_exit $P 120 || rc=$?
if [ $rc = 0 ]; then
	got=own
	cmp -s /tmp/x-read /tmp/b$X || { got=other; cmp -s /tmp/x-read /tmp/b$Y && got="block $Y's"; }
	check "3a: the held read of block $X returned its own data (got $got data)" test "$got" = own
else
	ok "3a: the held read of block $X failed (dd exit $rc): never another block's data"
fi
check "3a: whole device = model" dmr_image check "$DEV" "$M" 4096 -

# 3b: a write to X fails on its slot and is held; the slot goes to Z.
dmsetup message r3 0 unremap 800 >/dev/null	# frees block 100's slot
dmsetup message r3 0 remap $((X * 8)) >/dev/null
sX=$(slot_of r3 $X)
log "3b: block $X remapped again, to slot $sX"
dm_switch fspare3 "$(flakey_table /dev/spare3 2048 $((DS + sX * 8)):8:0:1:error_writes)"
pattern /tmp/x-new 3-new
w0=$(err_count r3 W)
put "$DEV" $X /tmp/x-new &
P=$!
check "3b: the write to block $X failed on slot $sX and is held" \
	wait_until 60 err_grew r3 W "$w0"
ans=$(dmsetup message r3 0 unremap $((X * 8))) || ans="error $?"
log "3b: unremap $X: $ans"
dm_switch fspare3 "$(flakey_table /dev/spare3 2048)"
ans=$(dmsetup message r3 0 remap $((Z * 8))) || ans="error $?"
log "3b: remap $Z: $ans; block $Z is on slot $(slot_of r3 $Z) (block $X was on $sX)"
log "3b: the write is $(running $P && echo 'still held' || echo 'done') at the kick"
kick "$DEV"
rc=0
wait_exit $P 120 || rc=$?
log "3b: the held write: dd exit $rc"
for pass in live re-created; do
	[ $pass = live ] || stack_recreate 3
	got=$(which_data "$DEV" $Z own=/tmp/b$Z x-write=/tmp/x-new)
	check "3b ($pass): block $Z keeps its own data (reads: $got)" test "$got" = own
	got=$(which_data "$DEV" $X new=/tmp/x-new old=/tmp/b$X)
	if [ $rc = 0 ]; then
		check "3b ($pass): block $X reads the acknowledged write (reads: $got)" test "$got" = new
	else
		check "3b ($pass): block $X reads old or new data (reads: $got)" test "$got" = new -o "$got" = old
	fi
done
stack_remove 3

# --- 4: every try of the fix fails on the block's existing slot ---
stack_create 4 224 "$HOLD"
M=/tmp/model4
check "4: fill (model)" "$IOTEST" fill "$DEV" "$M" 4
X=10
model_block "$M" $X /tmp/x-old
pattern /tmp/x-1 4-held
pattern /tmp/x-2 4-acked
dm_switch fmain4 "$(flakey_table /dev/main4 "$ML" $((X * 8)):8:0:1:error_writes)"
w0=$(err_count r4 W)
put "$DEV" $X /tmp/x-1 &
P=$!
check "4: write 1 to block $X failed on main and is held" \
	wait_until 60 err_grew r4 W "$w0"
ans=$(dmsetup message r4 0 remap $((X * 8))) || ans="error $?"
log "4: remap $X: $ans (slot $(slot_of r4 $X))"
check "4: write 2 to block $X is acknowledged" put "$DEV" $X /tmp/x-2
# Every slot now fails writes (reads pass); the metadata area still works.
dm_switch fspare4 "$(flakey_table /dev/spare4 2048 "$DS:$((2048 - DS)):0:1:error_writes")"
kick "$DEV"
rc=0
wait_exit $P 120 || rc=$?
log "4: held write 1: dd exit $rc; $(dmsetup status r4 | tr ' ' '\n' | grep -E '^(spare|remaps|bad_slots)=' | tr '\n' ' ')"
ack=acked
[ $rc != 0 ] || ack="acked or held"
got=$(which_data "$DEV" $X acked=/tmp/x-2 held=/tmp/x-1 old=/tmp/x-old)
check "4: block $X reads the last acknowledged write (reads: $got)" test "$got" = acked -o \( $rc = 0 -a "$got" = held \)
dm_switch fspare4 "$(flakey_table /dev/spare4 2048)"
dm_switch fmain4 "$(flakey_table /dev/main4 "$ML")"
stack_recreate 4
got=$(which_data "$DEV" $X acked=/tmp/x-2 held=/tmp/x-1 old=/tmp/x-old)
check "4: after re-create block $X reads the last acknowledged write, not main's stale data (reads: $got; want $ack)" \
	test "$got" = acked -o \( $rc = 0 -a "$got" = held \)
dmsetup remove r4
out=$("$DMR_TOOL" check /dev/mapper/fspare4 2>&1) || true
log "4: $(grep -E '^(records|result):' <<<"$out" | tr '\n' ' ')"
stack_remove 4

# --- 5: suspend with a held write does not wait out commit_interval ---
stack_create 5 224 "$HOLD"
X=10
pattern /tmp/x-new 5-new
dm_switch fmain5 "$(flakey_table /dev/main5 "$ML" $((X * 8)):8:0:1:error_writes)"
w0=$(err_count r5 W)
put "$DEV" $X /tmp/x-new &
P=$!
check "5: the write to block $X failed on main and is held" \
	wait_until 60 err_grew r5 W "$w0"
t=$(now_ms)
# 30 s: half of commit_interval; a suspend that kicks the round needs far less.
if timeout 30 dmsetup suspend r5; then
	ok "5: suspend finished in $(($(now_ms) - t)) ms with a held write (commit_interval 60 s)"
else
	fail "5: suspend with a held write did not finish in 30 s (commit_interval 60 s)"
fi
dmsetup resume r5 2>/dev/null || true
rc=0
wait_exit $P 120 || rc=$?
check "5: the held write is acknowledged (dd exit $rc)" test $rc = 0
got=$(which_data "$DEV" $X new=/tmp/x-new)
check "5: block $X reads the acknowledged write (reads: $got)" test "$got" = new
log "5: $(dmsetup status r5)"
stack_remove 5

log "total $(($(now_ms) - T0)) ms"
check "rmmod dm_remap" unload_module
finish
