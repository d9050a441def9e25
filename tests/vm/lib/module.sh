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

# KO_RE: the end of a kernel module's file name, for grep: Debian's 6.12
# kernel ships its modules xz-compressed (CONFIG_MODULE_COMPRESS_XZ,
# dm-bufio.ko.xz), 6.1's uncompressed (dm-bufio.ko).
KO_RE='\.ko\(\.xz\|\.zst\|\.gz\)\?$'
