# SPDX-License-Identifier: GPL-2.0-only
# dm-remap-tool monitor: waits for dm events (no polling), logs health
# changes and remapped sectors, runs hooks with the documented environment,
# writes the Prometheus textfile by rename, and follows remap devices that
# appear and go; a scrub pass started by dm-remap-tool scrub is logged,
# hooked and in the metrics; bad scrub commands are refused.
# vm-timeout: 300
. "$(dirname "$0")/../lib.sh"
requires_module null_blk

T=$TOP/tools/dm-remap-tool
load_module
nullb_setup
nullb_create main0 64
nullb_create spare0 16
nullb_create main1 32
nullb_create disk2 64
set +e
# wait_for DESC CMD...: bounded wait for a condition the monitor produces.
wait_for() {
	local desc=$1 i
	shift
	for ((i = 0; i < 60; i++)); do
		if "$@" >/dev/null 2>&1; then ok "$desc"; return; fi
		sleep 0.5
	done
	fail "$desc (not within 30 s)"
	log "monitor log so far:"; cat /tmp/monitor.log; ls -la /tmp/prom; cat /tmp/prom/dm_remap.prom
}
mkdir -p /tmp/hooks /tmp/prom
cat >/tmp/hooks/10-record <<'EOF2'
#!/bin/sh
env | grep '^DM_REMAP_' | sort | tr '\n' ' ' >>/tmp/hook.log
echo >>/tmp/hook.log
EOF2
chmod +x /tmp/hooks/10-record
: >/tmp/hook.log
log "open r0: $(timeout 30 "$T" open r0 /dev/main0 /dev/spare0 2>&1)"
"$T" monitor --textfile-dir /tmp/prom --hooks-dir /tmp/hooks 2>/tmp/monitor.log &
mon=$!
log "monitor pid $mon"
wait_for "monitor: r0 in the metrics" grep -q 'dm_remap_health{device="r0",state="ok"} 1' /tmp/prom/dm_remap.prom
log "remap: $(timeout 30 dmsetup message r0 0 remap 4096 16 2>&1)"
wait_for "monitor: health hook ran" grep -q 'DM_REMAP_EVENT=health' /tmp/hook.log
wait_for "monitor: remap hook ran with the sectors" grep -q 'DM_REMAP_EVENT=remap.*DM_REMAP_SECTORS=4096 4104' /tmp/hook.log
check "hook env: device, health, old health, counts" \
	grep -q 'DM_REMAP_DEVICE=r0 DM_REMAP_EVENT=health DM_REMAP_HEALTH=degraded DM_REMAP_OLD_HEALTH=ok DM_REMAP_PENDING=0 DM_REMAP_REMAPPED=2 ' /tmp/hook.log
wait_for "metrics: 2 remapped" grep -q '^dm_remap_remapped_blocks{device="r0"} 2$' /tmp/prom/dm_remap.prom
check "metrics: health degraded" grep -q '^dm_remap_health{device="r0",state="degraded"} 1$' /tmp/prom/dm_remap.prom
check "log: health change" grep -q 'r0: health ok -> degraded' /tmp/monitor.log
check "log: remapped sector" grep -q 'r0: sector 4104 remapped to the spare area' /tmp/monitor.log
# A new remap that does not change the health still raises an event.
log "remap: $(timeout 30 dmsetup message r0 0 remap 8192 2>&1)"
wait_for "monitor: a 3rd remap in degraded health is logged" grep -q 'r0: sector 8192 remapped to the spare area' /tmp/monitor.log
wait_for "metrics: 3 remapped" grep -q '^dm_remap_remapped_blocks{device="r0"} 3$' /tmp/prom/dm_remap.prom
check "no temporary metrics file left" sh -c "! ls -A /tmp/prom | grep -v '^dm_remap.prom\$'"
log "open r1: $(timeout 30 "$T" open r1 /dev/disk2 /dev/main1 2>&1)"
wait_for "monitor: a new device is watched" grep -q 'dm_remap_spare_blocks{device="r1"}' /tmp/prom/dm_remap.prom
log "close r1: $(timeout 30 "$T" close r1 2>&1)"
wait_for "monitor: a closed device leaves the metrics" sh -c "! grep -q 'device=\"r1\"' /tmp/prom/dm_remap.prom"
# A scrub pass (what dm-remap-scrub.timer starts): logged, hooked, in the
# metrics, and shown by status.
check "scrub start --all" "$T" scrub start --all
check "scrub pause r0" "$T" scrub pause r0
expect_out 1 "scrub start r0 while paused: refused, says why" "the scrub is paused" \
	"$T" scrub start r0
expect_out 0 "scrub start --all while paused: left as it is" "r0: scrub already paused" \
	"$T" scrub start --all
check "scrub resume r0" "$T" scrub resume r0
wait_for "monitor: scrub pass logged" grep -q 'r0: scrub pass done: 0 pending, 3 remapped' /tmp/monitor.log
wait_for "monitor: scrub hook ran" grep -q 'DM_REMAP_EVENT=scrub' /tmp/hook.log
check "metrics: scrub not running, last pass set" sh -c \
	"grep -q '^dm_remap_scrub_running{device=\"r0\"} 0\$' /tmp/prom/dm_remap.prom &&
	 grep -q '^dm_remap_scrub_last_pass_timestamp_seconds{device=\"r0\"} [1-9]' /tmp/prom/dm_remap.prom"
check "status: the last full pass" sh -c "'$T' status r0 | grep -q 'scrub idle, 0% (block 0/.*), last full pass 2'"
expect_out 2 "scrub with no command" "scrub needs start" "$T" scrub
expect_out 2 "scrub with an unknown command" "unknown scrub command 'go'" "$T" scrub go r0
expect_out 2 "scrub start without NAME" "needs one NAME or --all" "$T" scrub start
expect_out 1 "scrub start of a device that is not open" "nosuch: not open" "$T" scrub start nosuch
check "monitor still running" kill -0 $mon
kill $mon
wait $mon 2>/dev/null
log "monitor log:"
cat /tmp/monitor.log
timeout 30 "$T" close r0
finish
