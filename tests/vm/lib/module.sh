# SPDX-License-Identifier: GPL-2.0-only
# Loading and unloading dm-remap.ko and the modules it depends on.
# Touches: the guest's loaded modules.

load_module() {
	modprobe -a dm_mod dm_bufio libcrc32c
	if ! grep -q '^dm_remap ' /proc/modules; then
		insmod "$TOP/dm-remap.ko" "$@"
	fi
}

unload_module() {
	rmmod dm_remap
}
