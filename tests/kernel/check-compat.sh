#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `make check-compat`: build dm-remap.ko with W=1 against the headers of
# Debian's 6.1 and 6.12 kernels (the two the VM tests boot) and against a
# 6.12 tree prepared from linux-source-6.12 (defconfig +
# tests/kernel/compat.config + modules_prepare, cached outside the checkout
# by build-tree.sh). Fails on any compiler or modpost warning, and on a symbol
# the module needs that the 6.12 tree does not export.
#
# Each build runs in a copy under build/compat/<name>/, so the checkout's own
# objects (built against the VM kernel) are never touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"

fails=0

# copy_sources DIR: the module's sources, as Kbuild sees them.
copy_sources() {
	rm -rf "$1"
	mkdir -p "$1"
	cp -a Kbuild src include "$1/"
	find "$1" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
		-o -name '*.mod.c' \) -delete
}

# build NAME KDIR [make args...]: W=1 build, fail on any warning.
build() {
	local name=$1 kdir=$2 dir=build/compat/$1 log start
	shift 2
	copy_sources "$dir"
	log=$dir/build.log
	start=$SECONDS
	echo "check-compat: $name: building against $kdir"
	if ! make -C "$kdir" M="$top/$dir" W=1 "$@" modules >"$log" 2>&1; then
		echo "check-compat: $name: BUILD FAILED ($log):"
		grep -E -A3 'error|warning' "$log" | head -n 40
		fails=$((fails + 1))
		return 0
	fi
	# With no Module.symvers (a modules_prepare tree), modpost cannot
	# resolve kernel symbols: those notes are expected, checked below.
	if grep -E 'warning:|error:|WARNING:' "$log" |
		grep -v -E 'WARNING: modpost: "[A-Za-z0-9_.]+" \[.*\] undefined!' |
		grep -v -E 'WARNING: Module.symvers is missing|Symbol info of vmlinux is missing' |
		grep -v -E 'WARNING: modpost: suppressed [0-9]+ unresolved symbol warnings' \
			>"$dir/warnings.txt"; then
		echo "check-compat: $name: WARNINGS:"
		cat "$dir/warnings.txt"
		fails=$((fails + 1))
		return 0
	fi
	echo "check-compat: $name: clean (W=1) in $((SECONDS - start))s"
}

# exported_check NAME TREE: every undefined symbol of the module must be
# exported by the tree (or be compiler/arch glue that .S files export,
# exports made by token pasting, or linker-script aliases).
exported_check() {
	local name=$1 tree=$2 dir=build/compat/$1 missing
	[ -f "$dir/dm-remap.ko" ] || return 0
	if [ ! -s "$tree/exports.txt" ]; then
		grep -rhoE --include='*.c' --include='*.h' --include='*.S' \
			'EXPORT_(SYMBOL|PER_CPU_SYMBOL|STATIC_CALL|STATIC_CALL_TRAMP|TRACEPOINT_SYMBOL)(_GPL)?(_NS(_GPL)?)?\(\s*[A-Za-z0-9_]+' \
			"$tree/build/source/" | sed -E 's/.*\(\s*//' | sort -u >"$tree/exports.txt.tmp"
		mv "$tree/exports.txt.tmp" "$tree/exports.txt"
	fi
	missing=$(nm -u "$dir/dm-remap.ko" | awk '{ print $2 }' | while read -r s; do
		case "$s" in
		__fentry__ | __x86_* | __stack_chk_fail | __ref_stack_chk_guard | \
			__SCK__* | __SCT__* | __tracepoint_* | __traceiter_* | \
			param_get_* | param_set_* | param_ops_* | const_pcpu_hot) continue ;;
		esac
		grep -qx -- "$s" "$tree/exports.txt" || echo "$s"
	done)
	if [ -n "$missing" ]; then
		echo "check-compat: $name: symbols not exported by the tree: $(echo $missing)"
		fails=$((fails + 1))
	else
		echo "check-compat: $name: every undefined symbol is exported"
	fi
}

# 1. Debian's kernels the VM tests boot (tests/kver --list), whose headers
#    have a Module.symvers: modpost resolves every symbol for real.
for k in $(tests/kver --list); do
	if kver=$(tests/kver "$k"); then
		build "debian-$kver" "/lib/modules/$kver/build"
	else
		fails=$((fails + 1))
	fi
done

# 2. The 6.12 tree, prepared once and cached.
start=$SECONDS
tree=$(tests/kernel/build-tree.sh --series 6.12 --name compat --base defconfig \
	--frag tests/kernel/compat.config --targets modules_prepare | tail -n1)
echo "check-compat: 6.12 tree $tree ready in $((SECONDS - start))s"
release=$(cat "$tree/kernelrelease")
build "linux-$release" "$tree/build" KBUILD_MODPOST_WARN=1
exported_check "linux-$release" "$tree"

if [ "$fails" = 0 ]; then
	echo "check-compat: OK"
else
	echo "check-compat: $fails problem(s)"
	exit 1
fi
