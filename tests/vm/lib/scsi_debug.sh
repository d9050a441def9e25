# SPDX-License-Identifier: GPL-2.0-only
# The scsi_debug disk and its medium errors.
# Touches: /sys/module/scsi_debug/parameters (the case loads the module).

# scsi_debug_disk: the /dev/sdX of the (single) scsi_debug disk, once it
# has appeared.
scsi_debug_disk() {
	local i d
	for i in $(seq 100); do
		for d in /sys/block/sd*; do
			[ -e "$d/device/model" ] || continue
			if grep -q scsi_debug "$d/device/model" && [ -b "/dev/${d##*/}" ]; then
				echo "/dev/${d##*/}"
				return 0
			fi
		done
		sleep 0.1
	done
	return 1
}

# scsi_debug_medium START COUNT: reads of sectors START..START+COUNT-1 of the
# scsi_debug disk fail with MEDIUM ERROR (COUNT 0: none fail).
scsi_debug_medium() {
	local p=/sys/module/scsi_debug/parameters
	echo "$1" >$p/medium_error_start
	echo "$2" >$p/medium_error_count
	if [ "$2" -gt 0 ]; then echo 2 >$p/opts; else echo 0 >$p/opts; fi
}
