# SPDX-License-Identifier: GPL-2.0-only
# Persistence of the remap table: remaps and data survive remove+create,
# rmmod+insmod and reload; dm-remap-tool check passes on what the module
# wrote; dump -> restore onto a zeroed copy loads the same remaps and data;
# a different geometry, foreign data or two damaged superblocks are refused
# with a specific message and nothing is written; a blank region is
# formatted; one damaged superblock falls back to the other copy. Measures
# the load time (dmsetup create) of a table with 100000 remaps.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
nullb_create main0 16 512
nullb_create spare0 8 512
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
TABLE="0 $L remap /dev/main0 /dev/spare0 0 $SL"
geometry_of 4096 "$L" 0 "$SL"
B=$GEO_NR_BLOCKS
SET=/tmp/set
: >"$SET"
dev=/dev/mapper/r0

listing() { "$RT" list "$1" 97 2>/dev/null; }

# refused NAME "TABLE" "EXPECTED ti->error" SPAREDEV: create must fail with
# the message and leave the spare device byte-identical (checksummed: the
# metadata region and the first MiB of data, where a load could write).
refused() {
	local name=$1 table=$2 want=$3 sdev=$4 sum
	sum=$(spare_sum "$sdev" 0 $((GEO_DATA_START + 2048)))
	dmesg_mark
	if dmsetup create "$name" --table "$table" >/dev/null 2>&1; then
		fail "$name: accepted: $table"
		dmsetup remove "$name"
		return
	fi
	if ! dmesg_new | grep -q "device-mapper: table: .*: remap: $want"; then
		fail "$name: want 'remap: $want', got: $(dmesg_new | grep remap: | head -n2 | tr '\n' ' ')"
	elif dmsetup info "$name" >/dev/null 2>&1; then
		fail "$name: device left behind"
	elif [ "$(spare_sum "$sdev" 0 $((GEO_DATA_START + 2048)))" != "$sum" ]; then
		fail "$name: refused but the spare device changed"
	else
		ok "$name: refused ($want), spare unchanged"
	fi
	dmsetup remove "$name" >/dev/null 2>&1 || true
}

# poke DEV BYTE_OFFSET: overwrite 8 bytes with 0xa5 (read-modify-write of
# the 4 KiB block, direct I/O so no cache hides it).
poke() {
	local dev=$1 off=$2 blk=$(($2 / 4096 * 4096))
	dd if="$dev" of=/tmp/blk bs=4096 skip=$((blk / 4096)) count=1 iflag=direct status=none
	printf '\245\245\245\245\245\245\245\245' |
		dd of=/tmp/blk bs=1 seek=$((off - blk)) conv=notrunc status=none
	dd if=/tmp/blk of="$dev" bs=4096 seek=$((blk / 4096)) count=1 oflag=direct conv=notrunc status=none
}

# same_state WHAT: list, status remaps/generation and data as recorded.
same_state() {
	listing r0 >/tmp/list.now
	check "$1: same list ($(wc -l </tmp/list.now) remaps)" cmp -s /tmp/list.now /tmp/list.ref
	check "$1: same generation and remaps" \
		test "$(status_field r0 generation) $(status_field r0 remaps)" = "$GEN $(wc -l <"$SET")"
	check "$1: data identical" "$IOTEST" verify "$dev" /tmp/model
}

# 1. A blank spare is formatted: generation 2, nothing mapped.
dmsetup create r0 --table "$TABLE"
check "blank spare formatted: generation=2 remaps=0 spare=0/$GEO_NR_SLOTS" test \
	"$(status_field r0 generation) $(status_field r0 remaps) $(status_field r0 spare)" = "2 0 0/$GEO_NR_SLOTS"
check "fill" "$IOTEST" fill "$dev" /tmp/model 61
out=$("$RT" storm r0 "$SET" bs=8 blocks="$B" slots="$GEO_NR_SLOTS" seed=6 msgs=30 \
	maxrun=30 unremap=20 hit=50 2>&1) && ok "remaps: $out" || fail "storm: $out"
check "writes across remapped blocks" "$RT" bwrite "$dev" /tmp/model 62 100 "$SET" 4096 direct
check "random writes" "$IOTEST" write "$dev" /tmp/model 63 100 512 1048576 direct
listing r0 >/tmp/list.ref
GEN=$(status_field r0 generation)
log "$(wc -l <"$SET") remaps, generation $GEN"
check "list = model" "$RT" checkmap r0 "$SET" /tmp/list.ref bs=8 blocks="$B" \
	data_start="$GEO_DATA_START" samples=20

# 2. remove + create, rmmod + insmod, reload.
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
same_state "remove+create"
dmsetup remove r0
check "rmmod" unload_module
load_module
dmsetup create r0 --table "$TABLE"
same_state "rmmod+insmod"
dmsetup reload r0 --table "$TABLE"
dmsetup resume r0
same_state "reload"
dmsetup remove r0

# 3. The tool agrees with what the module wrote.
if out=$("$DMR_TOOL" check /dev/spare0 2>&1); then
	ok "dm-remap-tool check: exit 0"
	check "dm-remap-tool check: clean, $(wc -l <"$SET") mapped" \
		bash -c "grep -q 'result: clean' <<<\"\$1\" && grep -q \"records: $(wc -l <"$SET") mapped, 0 bad\" <<<\"\$1\"" _ "$out"
else
	fail "dm-remap-tool check: $out"
fi

# 4. dump -> restore onto a zeroed copy with the data area copied.
check "dump" "$DMR_TOOL" dump -o /tmp/dump.txt /dev/spare0
nullb_create spare1 8 512
check "copy the data area to the zeroed spare" \
	dd if=/dev/spare0 of=/dev/spare1 bs=4096 skip=$((GEO_DATA_START / 8)) \
	seek=$((GEO_DATA_START / 8)) iflag=direct oflag=direct status=none
check "restore onto the copy" "$DMR_TOOL" restore -i /tmp/dump.txt /dev/spare1
dmsetup create r1 --table "0 $L remap /dev/main0 /dev/spare1 0 $SL"
listing r1 >/tmp/list.r1
check "restored copy: same list" cmp -s /tmp/list.r1 /tmp/list.ref
check "restored copy: same data" "$IOTEST" verify /dev/mapper/r1 /tmp/model
dmsetup remove r1
check "restored copy: check clean" "$DMR_TOOL" check -q /dev/spare1

# 5. A different geometry is refused, nothing written.
refused bad "0 $L remap /dev/main0 /dev/spare0 0 $((SL - 8))" \
	"metadata spare area differs from the table line" /dev/spare0
refused bad "0 $L remap /dev/main0 /dev/spare0 0 $SL 2 block_size 512" \
	"metadata block size differs from the table line" /dev/spare0
refused bad "0 $L remap /dev/main0 /dev/spare0 0 $SL 2 block_size 8192" \
	"metadata block size differs from the table line" /dev/spare0
refused bad "0 $((L - 8)) remap /dev/main0 /dev/spare0 0 $SL" \
	"metadata main device length differs from the table line" /dev/spare0
refused bad "0 $L remap /dev/main0 /dev/spare0 8 $((SL - 8))" "" /dev/spare0

# 6. Foreign data is refused; an all-zero region is formatted.
nullb_create spare2 8 512
dd if=/dev/urandom of=/tmp/junk bs=4096 count=64 status=none
dd if=/tmp/junk of=/dev/spare2 bs=4096 oflag=direct conv=notrunc status=none
refused bad "0 $L remap /dev/main0 /dev/spare2 0 $SL" \
	"no dm-remap superblock (foreign data)" /dev/spare2
dd if=/dev/zero of=/dev/spare2 bs=4096 count=2 oflag=direct conv=notrunc status=none
refused bad "0 $L remap /dev/main0 /dev/spare2 0 $SL" \
	"Spare area holds data that is not dm-remap metadata (not blank)" /dev/spare2
dd if=/dev/zero of=/dev/spare2 bs=4096 count=64 oflag=direct conv=notrunc status=none
# Random data past the metadata region does not matter.
dd if=/tmp/junk of=/dev/spare2 bs=4096 seek=$((GEO_DATA_START / 8)) oflag=direct conv=notrunc status=none
check "all-zero region: create formats it" \
	dmsetup create r2 --table "0 $L remap /dev/main0 /dev/spare2 0 $SL"
check "formatted: generation=2 remaps=0" \
	test "$(status_field r2 generation) $(status_field r2 remaps)" = "2 0"
dmsetup remove r2
check "formatted region: check clean" "$DMR_TOOL" check -q /dev/spare2
nullb_remove spare2

# 7. One damaged superblock: the other copy is used. The current copy is
# generation GEN's (copy GEN % 2); damaging the other one changes nothing,
# damaging the current one loads generation GEN - 1, the state before the
# last commit. Record that state first, then commit one more remap.
dmsetup create r0 --table "$TABLE"
listing r0 >/tmp/list.prev
prev_gen=$(status_field r0 generation)
out=$(dmsetup message r0 0 remap $((L - 64)) 64)
check "one more remap: $out" test "$out" = "remapped=8 already=0 no_space=0 copy_failed=0"
seq $((B - 8)) $((B - 1)) >>"$SET"
sort -n -o "$SET" "$SET"
listing r0 >/tmp/list.ref
GEN=$(status_field r0 generation)
check "that committed generation $((prev_gen + 1))" test "$GEN" = $((prev_gen + 1))
dmsetup remove r0
poke /dev/spare0 $(((1 - GEN % 2) * 4096 + 200))
sum=$(spare_sum /dev/spare0 0 $((GEO_DATA_START + 2048)))
dmsetup create r0 --table "$TABLE"
same_state "older superblock damaged"
dmsetup remove r0
check "loading wrote nothing" test "$(spare_sum /dev/spare0 0 $((GEO_DATA_START + 2048)))" = "$sum"
out=$("$DMR_TOOL" check /dev/spare0 2>&1 || true)
check "dm-remap-tool check reports the damaged copy" \
	grep -q "other superblock copy is invalid" <<<"$out"
# Two commits: the first rewrites the damaged copy, the second the other.
dmsetup create r0 --table "$TABLE"
out=$(dmsetup message r0 0 unremap $((L - 64)) 8)
check "unremap one block: $out" test "$out" = "unremapped=1 not_remapped=0 copy_failed=0"
GEN2=$(status_field r0 generation)
listing r0 >/tmp/list.prev
out=$(dmsetup message r0 0 remap $((L - 64)) 8)
check "remap it again: $out" test "$out" = "remapped=1 already=0 no_space=0 copy_failed=0"
GEN=$(status_field r0 generation)
dmsetup remove r0
check "check clean after the commits" "$DMR_TOOL" check -q /dev/spare0
poke /dev/spare0 $((GEN % 2 * 4096 + 200))
dmsetup create r0 --table "$TABLE"
listing r0 >/tmp/list.now
check "current superblock damaged: loads generation $GEN2" test "$(status_field r0 generation)" = "$GEN2"
check "current superblock damaged: the previous state's list" cmp -s /tmp/list.now /tmp/list.prev
check "current superblock damaged: data identical (main still holds it)" \
	"$IOTEST" verify "$dev" /tmp/model
dmsetup remove r0

# 8. Both superblocks damaged: refused, nothing written.
poke /dev/spare0 $(((1 - GEN % 2) * 4096 + 200))
refused bad "$TABLE" "both superblock copies are damaged" /dev/spare0

# 9. Load time of many remaps (restored from generated dumps).
loadtime() {
	local n=$1 bsz=$2 msz=$3 ssz=$4 bs=$(($2 / 512)) ml sl t0 t1 out
	nullb_create bigm "$msz" 512
	nullb_create bigs "$ssz" 512
	ml=$(sectors /dev/bigm)
	sl=$(sectors /dev/bigs)
	geometry_of "$bsz" "$ml" 0 "$sl"
	out=$("$RT" gendump /tmp/big.txt "$n" bs="$bsz" main="$ml" spare_len="$sl" seed=$n 2>&1)
	check "$n remaps: $out" test -s /tmp/big.txt
	t0=$(now_ms)
	check "$n remaps: restore" "$DMR_TOOL" restore -i /tmp/big.txt /dev/bigs
	log "$n remaps: restore took $(($(now_ms) - t0)) ms"
	t0=$(now_ms)
	check "$n remaps: dmsetup create" \
		dmsetup create big --table "0 $ml remap /dev/bigm /dev/bigs 0 $sl 2 block_size $bsz"
	t1=$(now_ms)
	echo "MEASURE: dmsetup create with $n remaps ($bsz B blocks): $((t1 - t0)) ms wall (TCG guest)"
	check "$n remaps: status remaps=$n spare=$n/$GEO_NR_SLOTS" \
		test "$(status_field big remaps) $(status_field big spare)" = "$n $n/$GEO_NR_SLOTS"
	# Every 997th mapping of the dump, queried.
	awk -v bs="$bs" '$1 == "map" && NR % 997 == 0 { print "query " $2 * bs + NR % bs }' \
		/tmp/big.txt >/tmp/q.txt
	awk '$1 == "map" && NR % 997 == 0 { print $3 }' /tmp/big.txt >/tmp/q.want
	"$RT" batch big </tmp/q.txt | sed -n 's/.* remapped slot=\([0-9]*\) .*/\1/p' >/tmp/q.got
	check "$n remaps: $(wc -l </tmp/q.txt) sampled queries give the dumped slots" \
		cmp -s /tmp/q.got /tmp/q.want
	if [ "$n" -le 200000 ]; then
		t0=$(now_ms)
		"$RT" list big 4096 >/tmp/big.list 2>/dev/null || true
		log "$n remaps: full list in $(($(now_ms) - t0)) ms"
		awk '{ print $2, $3 }' /tmp/big.list >/tmp/big.got
		awk '$1 == "map" { print $2, $3 }' /tmp/big.txt | sort -n >/tmp/big.want
		check "$n remaps: list = the dump's mappings" cmp -s /tmp/big.got /tmp/big.want
	fi
	dmsetup remove big
	# The same geometry with nothing mapped, for comparison.
	check "$n remaps: format" "$DMR_TOOL" format -m "$ml" -l "$sl" -b "$bsz" /dev/bigs
	t0=$(now_ms)
	dmsetup create big --table "0 $ml remap /dev/bigm /dev/bigs 0 $sl 2 block_size $bsz"
	t1=$(now_ms)
	echo "MEASURE: dmsetup create, same geometry, 0 remaps: $((t1 - t0)) ms wall"
	dmsetup remove big
	nullb_remove bigm
	nullb_remove bigs
}
loadtime 100000 4096 1024 400
# (loadtime 1000000 512 1024 560 measures a million remaps: ~3 more minutes.)

check "rmmod dm_remap" unload_module
nullb_remove main0
nullb_remove spare0
nullb_remove spare1
finish
