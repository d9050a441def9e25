# SPDX-License-Identifier: GPL-2.0-only
# Seeded concurrency torture (tests/helpers/dmr-torture.c): stamped O_DIRECT
# I/O checked against a model of acknowledged writes, while remap/unremap/
# query/list/commit/auto_remap messages, status polling, faults toggled on
# main and spare (dm-flakey, error target, null_blk bad sectors),
# suspend/resume and reloads with other features run concurrently; then
# everything healed, the device re-created and verified, and the spare's
# metadata checked with dm-remap-tool. A violation prints the seed and the
# last operations.
#   torture.sh [DURATION [SEED [THREADS [DRIVER-OPTION...]]]]
#   (or DMR_TORTURE_DURATION, DMR_TORTURE_SEED, DMR_TORTURE_THREADS;
#   defaults: 120 s guest time, a seed from the clock, 4 I/O threads;
#   driver options such as -R or -X msgs: dmr-torture -h; DMR_TORTURE_ROUND,
#   default 300 s, is the longest run on one pair of devices)
# `make torture DURATION=... [SEED=...]` runs it longer.
# vm-timeout: 600
. tests/vm/lib.sh
requires_module null_blk
requires_target flakey
DURATION=${1:-${DMR_TORTURE_DURATION:-120}}
SEED=${2:-${DMR_TORTURE_SEED:-}}
THREADS=${3:-${DMR_TORTURE_THREADS:-4}}
shift $(($# < 3 ? $# : 3))
TORTURE=$TOP/build/bin/dmr-torture
load_module
nullb_setup
# 1024 blocks, the first 128 hot; a 108-slot spare area, so the spare runs
# full and frees up again under the manual remaps. Bad slots are permanent,
# so a long run goes in rounds of at most ROUND s on fresh devices, each
# with its own seed (SEED, SEED+1, ...).
ROUND=${DMR_TORTURE_ROUND:-300}
SPARE_LEN=1024
[ -n "$SEED" ] || SEED=$(($(date +%s) % 1000000))
left=$DURATION round=0
while [ "$left" -gt 0 ]; do
	d=$((left < ROUND ? left : ROUND))
	seed=$((SEED + round))
	nullb_create tmain0 4 512
	nullb_create tspare0 1 512
	geometry_of 4096 "$(sectors /dev/tmain0)" 0 "$SPARE_LEN"
	log "torture round $round: ${d} s, ${THREADS} I/O threads, seed $seed," \
		"$GEO_NR_SLOTS slots"
	args=(-m tmain0 -S tspare0 -D "$GEO_DATA_START" -L "$SPARE_LEN" -d "$d"
		-t "$THREADS" -H 128 -n tt -s "$seed" "$@")
	set +e
	"$TORTURE" "${args[@]}" 2>&1 | tee "$OUT/torture.log"
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		fail "torture: exit $rc; replay: make torture DURATION=$d SEED=$seed"
		dmsetup status 2>/dev/null || true
		finish
		exit 1
	fi
	ok "torture seed $seed: no violation in $d s, every block verified after re-create"
	# The spare's metadata, read offline, holds what the re-created device showed.
	read -r U R P <<<"$(sed -n 's/^dmr-torture: final: used=\([0-9]*\) remaps=\([0-9]*\) pending=\([0-9]*\)$/\1 \2 \3/p' "$OUT/torture.log")"
	if out=$("$DMR_TOOL" check /dev/tspare0 2>&1); then
		log "$(grep -E '^(records|result):' <<<"$out" | tr '\n' ' ')"
		read -r M B TP <<<"$(sed -n 's/^records: \([0-9]*\) mapped, \([0-9]*\) bad, \([0-9]*\) pending.*/\1 \2 \3/p' <<<"$out")"
		check "seed $seed: dm-remap-tool check of the spare: clean" tool_says "$out" "^result: clean"
		check "seed $seed: its records ($M mapped, $B bad, $TP pending) match the status (spare used $U, remaps $R, pending $P)" \
			test "$M $((M + B)) $TP" = "$R $U $P"
	else
		fail "seed $seed: dm-remap-tool check of the spare: $out"
	fi
	nullb_remove tmain0
	nullb_remove tspare0
	left=$((left - d)) round=$((round + 1))
done
check "rmmod dm_remap" unload_module
finish
