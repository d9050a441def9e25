# SPDX-License-Identifier: GPL-2.0-only
# Durability of FUA writes that hit an I/O error, on devices with a volatile
# write cache (null_blk cache_size): a FUA write (O_DIRECT|O_DSYNC) acked
# after error handling must be on stable media, like any FUA write.
# 1) The write fails once and its retry succeeds (the bad sector is cleared
#    while the error waits in commit_interval): the retry must carry FUA,
#    or a flush of main must precede the completion.
# 2) The write keeps failing and is remapped: the slot data must be flushed
#    (the commit's PREFLUSH on the spare) before the completion.
# Checked with block:block_bio_queue on the underlying devices and
# dm_remap:dmr_io_error (the completion) in tracefs.
# vm-timeout: 240
# One vCPU: the case toggles tracepoints (kernel text patching), and once a
# two-vCPU guest froze doing so under multi-threaded TCG; it needs no second CPU.
# vm-options: --cpus 1
. tests/vm/lib.sh
requires_module null_blk
load_module
nullb_setup
BS=4096 BSS=8
TR=/sys/kernel/tracing
nullb_create main0 16 512 cache_size=16
nullb_create spare0 8 512 cache_size=8
check "main0 has a volatile write cache with FUA" \
	test "$(cat /sys/block/main0/queue/write_cache) $(cat /sys/block/main0/queue/fua)" = "write back 1"
ML=$(sectors /dev/main0)
dmsetup create r0 --table "0 $ML remap /dev/main0 /dev/spare0 0 $(sectors /dev/spare0) 2 commit_interval 10000"
DEV=/dev/mapper/r0
dm=$(dmsetup info -c --noheadings -o blkdevname r0 | tr -d ' ')
check "r0 offers FUA" test "$(cat /sys/block/$dm/queue/fua)" = 1
devt() { echo $(((0x$(stat -c %t "$1") << 20) | 0x$(stat -c %T "$1"))); }
MAIN=$(devt /dev/main0) SPARE=$(devt /dev/spare0)

trace_start() {
	echo 0 >$TR/tracing_on
	echo >$TR/trace
	echo "dev == $MAIN || dev == $SPARE" >$TR/events/block/block_bio_queue/filter
	echo 1 >$TR/events/block/block_bio_queue/enable
	echo 1 >$TR/events/dm_remap/dmr_io_error/enable
	echo 1 >$TR/tracing_on
}
trace_stop() {
	echo 0 >$TR/tracing_on
	grep -v '^#' $TR/trace >"$1"
	echo 0 >$TR/events/block/block_bio_queue/enable
	echo 0 >$TR/events/dm_remap/dmr_io_error/enable
}
# fua_write BLOCK: one 4 KiB O_DIRECT|O_DSYNC write (REQ_FUA) in the background.
fua_write() {
	dd if=/dev/urandom of="$DEV" bs=4096 seek="$1" count=1 oflag=direct,dsync \
		conv=notrunc status=none &
	DD=$!
}
# before_completion FILE: the block_bio_queue lines before the first
# dmr_io_error line.
before_completion() { awk '/ dmr_io_error: / { exit } / block_bio_queue: / { print }' "$1"; }

# 1) transient error: retried write succeeds.
nullb_bad main0 + $((100 * BSS)) $((101 * BSS - 1))
trace_start
fua_write 100
# The sector is cleared once main has failed the write (I/O progress, not
# time); the worker holds the failed write for commit_interval before the
# retry, which only bounds how quickly that must happen.
for i in $(seq 600); do
	[ "$(status_field r0 errors)" = W1:R0 ] && break
	sleep 0.1
done
check "1: main failed the write once (errors=$(status_field r0 errors))" \
	test "$(status_field r0 errors)" = W1:R0
nullb_bad main0 - $((100 * BSS)) $((101 * BSS - 1))
check "1: the FUA write succeeds" wait $DD
trace_stop /tmp/t1
log "1: trace:"
sed 's/^ */    /' /tmp/t1
check "1: recovered by the retry (outcome=recovered, no remap)" \
	test "$(grep -c 'outcome=recovered' /tmp/t1) $(status_field r0 remaps)" = "1 0"
# On main (major:minor of main0): a write of sector 800 with FUA after the
# failed one, or a flush, before the completion.
main_id="$(printf '%d,%d' 0x$(stat -c %t /dev/main0) 0x$(stat -c %T /dev/main0))"
before_completion /tmp/t1 | grep " $main_id " | tail -n +2 >/tmp/t1-after
if grep -Eq " (W[A-Z]*F[A-Z]* 800 \+|F[A-Z]* )" /tmp/t1-after; then
	ok "1: the retry carried FUA (or main was flushed) before the completion"
else
	fail "1: the write was acked after a retry without FUA and without a flush of main: $(tr -s ' ' <"/tmp/t1-after" | tr '\n' '|')"
fi

# 2) persistent error: remapped.
nullb_bad main0 + $((200 * BSS)) $((201 * BSS - 1))
trace_start
fua_write 200
check "2: the FUA write succeeds" wait $DD
trace_stop /tmp/t2
log "2: trace:"
sed 's/^ */    /' /tmp/t2
check "2: remapped (outcome=recovered, remaps=1)" \
	test "$(grep -c 'outcome=recovered' /tmp/t2) $(status_field r0 remaps)" = "1 1"
spare_id="$(printf '%d,%d' 0x$(stat -c %t /dev/spare0) 0x$(stat -c %T /dev/spare0))"
slot_sector=$(dmsetup message r0 0 query $((200 * BSS)) | sed -n 's/.*spare_sector=//p')
before_completion /tmp/t2 | grep " $spare_id " >/tmp/t2-spare
if awk -v s="$slot_sector" '
	$0 ~ (" W[A-Z]* " s " \\+") { w = 1; next }
	w && / F[A-Z]* [0-9]+ \+/ { f = 1 }
	END { exit !(w && f) }' /tmp/t2-spare; then
	ok "2: the slot write (sector $slot_sector) was flushed before the completion"
else
	fail "2: no flush of the spare after the slot write before the completion: $(tr -s ' ' <"/tmp/t2-spare" | tr '\n' '|')"
fi
dmsetup remove r0
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
