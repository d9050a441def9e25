# SPDX-License-Identifier: GPL-2.0-only
# reclaim: remapped blocks whose main copy passes an in-place write/read
# test move back to main with their data; blocks still bad are refused and
# stay remapped. Asserts the answer, where each block lives, the data, the
# spare use, and the same after re-create; then a reclaim whose commit
# fails (the spare's superblocks unwritable, as a crash before the commit
# would leave it) keeps the block remapped with its data, live and after
# re-create, and a reclaim once the spare works moves it back.
# vm-timeout: 300
. tests/vm/lib.sh
requires_module null_blk
requires_cmd python3
load_module
nullb_setup
remap_r0 32 16
M=/tmp/model
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 9

# Bad sectors in blocks 100..103 (one each) and all of block 110.
for b in 100 101 102 103; do
	nullb_bad main0 + $((b * BSS + b % 8)) $((b * BSS + b % 8))
done
nullb_bad main0 + $((110 * BSS)) $((111 * BSS - 1))
dmr_image pattern "$M" $BS new 100 101 102 103 110
check "whole-block writes to the 5 bad blocks succeed" \
	dmr_image put "$DEV" "$M" $BS 100 101 102 103 110
check "remaps=5" test "$(status_field r0 remaps)" = 5

# 100 and 101 recover (the drive reallocated the sectors); the rest do not.
nullb_bad main0 - $((100 * BSS)) $((102 * BSS - 1))
out=$(dmsetup message r0 0 reclaim $((100 * BSS)) $((11 * BSS)))
check "reclaim 100..110: $out" test "$out" = \
	"reclaimed=2 not_remapped=6 refused=3 copy_failed=0 refused_blocks=102,103,110"
where() { printf '%s\n' "$@" | dmr_query_many r0 $BSS | cut -d' ' -f2 | tr '\n' ' '; }
# recreated BLOCKS... PLACES: remove and create r0; the blocks are in those
# places (where's words) and the whole device equals the model.
recreated() {
	local places=$1
	shift
	dmsetup remove r0
	dmsetup create r0 --table "$TABLE"
	check "after re-create: $* are $places" test "$(where "$@")" = "$places"
	check "after re-create: whole device = model" dmr_image check "$DEV" "$M" $BS -
}
check "100, 101 on main; 102, 103, 110 remapped" \
	test "$(where 100 101 102 103 110)" = "main main remapped remapped remapped "
dmr_status r0
check "remaps=3 spare=3/... (${ST[remaps]} ${ST[spare]})" \
	test "${ST[remaps]} ${ST[spare]%/*}" = "3 3"
check "whole device = model" dmr_image check "$DEV" "$M" $BS -
recreated "main main remapped remapped remapped " 100 101 102 103 110
out=$(dmsetup message r0 0 reclaim $((102 * BSS)))
check "reclaim of 102, still bad, refused again: $out" \
	test "$out" = "reclaimed=0 not_remapped=0 refused=1 copy_failed=0 refused_blocks=102"

# The commit of a reclaim fails: the block stays where it was.
nullb_bad main0 - $((102 * BSS)) $((103 * BSS - 1))
nullb_bad spare0 + 0 15
expect_fail "reclaim of 102 with the superblocks unwritable fails" \
	dmsetup message r0 0 reclaim $((102 * BSS))
check "health metadata_failed" test "$(status_field r0 health)" = metadata_failed
check "102 still remapped" test "$(where 102)" = "remapped "
check "its data intact" dmr_image check "$DEV" "$M" $BS - 100 11
nullb_bad spare0 - 0 15
recreated "remapped " 102
out=$(dmsetup message r0 0 reclaim $((102 * BSS)))
check "reclaim of 102 now: $out" \
	test "$out" = "reclaimed=1 not_remapped=0 refused=0 copy_failed=0"
recreated "main remapped remapped " 102 103 110
dmsetup remove r0
check_tool_records /dev/spare0 2 0 0 "after the reclaims"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
