# SPDX-License-Identifier: GPL-2.0-only
# Device-mapper helpers beyond remap: dm-flakey tables, table switch, devno.
# Touches: the dm devices it is given (reload, suspend, resume).

devno() { printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")"; }

# dm_events NAME: the device's dm event counter.
dm_events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }

# flakey_table DEV SECTORS SPEC...: a dm table over DEV (SECTORS long) that
# is linear except for dm-flakey segments SPEC = FIRST:LEN:UP:DOWN[:FEATURE]
# (sectors, ascending, disjoint). Linux 6.1's dm-flakey: with no feature all
# I/O fails while down; error_writes fails only writes (reads pass).
flakey_table() {
	local dev=$1 total=$2 pos=0 spec first len up down feat
	shift 2
	for spec in "$@"; do
		IFS=: read -r first len up down feat <<<"$spec"
		if [ "$first" -gt "$pos" ]; then
			echo "$pos $((first - pos)) linear $dev $pos"
		fi
		echo "$first $len flakey $dev $first $up $down${feat:+ 1 $feat}"
		pos=$((first + len))
	done
	if [ "$pos" -lt "$total" ]; then
		echo "$pos $((total - pos)) linear $dev $pos"
	fi
}

# dm_switch NAME TABLE: replace NAME's live table (reload, suspend, resume).
dm_switch() {
	printf '%s\n' "$2" | dmsetup reload "$1" && dmsetup suspend "$1" &&
		dmsetup resume "$1"
}
