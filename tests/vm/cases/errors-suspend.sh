# SPDX-License-Identifier: GPL-2.0-only
# Error handling across suspend/resume: fio writes (crc32c verify) over
# null_blk bad blocks (some injected before, some LIVE) while the target is
# suspended and resumed in a loop (plain and --noflush; table swaps are in
# errors-reload.sh). Asserts: no suspend or resume hangs (each bounded), fio sees no
# verify or write error, every bad block fio wrote is remapped or (written
# before the live injection) pending = fio's EIO count; after remove +
# create, fio verify_only finds every acknowledged write intact.
# vm-timeout: 480
. tests/vm/lib.sh
requires_module null_blk
requires_cmd fio python3
load_module
nullb_setup
remap_r0 32 16
T0=$(now_ms)
F0=1024 FN=4096
nullb_bad main0 + $((1500 * BSS)) $((1600 * BSS - 1))	# blocks 1500..1599
nullb_bad main0 + $((3000 * BSS + 3)) $((3050 * BSS - 5))	# blocks 3000..3049
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
continue_on_error=read
ignore_error=EIO
EOF
W0=$(status_field r0 writes)
fio --output-format=json --output=/tmp/s.json /tmp/s.fio >/tmp/s.err 2>&1 &
FIO=$!

# The live injection, by I/O progress: once fio has written 1500 of its
# 4096 blocks. A watcher of its own polls for it, so that slow suspend
# cycles (seconds each on a loaded debug kernel) cannot overshoot it.
rm -f /tmp/injected
(
	while kill -0 $FIO 2>/dev/null; do
		if dmr_status r0 && [ $((ST[writes] - W0)) -ge 1500 ]; then
			nullb_bad main0 + $((4000 * BSS)) $((4032 * BSS - 1))	# blocks 4000..4031
			echo $(($(status_field r0 writes) - W0)) >/tmp/injected
			break
		fi
		sleep 0.1
	done
) &
INJ=$!

# Suspend/resume cycles until fio ends; each step must finish in 60 s.
cycles=0 hung=0 maxms=0 times=
while kill -0 $FIO 2>/dev/null; do
	t=$(now_ms)
	case $((cycles % 2)) in
	0) timeout 60 dmsetup suspend r0 || hung=$((hung + 1)) ;;
	1) timeout 60 dmsetup suspend --noflush r0 || hung=$((hung + 1)) ;;
	esac
	sleep 0.2
	timeout 60 dmsetup resume r0 || hung=$((hung + 1))
	t=$(($(now_ms) - t))
	times="$times $t"
	[ "$t" -le "$maxms" ] || maxms=$t
	cycles=$((cycles + 1))
	sleep 0.3
done
if wait $FIO; then ok "fio: no verify error, no write error"; else
	fail "fio failed: $(grep -v '^$' /tmp/s.err | tail -n 5)"
fi
wait $INJ
injected=$(cat /tmp/injected 2>/dev/null || echo 0)
log "$cycles suspend/resume cycles during fio, slowest $maxms ms (each, ms:$times); live injection after ${injected} writes"
check "no suspend/resume step failed or hung ($hung)" test "$hung" = 0
check "at least 6 cycles ran during fio ($cycles)" test "$cycles" -ge 6
check "the live injection happened while fio wrote ($injected of 4096 writes)" test "$injected" -gt 0 -a "$injected" -lt 4096
check "r0 is live (not suspended) at the end" test "$(dmsetup info -c --noheadings -o suspended r0)" = Active
EIO=$(fio_json /tmp/s.json "sum(x['total_err'] for x in jobs)")
dmr_status r0
log "${ST[line]}"
nullb_bad_blocks main0 $BSS >/tmp/bad
dmr_list_all r0 | cut -d' ' -f1 | sort -n >/tmp/listed
check "remapped + pending = the 182 bad blocks" cmp -s /tmp/bad /tmp/listed
check "pending (${ST[pending]}) = fio's EIO reads ($EIO)" test "${ST[pending]}" = "$EIO"
check "remaps + pending = 182, bad_slots=0, metadata=ok" \
	test "$((ST[remaps] + ST[pending])) ${ST[bad_slots]} ${ST[metadata]}" = "182 0 ok"

# Every acknowledged write survived: re-create the device and verify.
NR=${ST[remaps]} NP=${ST[pending]}
dmsetup remove r0
check_tool_records /dev/spare0 $NR 0 $NP
dmsetup create r0 --table "$TABLE"
sed -i -e 's/^do_verify=1/verify_only=1/' -e '/^rate_iops/d' /tmp/s.fio
if fio --output-format=json --output=/tmp/v.json /tmp/s.fio >/tmp/v.err 2>&1; then
	ok "after re-create: fio verify_only finds no mismatch"
else
	fail "fio verify_only: $(grep -v '^$' /tmp/v.err | tail -n 5)"
fi
check "after re-create: verify_only EIO count = pending ($NP)" \
	test "$(fio_json /tmp/v.json "sum(x['total_err'] for x in jobs)")" = "$NP"
dmsetup remove r0
log "total $(($(now_ms) - T0)) ms"
nullb_remove main0
nullb_remove spare0
check "rmmod dm_remap" unload_module
finish
