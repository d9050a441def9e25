# SPDX-License-Identifier: GPL-2.0-only
# Data identity against an in-memory model through remaps and unremaps, for
# block sizes 512, 4096 and 65536: fill, random writes (direct and buffered,
# 512 B..1 MiB, and writes across the edges of remapped blocks), random remap
# sets and ranges (every answer checked against a model of the remapped set),
# random unremaps, byte-exact verify; list (paged), query, the spare copies
# and the status/stats counters must agree with what was done.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
nullb_create main0 16 512
ML=$(sectors /dev/main0)

# storm_add OUTPUT: add a storm summary to the running totals.
storm_add() {
	local re un eff
	re=$(kv_field remapped "$1") un=$(kv_field unremapped "$1")
	eff=$(kv_field effective "$1")
	RE=$((RE + ${re:-0})) UN=$((UN + ${un:-0})) EFF=$((EFF + ${eff:-0}))
}

# in_set FIRST LAST: how many blocks of [FIRST, LAST] the model holds.
in_set() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { n++ } END { print n + 0 }' "$SET"
}

identity() {
	local bsz=$1 bs=$(($1 / 512)) name=id$1 spare=spare$1 feat="" SL dev
	local maxrun page out s c first last want n t0
	SET=/tmp/set-$bsz
	MODEL=/tmp/model-$bsz
	RE=0 UN=0 EFF=0
	t0=$(now_ms)
	case $bsz in
	512) maxrun=100 page=101 ;;
	4096) maxrun=20 page=7 ;;
	65536) maxrun=3 page=7 ;;
	esac
	nullb_create "$spare" 12 512
	SL=$(sectors "/dev/$spare")
	[ "$bsz" = 4096 ] || feat="2 block_size $bsz"
	dmsetup create "$name" --table "0 $ML remap /dev/main0 /dev/$spare 0 $SL $feat"
	dev=/dev/mapper/$name
	geometry_of "$bsz" "$ML" 0 "$SL"
	log "$name: $GEO_NR_BLOCKS blocks, $GEO_NR_SLOTS slots, data at $GEO_DATA_START"
	check "$name: status block_size=$bsz" test "$(status_field "$name" block_size)" = "$bsz"
	check "$name: fresh spare=0/$GEO_NR_SLOTS remaps=0" \
		test "$(status_field "$name" spare) $(status_field "$name" remaps)" = "0/$GEO_NR_SLOTS 0"

	check "$name: fill" "$IOTEST" fill "$dev" "$MODEL" "$bsz"
	check "$name: direct writes" "$IOTEST" write "$dev" "$MODEL" 1 150 512 1048576 direct
	check "$name: buffered writes" "$IOTEST" write "$dev" "$MODEL" 2 60 1 1048576 buffered

	log "$name: filled and written"
	# A range given in unaligned sectors covers every block it touches.
	s=$((5 * bs + bs / 2)) c=$((3 * bs))
	first=$((s / bs)) last=$(((s + c - 1) / bs))
	want="remapped=$((last - first + 1)) already=0 no_space=0 copy_failed=0"
	out=$(dmsetup message "$name" 0 remap $s $c)
	check "$name: remap $s $c -> $want" test "$out" = "$want"
	out=$(dmsetup message "$name" 0 remap $((20 * bs + bs - 1)))
	check "$name: remap of one sector -> one block" \
		test "$out" = "remapped=1 already=0 no_space=0 copy_failed=0"
	out=$(dmsetup message "$name" 0 remap $s $c)
	check "$name: remap again -> already=$((last - first + 1))" \
		test "$out" = "remapped=0 already=$((last - first + 1)) no_space=0 copy_failed=0"
	{ seq "$first" "$last"; echo 20; } | sort -n >"$SET"
	RE=$((last - first + 2)) EFF=2
	check "$name: identical right after remap" "$IOTEST" verify "$dev" "$MODEL"

	if out=$("$RT" storm "$name" "$SET" bs=$bs blocks="$GEO_NR_BLOCKS" seed=$bs \
		msgs=40 maxrun=$maxrun single=25 slots="$GEO_NR_SLOTS" 2>&1); then
		ok "$name: 40 random remaps answered as modelled: $out"
	else
		fail "$name: remap storm: $out"
	fi
	storm_add "$out"
	check "$name: identical after remaps" "$IOTEST" verify "$dev" "$MODEL"
	"$RT" list "$name" "$page" >/tmp/list 2>/dev/null || true
	check "$name: spare holds the remapped blocks' data" \
		"$RT" sparecheck "/dev/$spare" "$MODEL" /tmp/list "$bsz"

	log "$name: remapped"
	check "$name: direct writes" "$IOTEST" write "$dev" "$MODEL" 3 150 512 1048576 direct
	check "$name: direct writes across remapped edges" \
		"$RT" bwrite "$dev" "$MODEL" 4 200 "$SET" "$bsz" direct
	check "$name: buffered writes across remapped edges" \
		"$RT" bwrite "$dev" "$MODEL" 5 80 "$SET" "$bsz" buffered
	check "$name: buffered writes" "$IOTEST" write "$dev" "$MODEL" 6 60 1 1048576 buffered
	"$RT" list "$name" "$page" >/tmp/list 2>/dev/null || true
	check "$name: writes to remapped blocks went to the spare" \
		"$RT" sparecheck "/dev/$spare" "$MODEL" /tmp/list "$bsz"

	log "$name: written across remaps"
	# Unremap a range partly remapped: the answer splits it exactly.
	s=$((3 * bs)) c=$((4 * bs))
	n=$(in_set 3 6)
	out=$(dmsetup message "$name" 0 unremap $s $c)
	check "$name: unremap $s $c -> unremapped=$n not_remapped=$((4 - n))" \
		test "$out" = "unremapped=$n not_remapped=$((4 - n)) copy_failed=0"
	awk '$1 < 3 || $1 > 6' "$SET" >"$SET.new" && mv "$SET.new" "$SET"
	UN=$((UN + n))
	[ "$n" = 0 ] || EFF=$((EFF + 1))
	if out=$("$RT" storm "$name" "$SET" bs=$bs blocks="$GEO_NR_BLOCKS" seed=$((bs + 1)) \
		msgs=15 maxrun=$maxrun unremap=100 single=25 hit=80 2>&1); then
		ok "$name: 15 random unremaps answered as modelled: $out"
	else
		fail "$name: unremap storm: $out"
	fi
	storm_add "$out"
	if out=$("$RT" storm "$name" "$SET" bs=$bs blocks="$GEO_NR_BLOCKS" seed=$((bs + 2)) \
		msgs=30 maxrun=$maxrun unremap=40 single=25 hit=30 slots="$GEO_NR_SLOTS" 2>&1); then
		ok "$name: 30 mixed remaps/unremaps answered as modelled: $out"
	else
		fail "$name: mixed storm: $out"
	fi
	storm_add "$out"
	check "$name: identical after unremaps" "$IOTEST" verify "$dev" "$MODEL"

	check "$name: direct writes" "$IOTEST" write "$dev" "$MODEL" 7 150 512 1048576 direct
	check "$name: direct writes across remapped edges" \
		"$RT" bwrite "$dev" "$MODEL" 8 150 "$SET" "$bsz" direct
	check "$name: buffered writes" "$IOTEST" write "$dev" "$MODEL" 9 60 1 1048576 buffered
	check "$name: identical at the end" "$IOTEST" verify "$dev" "$MODEL"

	log "$name: unremapped, written, verified"
	# The table as the target reports it.
	n=$(wc -l <"$SET")
	if "$RT" list "$name" "$page" >/tmp/list 2>/tmp/list.err; then
		ok "$name: list paging consistent: $(cat /tmp/list.err)"
	else
		fail "$name: list paging: $(cat /tmp/list.err)"
	fi
	cut -d' ' -f2 /tmp/list >/tmp/list.blocks
	check "$name: list blocks = model ($n)" cmp -s /tmp/list.blocks "$SET"
	check "$name: list/query/slots agree with the model" \
		"$RT" checkmap "$name" "$SET" /tmp/list bs=$bs blocks="$GEO_NR_BLOCKS" \
		data_start="$GEO_DATA_START" samples=100 qmax=300
	check "$name: spare holds the remapped blocks' data" \
		"$RT" sparecheck "/dev/$spare" "$MODEL" /tmp/list "$bsz"
	out=$(dmsetup message "$name" 0 list 0 5 | tail -n +2)
	check "$name: dmsetup list 0 5 = first page" test "$out" = "$(head -n5 /tmp/list)"
	out=$(dmsetup message "$name" 0 list 0 5 | head -n1)
	if [ "$n" -gt 5 ]; then
		want="count=5 next=$(sed -n 6p /tmp/list | cut -d' ' -f1)"
	else
		want="count=$n next=none"
	fi
	check "$name: dmsetup list 0 5 header '$want'" test "$out" = "$want"
	if [ "$n" -gt 0 ]; then
		read -r s b slot spare_s <<<"$(sed -n "$(((n + 1) / 2))p" /tmp/list)"
		out=$(dmsetup message "$name" 0 query $((s + bs - 1)))
		want="sector=$((s + bs - 1)) block=$b remapped slot=$slot spare_sector=$spare_s"
		check "$name: dmsetup query of a remapped block" test "$out" = "$want"
	fi
	out=$(dmsetup status "$name")
	log "$name: $out"
	check "$name: status remaps=$n" test "$(kv_field remaps "$out")" = "$n"
	check "$name: status spare=$n/$GEO_NR_SLOTS" test "$(kv_field spare "$out")" = "$n/$GEO_NR_SLOTS"
	check "$name: status manual_remaps=$RE unremaps=$UN" \
		test "$(kv_field manual_remaps "$out") $(kv_field unremaps "$out")" = "$RE $UN"
	check "$name: migrating=0 copy_errors=0 metadata=ok errors=W0:R0" test \
		"$(kv_field migrating "$out") $(kv_field copy_errors "$out") $(kv_field metadata "$out") $(kv_field errors "$out")" \
		= "0 0 ok W0:R0"
	check "$name: one commit per effective message ($EFF), generation = 2 + commits" \
		test "$(kv_field commits "$out") $(kv_field generation "$out")" = "$EFF $((EFF + 2))"
	out=$(dmsetup message "$name" 0 stats)
	check "$name: stats remaps=$n batches=$EFF" \
		test "$(kv_field remaps "$out") $(kv_field batches "$out")" = "$n $EFF"
	check "$name: I/O reached the spare (spare_ios > 0)" test "$(kv_field spare_ios "$out")" -gt 0

	dmsetup remove "$name"
	if out=$("$DMR_TOOL" check "/dev/$spare" 2>&1); then
		check "$name: dm-remap-tool check clean, $n mapped" \
			grep -q "records: $n mapped, 0 bad" <<<"$out"
	else
		fail "$name: dm-remap-tool check: $out"
	fi
	nullb_remove "$spare"
	rm -f "$MODEL" "$SET"
	log "$name: done in $(($(now_ms) - t0)) ms"
}

identity 512
identity 4096
identity 65536
check "rmmod dm_remap" unload_module
nullb_remove main0
finish
