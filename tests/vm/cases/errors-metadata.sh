# SPDX-License-Identifier: GPL-2.0-only
# Metadata writes failing while errors are handled: the superblock sectors of
# the spare go bad (null_blk), then a write hits a bad main block. The remap
# cannot be made durable, so that write fails with EIO and nothing is
# remapped; health becomes metadata_failed (status metadata=failed) with a
# dm event; later bad-block writes pass their error through, manual remaps
# are refused, while blocks remapped before keep serving reads and writes
# from the spare. After the spare heals, remove + create loads the last
# good commit: exactly the remaps made before the failure, health degraded.
# vm-timeout: 300
. tests/vm/lib.sh
requires_module null_blk
requires_cmd python3
load_module
nullb_setup
remap_r0 16 8
M=/tmp/model
T0=$(now_ms)
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 12
nullb_bad main0 + $((100 * BSS)) $((110 * BSS - 1))	# blocks 100..109
dmr_image pattern "$M" $BS a 100 101 102 103
check "4 bad-block writes remapped while metadata works" \
	dmr_image put "$DEV" "$M" $BS 100 101 102 103
check "remaps=4 health=degraded metadata=ok" \
	test "$(status_field r0 remaps) $(status_field r0 health) $(status_field r0 metadata)" = "4 degraded ok"
dmr_list_all r0 >/tmp/list-good

# Both superblock copies (md blocks 0 and 1: sectors 0..15) go bad.
nullb_bad spare0 + 0 15
EV=$(dm_events r0)
dmr_image pattern "$M" $BS b 104
expect_fail "a bad-block write whose remap cannot be committed fails" \
	blk_write "$DEV" 104 "$M"
dmr_status r0
log "${ST[line]}"
check "health=metadata_failed metadata=failed" \
	test "${ST[health]} ${ST[metadata]}" = "metadata_failed failed"
check "a dm event for it ($EV -> $(dm_events r0))" test "$(dm_events r0)" -gt "$EV"
check "block 104 not remapped, remaps still 4" \
	test "$(dmr_query r0 104) ${ST[remaps]}" = "main 4"
expect_fail "the next bad-block write fails too (error passed through)" \
	blk_write "$DEV" 105 "$M"
expect_fail "manual remap is refused" dmsetup message r0 0 remap 8000
dmr_image pattern "$M" $BS c 100 101
check "writes to blocks remapped before still work (spare slots)" \
	dmr_image put "$DEV" "$M" $BS 100 101
seq 104 109 >/tmp/eio
check "whole device = model, EIO only on the unremapped bad blocks 104..109" \
	dmr_image check "$DEV" "$M" $BS /tmp/eio
check "status still metadata_failed, remaps=4" \
	test "$(status_field r0 health) $(status_field r0 remaps)" = "metadata_failed 4"

# The spare heals: the last good commit loads.
dmsetup remove r0
nullb_bad spare0 - 0 15
check_tool_records /dev/spare0 4 0 0
dmsetup create r0 --table "$TABLE"
dmr_list_all r0 >/tmp/list-after
check "reload: the 4 remaps of before the failure, nothing else" cmp -s /tmp/list-good /tmp/list-after
check "reload: health=degraded metadata=ok" \
	test "$(status_field r0 health) $(status_field r0 metadata)" = "degraded ok"
check "reload: whole device = model, EIO on 104..109" dmr_image check "$DEV" "$M" $BS /tmp/eio
dmr_image pattern "$M" $BS d 104 105
check "reload: bad-block writes remap again" dmr_image put "$DEV" "$M" $BS 104 105
check "reload: remaps=6" test "$(status_field r0 remaps)" = 6
dmsetup remove r0
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
