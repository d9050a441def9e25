# SPDX-License-Identifier: GPL-2.0-only
# auto_remap off (feature argument and message): I/O errors pass through
# unchanged (writes and reads fail with EIO, nothing is remapped or made
# pending, health stays ok, no dm event), the error counters count them;
# `auto_remap on` restores remapping; a table without the feature defaults
# to on. Health transitions raise dm events: `dmsetup wait` wakes on
# ok -> degraded, the event counter grows by one per transition and not on
# a remap that leaves the health unchanged.
# vm-timeout: 300
. tests/vm/lib.sh
requires_module null_blk
requires_cmd python3
load_module
nullb_setup
remap_r0 16 8 2 auto_remap off
M=/tmp/model
T0=$(now_ms)
check "table line keeps 'auto_remap off'" grep -q ' 2 auto_remap off$' <<<"$(dmsetup table r0)"
check "status auto_remap=off health=ok" \
	test "$(status_field r0 auto_remap) $(status_field r0 health)" = "off ok"
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 8
nullb_bad main0 + $((100 * BSS)) $((110 * BSS - 1))	# blocks 100..109
EV=$(dm_events r0)

# Off: errors pass through, nothing changes.
dmr_image pattern "$M" $BS new 100 101 102 103 104 105 106 107 108 109
expect_fail "off: full-block write to bad block 100 fails" blk_write "$DEV" 100 "$M"
expect_fail "off: 64 KiB write over bad blocks 96..111 fails" \
	dd if="$M" of="$DEV" bs=64k skip=6 seek=6 count=1 oflag=direct conv=notrunc
expect_fail "off: read of bad block 101 fails" blk_read "$DEV" 101
expect_fail "off: 512-byte read of bad block 102 fails" \
	dd if="$DEV" of=/dev/null bs=512 skip=$((102 * BSS + 7)) count=1 iflag=direct
dmr_status r0
log "${ST[line]}"
check "off: remaps=0 pending=0 auto_remaps=0 health=ok" \
	test "${ST[remaps]} ${ST[pending]} ${ST[auto_remaps]} ${ST[health]}" = "0 0 0 ok"
check "off: the error counters saw 2 write and 2 read errors" test "${ST[errors]}" = W2:R2
check "off: no dm event ($EV -> $(dm_events r0))" test "$(dm_events r0)" = "$EV"
check "off: list is empty" test -z "$(dmr_list_all r0)"
seq 100 109 >/tmp/eio
# The failed 64 KiB write reached the good blocks 96..99, 110, 111 (a
# failed write's content is undefined): take them from the device.
dmr_image absorb "$DEV" "$M" $BS 96 16 >/dev/null
check "off: whole device = model, EIO on 100..109" dmr_image check "$DEV" "$M" $BS /tmp/eio

# On by message: dmsetup wait wakes on the ok -> degraded event.
dmsetup message r0 0 auto_remap on
check "message 'auto_remap on': status auto_remap=on" test "$(status_field r0 auto_remap)" = on
EV=$(dm_events r0)
timeout 120 dmsetup wait r0 "$EV" >/dev/null 2>&1 &
WAITER=$!
# waiting: dmsetup wait sleeps in the kernel's dm_wait_event (its wchan), a
# state rather than a time after its start.
waiting() {
	local p
	for p in $(pgrep -P $WAITER); do
		grep -qx dm_wait_event "/proc/$p/wchan" 2>/dev/null && return 0
	done
	return 1
}
for i in $(seq 600); do
	waiting && break
	sleep 0.1
done
check "dmsetup wait blocks (in dm_wait_event) while nothing happens" waiting
check "on: full-block write to bad block 100 succeeds" blk_write "$DEV" 100 "$M"
t=$(now_ms)
if wait $WAITER; then ok "dmsetup wait woke up ($(($(now_ms) - t)) ms after the write)"; else
	fail "dmsetup wait did not return"
fi
check "on: health=degraded, one event ($EV -> $(dm_events r0))" \
	test "$(status_field r0 health) $(dm_events r0)" = "degraded $((EV + 1))"
check "on: block 100 remapped" test "$(dmr_query r0 100)" = remapped
check "on: 2nd remap (101): no health change, an event for the new remap" \
	eval 'blk_write "$DEV" 101 "$M" && test "$(dm_events r0)" = $((EV + 2))'
check "on: read of bad block 102 fails and makes it pending, an event" \
	eval '! blk_read "$DEV" 102 && test "$(dmr_query r0 102)" = pending -a "$(dm_events r0)" = $((EV + 3))'

# Off again: a write to pending 102 and to bad 103 pass the error through.
dmsetup message r0 0 auto_remap off
check "message 'auto_remap off': status auto_remap=off" test "$(status_field r0 auto_remap)" = off
expect_fail "off: full write to pending block 102 fails" blk_write "$DEV" 102 "$M"
expect_fail "off: write to bad block 103 fails" blk_write "$DEV" 103 "$M"
dmr_status r0
check "off: still remaps=2 pending=1" test "${ST[remaps]} ${ST[pending]}" = "2 1"
expect_fail "message 'auto_remap maybe' is refused" dmsetup message r0 0 auto_remap maybe
expect_fail "message 'auto_remap' without argument is refused" dmsetup message r0 0 auto_remap
expect_fail "feature 'auto_remap' without on/off is refused" \
	dmsetup create rbad --table "$TABLE 1 auto_remap"

# A table without the feature: auto_remap on; the remaps persisted.
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
check "default table: auto_remap=on, remaps=2 pending=1, health=degraded" test \
	"$(status_field r0 auto_remap) $(status_field r0 remaps) $(status_field r0 pending) $(status_field r0 health)" \
	= "on 2 1 degraded"
check "default: writes to 102..109 succeed" dmr_image put "$DEV" "$M" $BS $(seq 102 109)
check "default: remaps=10 pending=0" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "10 0"
check "whole device = model, no EIO" dmr_image check "$DEV" "$M" $BS -
# Unremapping everything that main can take back changes nothing here
# (main is bad), but health returns to ok once the list is empty: use a
# fresh device with a manual remap and unremap.
dmsetup remove r0
nullb_create spare1 8 512
dmsetup create r1 --table "0 $ML remap /dev/main0 /dev/spare1 0 $(sectors /dev/spare1)"
EV=$(dm_events r1)
dmsetup message r1 0 remap 0 >/dev/null
dmsetup message r1 0 unremap 0 >/dev/null
check "remap + unremap: ok -> degraded -> ok, 2 events" \
	test "$(status_field r1 health) $(dm_events r1)" = "ok $((EV + 2))"
dmsetup remove r1
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
nullb_remove spare1
check "rmmod dm_remap" unload_module
finish
