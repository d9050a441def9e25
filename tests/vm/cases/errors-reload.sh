# SPDX-License-Identifier: GPL-2.0-only
# Table swaps (reload + suspend + resume, e.g. to change a feature) while
# the live table is remapping bad blocks. The new table read the metadata
# at reload time; the old one commits more remaps and pending blocks before
# it is suspended. Asserts: the resume succeeds and the new table serves
# every remap and pending block committed by the old one (status, query,
# data, health); then the same with fio verify writing over bad blocks and
# a swap every few seconds: no failed resume, no verify or write error, and
# after remove + create fio verify_only finds every acknowledged write.
# A failed resume leaves the device suspended; the test then loads the
# table once more to get it running again and reports the failure.
# vm-timeout: 420
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
load_module
nullb_setup
remap_r0 32 16
M=/tmp/model
T0=$(now_ms)

# swap [FEATURES]: reload + suspend + resume; on a failed resume, load the
# table again and resume (a fresh table reads the metadata as it is now).
# Returns 1 if the first resume failed.
swap() {
	local rc=0
	timeout 60 dmsetup reload r0 --table "$TABLE${1:+ $1}" || return 1
	timeout 60 dmsetup suspend r0 || return 1
	if ! timeout 60 dmsetup resume r0 2>/tmp/resume.err; then
		rc=1
		dmesg | grep 'remap:' | tail -n 2 >>/tmp/resume.err
		timeout 60 dmsetup reload r0 --table "$TABLE${1:+ $1}" &&
			timeout 60 dmsetup resume r0 || { fail "device stuck suspended"; finish; exit 1; }
	fi
	return $rc
}

check "fill (model)" "$IOTEST" fill "$DEV" "$M" 6
nullb_bad main0 + $((100 * BSS)) $((104 * BSS - 1))	# blocks 100..103
nullb_bad main0 + $((200 * BSS)) $((202 * BSS - 1))	# blocks 200, 201
# Reload first (the inactive table reads the metadata now), then the live
# table remaps 100..103 (written) and marks 200, 201 pending (read).
dmsetup reload r0 --table "$TABLE 2 read_retries 1"
dmr_image pattern "$M" $BS a 100 101 102 103
check "live table: writes to bad blocks 100..103 succeed" \
	dmr_image put "$DEV" "$M" $BS 100 101 102 103
printf '%s\n' 200 201 >/tmp/eio
check "live table: blocks 200, 201 read EIO" dmr_image check "$DEV" "$M" $BS /tmp/eio 200 2
check "live table: remaps=4 pending=2" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "4 2"
dmsetup suspend r0
if timeout 60 dmsetup resume r0 2>/tmp/resume.err; then
	ok "resume with the new table succeeds"
else
	fail "resume with the new table: $(tr '\n' ' ' </tmp/resume.err) $(dmesg | grep 'remap:' | tail -n 2 | tr '\n' ' ')"
	dmsetup reload r0 --table "$TABLE 2 read_retries 1"
	dmsetup resume r0
fi
dmr_status r0
log "${ST[line]}"
check "new table: remaps=4 pending=2 health=degraded" \
	test "${ST[remaps]} ${ST[pending]} ${ST[health]}" = "4 2 degraded"
check "new table: table line has read_retries 1" \
	grep -q ' 2 read_retries 1$' <<<"$(dmsetup table r0)"
check "new table: 100..103 remapped, 200, 201 pending" test \
	"$(printf '%s\n' 100 101 102 103 200 201 | dmr_query_many r0 $BSS | cut -d' ' -f2 | tr '\n' ' ')" \
	= "remapped remapped remapped remapped pending pending "
check "new table: whole device = model, EIO only on 200, 201" \
	dmr_image check "$DEV" "$M" $BS /tmp/eio
dmr_image pattern "$M" $BS b 200
check "new table: full write to pending 200 remaps it" dmr_image put "$DEV" "$M" $BS 200
check "new table: remaps=5 pending=1" \
	test "$(status_field r0 remaps) $(status_field r0 pending)" = "5 1"

# fio over bad blocks with a table swap every ~2 s.
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
F0=1024 FN=4096
nullb_bad main0 + $((1500 * BSS)) $((1600 * BSS - 1))	# blocks 1500..1599
nullb_bad main0 + $((3000 * BSS)) $((3050 * BSS - 1))	# blocks 3000..3049
cat >/tmp/s.fio <<EOF
[w]
filename=$DEV
direct=1
ioengine=libaio
bs=4k
rw=randwrite
offset=$((F0 * BS))
size=$((FN * BS / 2))
offset_increment=$((FN * BS / 2))
numjobs=2
iodepth=16
rate_iops=80
verify=crc32c
verify_fatal=1
verify_state_save=0
do_verify=1
EOF
fio --output-format=json --output=/tmp/s.json /tmp/s.fio >/tmp/s.err 2>&1 &
FIO=$!
swaps=0 failed=0
while kill -0 $FIO 2>/dev/null; do
	if swap; then :; else
		failed=$((failed + 1))
		log "swap $swaps: resume failed: $(tr '\n' ' ' </tmp/resume.err)"
	fi
	swaps=$((swaps + 1))
	sleep 2
done
if wait $FIO; then ok "fio: no verify error, no write error"; else
	fail "fio failed: $(grep -v '^$' /tmp/s.err | tail -n 5)"
fi
log "$swaps table swaps during fio, $failed failed"
check "no table swap failed to resume ($failed of $swaps)" test "$failed" = 0
check "at least 5 swaps ran during fio ($swaps)" test "$swaps" -ge 5
dmr_status r0
log "${ST[line]}"
check "remaps=155 (150 bad blocks written + 5 before) pending=1" \
	test "${ST[remaps]} ${ST[pending]}" = "155 1"
dmsetup remove r0
dmsetup create r0 --table "$TABLE"
sed -i -e 's/^do_verify=1/verify_only=1/' -e '/^rate_iops/d' /tmp/s.fio
if fio --output=/tmp/v.out /tmp/s.fio >/tmp/v.err 2>&1; then
	ok "after re-create: fio verify_only finds every write"
else
	fail "fio verify_only: $(grep -v '^$' /tmp/v.err | tail -n 5)"
fi
dmsetup remove r0
check_tool_records /dev/spare0 155 0 1
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
