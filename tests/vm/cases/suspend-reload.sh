# SPDX-License-Identifier: GPL-2.0-only
# Suspend, resume and reload edges, each sequenced by the test's own steps:
# 1. a resume whose metadata read fails can be retried once the spare
#    answers again, and the device is then fully usable (not stuck failed);
#    a second device on a spare area in use does not start;
# 2. a suspend settles held bios at once instead of waiting out a 60 s
#    commit_interval;
# 3. auto_remap is refused while suspended; the table line does not follow
#    module parameters changed after the load;
# 4. spare_start must be aligned to the spare's logical block size;
# 5. a remap of a huge range stops between batches when its caller is
#    killed.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_target zero
requires_cmd python3
load_module
nullb_setup
T0=$(now_ms)

# --- 1: a failed preresume is retried, not remembered --------------------
remap_r0 32 16
M=/tmp/model
check "fill (model)" "$IOTEST" fill "$DEV" "$M" 11
geometry_of $BS "$ML" 0 "$SL"
check "remap block 10 (old table)" \
	test "$(dmsetup message r0 0 remap $((10 * BSS)))" = "remapped=1 already=0 no_space=0 copy_failed=0"
dmsetup reload r0 --table "$TABLE"
# The live (old) table commits after the new one was loaded.
check "remap block 20 after the reload (old table commits)" \
	test "$(dmsetup message r0 0 remap $((20 * BSS)))" = "remapped=1 already=0 no_space=0 copy_failed=0"
dmsetup suspend r0
# Everything past the two superblocks unreadable: the full load fails.
nullb_bad spare0 + 16 $((GEO_MD_SECTORS - 1))
expect_fail "resume with the metadata unreadable fails" timeout 60 dmsetup resume r0
check "the device is still suspended" \
	grep -q SUSPENDED <<<"$(dmsetup info r0)"
nullb_bad spare0 - 16 $((GEO_MD_SECTORS - 1))
check "resume once the spare answers again" timeout 60 dmsetup resume r0
dmr_status r0
log "${ST[line]}"
check "after the retried resume: remaps=2 metadata=ok health=degraded" \
	test "${ST[remaps]} ${ST[metadata]} ${ST[health]}" = "2 ok degraded"
check "blocks 10 and 20 remapped" test \
	"$(printf '%s\n' 10 20 | dmr_query_many r0 $BSS | cut -d' ' -f2 | tr '\n' ' ')" = "remapped remapped "
check "remap block 30 works (metadata not failed)" \
	test "$(dmsetup message r0 0 remap $((30 * BSS)))" = "remapped=1 already=0 no_space=0 copy_failed=0"
check "whole device = model" dmr_image check "$DEV" "$M" $BS -
dmesg_mark
expect_fail "a second device on the same spare area does not start" \
	dmsetup create r1 --table "$TABLE"
check "the kernel log says why" grep -q "another live device uses this spare area" <<<"$(dmesg_new)"
dmsetup remove r1 2>/dev/null || true
check "the first device still serves the model" dmr_image check "$DEV" "$M" $BS -
dmsetup remove r0
check_tool_records /dev/spare0 3 0 0

# --- 2: a suspend does not wait out commit_interval -----------------------
dmsetup create r0 --table "$TABLE 2 commit_interval 60000"
nullb_bad main0 + $((40 * BSS)) $((41 * BSS - 1))	# block 40
dmr_image pattern "$M" $BS held 40
dmr_image put "$DEV" "$M" $BS 40 >/tmp/put.out 2>&1 &
put=$!
# Held: the write failed on main and waits for its round.
for _ in $(seq 600); do
	[ "$(status_field r0 errors)" = "W1:R0" ] && break
	sleep 0.1
done
check "the write to bad block 40 is held (errors=W1:R0)" \
	test "$(status_field r0 errors)" = "W1:R0"
check "the writer is still waiting" kill -0 $put
t=$(now_ms)
check "suspend succeeds" timeout 50 dmsetup suspend r0
d=$(($(now_ms) - t))
log "suspend took $d ms with a held write and commit_interval 60000"
check "suspend settled the held write well before commit_interval ($d ms)" test $d -lt 40000
check "the held write succeeded" wait $put
# --- 3: suspended: no auto_remap; the table line is what was loaded -----
expect_fail "auto_remap off refused while suspended" dmsetup message r0 0 auto_remap off
dmsetup resume r0
check "auto_remap still on" test "$(status_field r0 auto_remap)" = on
check "block 40 auto-remapped, data = model" dmr_image check "$DEV" "$M" $BS -
dmsetup remove r0
P=/sys/module/dm_remap/parameters
rr=$(cat $P/read_retries) ci=$(cat $P/commit_interval)
dmsetup create r0 --table "$TABLE"
echo $((rr + 3)) >$P/read_retries
echo $((ci + 5)) >$P/commit_interval
check "table line unchanged by later module parameters" \
	test "$(dmsetup table r0)" = "0 $ML remap $(devno /dev/main0) $(devno /dev/spare0) 0 $SL"
echo "$rr" >$P/read_retries
echo "$ci" >$P/commit_interval
dmsetup reload r0 --table "$TABLE 2 read_retries $rr"
dmsetup resume r0
check "a feature given explicitly is echoed, even at its default" \
	grep -q " 2 read_retries $rr\$" <<<"$(dmsetup table r0)"
dmsetup remove r0
nullb_remove main0
nullb_remove spare0

# --- 4: spare_start alignment ---------------------------------------------
nullb_create main0 16 4096
nullb_create spare0 16 4096
ML=$(sectors /dev/main0)
dmesg_mark
expect_fail "spare_start 1 on a 4096-byte-sector spare is refused" \
	dmsetup create r0 --table "0 $ML remap /dev/main0 /dev/spare0 1 16384"
check "the kernel log says why" \
	grep -q "spare_start is not aligned" <<<"$(dmesg_new)"
check "spare_start 8 is taken" \
	dmsetup create r0 --table "0 $ML remap /dev/main0 /dev/spare0 8 16384"
dmsetup remove r0
nullb_remove main0
nullb_remove spare0

# --- 5: a huge remap stops when its caller is killed ----------------------
# Main and the spare's slots read zeroes and take writes for free (dm zero);
# only the metadata region is real. 4 GiB = 1048576 blocks.
ML=$((8 * 1024 * 1024))
geometry_of 4096 $ML 0 $((ML + 65536))
SL=$((GEO_DATA_START + ML))
nullb_create md0 $(((GEO_DATA_START * 512 + 1048575) / 1048576)) 512
dmsetup create zmain --table "0 $ML zero"
printf '0 %s linear /dev/md0 0\n%s %s zero\n' "$GEO_DATA_START" "$GEO_DATA_START" "$ML" |
	dmsetup create zspare
dmsetup create r0 --table "0 $ML remap /dev/mapper/zmain /dev/mapper/zspare 0 $SL"
bb=$(cat $P/batch_blocks)
echo 1024 >$P/batch_blocks	# 1024 batches
dmsetup message r0 0 remap 0 $ML >/tmp/huge.out 2>&1 &
huge=$!
for _ in $(seq 1200); do
	[ "$(status_field r0 manual_remaps)" -gt 0 ] && break
	sleep 0.1
done
check "the first batch of the huge remap is done" test "$(status_field r0 manual_remaps)" -gt 0
kill -9 $huge
wait $huge 2>/dev/null || true
# Whatever batch was running when the signal came finishes; no later one runs.
for _ in $(seq 600); do
	[ "$(status_field r0 migrating)" = 0 ] && break
	sleep 0.1
done
n=$(status_field r0 manual_remaps)
log "killed after $n of $((ML / 8)) blocks"
# Unkillable, it would run all 1024 batches to the end.
check "the killed remap stopped early ($n of $((ML / 8)) blocks)" test "$n" -lt $((ML / 16))
echo "$bb" >$P/batch_blocks
check "the device still answers" test "$(dmsetup message r0 0 ping)" = pong
dmsetup remove r0
dmsetup remove zspare
dmsetup remove zmain
nullb_remove md0

log "total $(($(now_ms) - T0)) ms"
check "rmmod dm_remap" unload_module
finish
