# SPDX-License-Identifier: GPL-2.0-only
# Remaps and unremaps while I/O runs: fio randrw with crc32c verify (two
# jobs, 512 B..64 KiB) must see no error while ~200 range messages remap
# 10000 blocks in total (plus unremaps); every answer must match the model.
# Then the same with a model-based writer and a byte-exact verify of the
# whole device, list/query/spare copies against the model.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio
load_module
nullb_setup
nullb_create main0 64 512
nullb_create spare0 48 512
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
dmsetup create r0 --table "0 $L remap /dev/main0 /dev/spare0 0 $SL"
dev=/dev/mapper/r0
geometry_of 4096 "$L" 0 "$SL"
SET=/tmp/set
: >"$SET"
STOP=/tmp/stop-fio

# Repeated fio runs until $STOP exists; each run must exit 0.
fio_loop() {
	local i=0
	while [ ! -e "$STOP" ]; do
		i=$((i + 1))
		if ! fio --name=v --filename="$dev" --ioengine=libaio --direct=1 \
			--rw=randrw --rwmixread=40 --bsrange=512-64k --blockalign=512 \
			--iodepth=16 --numjobs=2 --size=32M --offset_increment=32M \
			--io_size=24M --randrepeat=0 \
			--verify=crc32c --verify_fatal=1 --verify_state_save=0 \
			--verify_backlog=128 >"$OUT/fio-$i.log" 2>&1; then
			echo "fio run $i failed" >>/tmp/fio-failed
		fi
	done
	echo "$i" >/tmp/fio-runs
}

rm -f "$STOP" /tmp/fio-failed
fio_loop &
floop=$!
# The storm starts once fio's I/O flows (progress, not time).
wait_status r0 writes 200 $floop || fail "fio did not start writing"
t0=$(now_ms)
if out=$("$RT" storm r0 "$SET" bs=8 blocks="$GEO_NR_BLOCKS" seed=11 remaps=10000 \
	maxrun=99 single=0 unremap=15 hit=60 slots="$GEO_NR_SLOTS" 2>&1); then
	ok "remap 10000 blocks under fio: $out"
else
	fail "storm under fio: $out"
fi
log "storm took $(($(now_ms) - t0)) ms"
msgs=$(sed -n 's/^storm: \([0-9]*\) messages.*/\1/p' <<<"$out")
check "10000 blocks took about 200-400 range messages ($msgs)" test "${msgs:-0}" -ge 150 -a "${msgs:-0}" -le 500
touch "$STOP"
wait $floop
check "fio ran during the remaps ($(cat /tmp/fio-runs) runs)" test "$(cat /tmp/fio-runs)" -ge 1
if [ -e /tmp/fio-failed ]; then
	fail "fio verify: $(cat /tmp/fio-failed | tr '\n' ' ')"
	grep -h -m3 -iE "verify|crc|error" "$OUT"/fio-*.log || true
else
	ok "every fio run exited 0 with zero verify errors"
fi
check "no fio verify errors in the logs" \
	bash -c "! grep -qiE 'verify: bad|crc32c: verify failed|bad magic' $OUT/fio-*.log"

"$RT" list r0 512 >/tmp/list 2>/dev/null || true
check "list/query agree with the model after the storm" \
	"$RT" checkmap r0 "$SET" /tmp/list bs=8 blocks="$GEO_NR_BLOCKS" \
	data_start="$GEO_DATA_START" samples=100 qmax=300

# Phase 2: model-based writes + remaps/unremaps, then full verify.
check "fill" "$IOTEST" fill "$dev" /tmp/model 21
"$IOTEST" write "$dev" /tmp/model 22 1500 512 262144 direct >/tmp/w.log 2>&1 &
wpid=$!
if out=$("$RT" storm r0 "$SET" bs=8 blocks="$GEO_NR_BLOCKS" seed=12 msgs=80 \
	maxrun=99 single=10 unremap=50 hit=50 slots="$GEO_NR_SLOTS" 2>&1); then
	ok "remaps/unremaps during model writes: $out"
else
	fail "storm during model writes: $out"
fi
if wait $wpid; then ok "model writer: $(cat /tmp/w.log)"; else fail "model writer: $(cat /tmp/w.log)"; fi
check "whole device byte-identical to the model" "$IOTEST" verify "$dev" /tmp/model
"$RT" list r0 512 >/tmp/list 2>/dev/null || true
check "list/query agree with the model" \
	"$RT" checkmap r0 "$SET" /tmp/list bs=8 blocks="$GEO_NR_BLOCKS" \
	data_start="$GEO_DATA_START" samples=100 qmax=300
check "spare copies hold the model's data" \
	"$RT" sparecheck /dev/spare0 /tmp/model /tmp/list 4096
st=$(dmsetup status r0)
log "status: $st"
n=$(wc -l <"$SET")
check "status remaps=$n spare=$n/$GEO_NR_SLOTS" \
	test "$(kv_field remaps "$st") $(kv_field spare "$st")" = "$n $n/$GEO_NR_SLOTS"
check "no copy errors, no I/O errors, metadata ok, nothing migrating" test \
	"$(kv_field copy_errors "$st") $(kv_field errors "$st") $(kv_field metadata "$st") $(kv_field migrating "$st")" \
	= "0 W0:R0 ok 0"
log "bios deferred behind migrations: $(kv_field deferred "$st"), splits: $(kv_field splits "$st")"
check "I/O was split at remapped blocks (splits > 0)" test "$(kv_field splits "$st")" -gt 0

dmsetup remove r0
check "dm-remap-tool check clean" "$DMR_TOOL" check -q /dev/spare0
check "rmmod dm_remap" unload_module
nullb_remove main0
nullb_remove spare0
finish
