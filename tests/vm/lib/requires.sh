# SPDX-License-Identifier: GPL-2.0-only
# requires_*: what a case needs, said at its top; without it the case skips.
# Touches: nothing but the dm target modules that requires_target loads.

# skip REASON...: end the case as skipped (exit 77); run-vm and
# tests/results.sh show the last line, "SKIP: REASON", as blktests does.
skip() {
	echo "SKIP: $*"
	exit 77
}

# requires_module NAME...: the kernel has these modules, loadable or built
# in (nothing is loaded).
requires_module() {
	local m
	for m in "$@"; do
		modprobe -n -q "$m" || skip "kernel $(uname -r) has no $m module"
	done
}

# requires_target NAME...: device-mapper has these target types once dm-NAME
# is loaded (`dmsetup targets`); loads them, as nothing else does in the
# guest (the kernel's request_module has no modprobe there).
requires_target() {
	local t have
	modprobe -q dm_mod || skip "kernel $(uname -r) has no device-mapper (dm_mod)"
	for t in "$@"; do
		modprobe -q "dm-$t" || true
	done
	have=$(dmsetup targets | awk '{ print $1 }')
	for t in "$@"; do
		grep -qxF -- "$t" <<<"$have" ||
			skip "kernel $(uname -r) has no dm target $t (dm-$t)"
	done
}

# requires_cmd CMD...: these commands are installed.
requires_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "no $c command (make deps)"
	done
}

# requires_btf: the kernel has BTF, which bpftrace needs to read its structs.
requires_btf() {
	[ -e /sys/kernel/btf/vmlinux ] ||
		skip "kernel $(uname -r) has no BTF (/sys/kernel/btf/vmlinux)"
}
