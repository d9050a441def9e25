# SPDX-License-Identifier: GPL-2.0-only
# fio exec_prerun / exec_postrun hook of bench/guest/scrub.sh. fio runs the
# prerun before the job's clock starts and the postrun after its I/O ended:
#   bash scrub-hook.sh start|stop DEV OUT TAG
# start: `scrub start` on DEV, then its status; stop: the status, then
# `scrub stop`. Appends "TAG start|stop <us> <us> <us> <status line>"
# (tab-separated) to OUT: the guest times (us) when the hook began and
# around `dmsetup status`. scrub.sh runs it from /tmp with OUT in /tmp, so
# that no 9p round trip (the guest idle, its clock jumping under icount)
# stretches the time between the two statuses.
set -euo pipefail
export DM_DISABLE_UDEV=1
op=$1 dev=$2 out=$3 tag=$4
t_in=${EPOCHREALTIME/./}
[ "$op" != start ] || dmsetup message "$dev" 0 scrub start
t0=${EPOCHREALTIME/./}
st=$(dmsetup status "$dev")
t1=${EPOCHREALTIME/./}
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tag" "$op" "$t_in" "$t0" "$t1" "$st" >>"$out"
[ "$op" != stop ] || dmsetup message "$dev" 0 scrub stop
