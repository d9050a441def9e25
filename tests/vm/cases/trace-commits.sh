# SPDX-License-Identifier: GPL-2.0-only
# trace/commits.bt against two remap devices over null_blk: remap and
# unremap requests of growing sizes and explicit commits. Every metadata
# commit the target counts (status commits=) must be in @commit_us[spare
# disk] (and @commit_blocks), one verbose "commit" line each with the
# status' last generation; @batch_blocks / @batch_us have one sample per
# request, keyed by device and op, with the blocks each one changed.
# bpftrace output is kept in build/vm-logs/trace-commits/.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/bpftrace.sh
requires_module null_blk
requires_btf
requires_cmd bpftrace

load_module
nullb_setup
nullb_create main0 64 512
nullb_create spare0 16 4096
nullb_create main1 32 4096
nullb_create spare1 8 4096
remap_create r0 $(sectors /dev/main0) /dev/main0 /dev/spare0 0 $(sectors /dev/spare0)
remap_create r1 $(sectors /dev/main1) /dev/main1 /dev/spare1 0 $(sectors /dev/spare1)

bt_start commits trace/commits.bt 1
bt_wait commits || { finish; exit 1; }
c0=$(status_field r0 commits)
c1=$(status_field r1 commits)

# r0: four remaps (1, 10, 100, 1000 blocks), an unremap of 50, one of
# nothing, two commits with nothing to commit; r1: two remaps and an unremap.
for n in 1 10 100 1000; do
	check "r0: remap $n blocks" dmsetup message r0 0 remap $((n * 16)) $((n * 8))
done
check "r0: unremap 50 blocks" dmsetup message r0 0 unremap 16000 400
check "r0: unremap nothing" dmsetup message r0 0 unremap 8000 400
check "r0: commit" dmsetup message r0 0 commit
check "r0: save" dmsetup message r0 0 save
check "r1: remap 64 blocks" dmsetup message r1 0 remap 0 512
check "r1: remap 8 blocks" dmsetup message r1 0 remap 4096 64
check "r1: unremap 8 blocks" dmsetup message r1 0 unremap 0 64
dmsetup status r0
dmsetup status r1
bt_stop commits
F=$OUT/commits.out

for d in 0 1; do
	eval "before=\$c$d"
	commits=$(($(status_field r$d commits) - before))
	gen=$(status_field r$d generation)
	log "r$d: $commits commits, generation $gen"
	check "r$d: commits happened" test "$commits" -gt 0
	check "@commit_us[spare$d] has every commit" \
		test "$(hist_count "$F" commit_us spare$d)" = "$commits"
	check "@commit_blocks[spare$d] has every commit" \
		test "$(hist_count "$F" commit_blocks spare$d)" = "$commits"
	check "one commit line per commit on spare$d" \
		test "$(grep -cE "^[0-9:]+ commit disk=spare$d " "$F")" = "$commits"
	check "last commit line of spare$d has generation $gen" \
		test "$(grep -E "^[0-9:]+ commit disk=spare$d " "$F" | tail -n1 |
			sed -n 's/.* generation=\([0-9]*\) .*/\1/p')" = "$gen"
	check "no failed commit on spare$d" bash -c "! grep -q '^@commit_errors' '$F'"
done
check "@batch_blocks[spare0, remap]: 4 requests" \
	test "$(hist_count "$F" batch_blocks "spare0, remap")" = 4
check "@batch_blocks[spare0, unremap]: 2 requests" \
	test "$(hist_count "$F" batch_blocks "spare0, unremap")" = 2
check "@batch_blocks[spare0, commit]: 2 requests" \
	test "$(hist_count "$F" batch_blocks "spare0, commit")" = 2
check "@batch_us[spare1, remap]: 2 requests" \
	test "$(hist_count "$F" batch_us "spare1, remap")" = 2
check "batch lines carry the blocks changed (1000-block remap)" \
	grep -qE "^[0-9:]+ batch  disk=spare0 op=remap count=1000 " "$F"
check "histogram buckets with counts" \
	grep -qE '^\[[0-9]+[KM]?, [0-9]+[KM]?\) +[1-9][0-9]* \|' "$F"

dmsetup remove r0
dmsetup remove r1
finish
