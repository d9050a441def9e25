#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Prepare (and cache) a kernel tree from Debian's linux-source-SERIES package:
# base config + fragments, verified, then the given make targets.
#
#   build-tree.sh --series 6.12 --name compat --base defconfig \
#       --frag tests/kernel/compat.config --targets modules_prepare
#   build-tree.sh --series 6.1 --name debug --base x86_64_defconfig \
#       --frag kernel/configs/kvm_guest.config --frag tests/kernel/debug.config \
#       --targets "bzImage modules" --modules-install
#
# Everything lives OUTSIDE the checkout, in $DMR_KCACHE (default
# /var/cache/dm-remap): the pristine source once per package version in
# src/linux-source-SERIES-<version>/, and each configured tree in
# NAME-<package version>-<config hash>/: objects in build/ (make O=; build
# out-of-tree modules with `make -C <dir>/build M=...`), with
# --modules-install the modules in mods/lib/modules/<release>/, and
# kernelrelease, build-seconds, build.log. A finished tree (stamp .done) is
# reused at once.
# Prints the tree directory as the last line of stdout; progress goes to
# stderr and to <dir>/build.log. Builds run under `nice -n 19`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
series="" name="" base="defconfig" targets="" modinst=0
frags=()
while [ $# -gt 0 ]; do
	case "$1" in
	--series) series=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--base) base=$2; shift 2 ;;
	--frag) frags+=("$2"); shift 2 ;;
	--targets) targets=$2; shift 2 ;;
	--modules-install) modinst=1; shift ;;
	*) echo "build-tree: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$series" ] && [ -n "$name" ] && [ -n "$targets" ] || {
	echo "build-tree: need --series, --name and --targets" >&2
	exit 2
}

pkg=linux-source-$series
tarball=/usr/src/$pkg.tar.xz
if [ ! -r "$tarball" ]; then
	echo "build-tree: installing $pkg" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "$pkg" >&2 || {
		apt-get update -q >&2
		apt-get install -y -q "$pkg" >&2
	}
fi
for p in bc bison flex libelf-dev libssl-dev make gcc xz-utils dwarves; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$p" >&2
done
version=$(dpkg-query -W -f '${Version}' "$pkg" | tr "~:+" "___")

# The key: everything that decides the .config and the objects.
hash=$({
	echo "base=$base targets=$targets modinst=$modinst"
	for f in "${frags[@]}"; do
		case "$f" in
		/* | tests/*) cat "$top/${f#"$top"/}" 2>/dev/null || cat "$f" ;;
		*) echo "in-tree $f" ;;
		esac
	done
	gcc --version | head -n1
} | sha256sum | cut -c1-12)
cache=${DMR_KCACHE:-/var/cache/dm-remap}
dir=$cache/$name-$version-$hash
mkdir -p "$cache"

if [ -f "$dir/.done" ]; then
	echo "build-tree: cached $dir" >&2
	echo "$dir"
	exit 0
fi

# One builder at a time per tree; a second caller waits, then reuses.
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
log=$dir/build.log
start=$SECONDS
echo "build-tree: preparing $dir (log: $log)" >&2
src=$cache/src/$pkg-$version
{
	# The source, shared by every configuration of this version.
	exec 8>"$src.lock"
	flock 8
	if [ ! -f "$src/.extracted" ]; then
		rm -rf "$src"
		mkdir -p "$src"
		nice -n 19 tar -xaf "$tarball" -C "$src" --strip-components=1
		touch "$src/.extracted"
	fi
	exec 8>&-
	mkdir -p "$dir/build"
	cd "$dir/build"
	make -s -C "$src" O="$dir/build" "$base"
	fragpaths=() projfrags=()
	for f in "${frags[@]}"; do
		case "$f" in
		/*) fragpaths+=("$f") projfrags+=("$f") ;;
		tests/*) fragpaths+=("$top/$f") projfrags+=("$top/$f") ;;
		*) fragpaths+=("$src/$f") ;;
		esac
	done
	if [ ${#fragpaths[@]} -gt 0 ]; then
		"$src/scripts/kconfig/merge_config.sh" -m .config "${fragpaths[@]}" >/dev/null
	fi
	make -s olddefconfig
	# Every symbol the project's fragments set (the last one that names it
	# wins; in-tree fragments such as kvm_guest.config are best effort)
	# must have survived olddefconfig; "=m" is satisfied by "=y".
	bad=0
	while read -r sym val; do
		got=$(sed -n "s/^$sym=//p" .config)
		if [ "$val" = unset ]; then
			[ -z "$got" ] && continue
		elif [ "$got" = "$val" ] || { [ "$val" = m ] && [ "$got" = y ]; }; then
			continue
		fi
		echo "build-tree: $sym wanted $val, got ${got:-unset}"
		bad=1
	done < <(cat /dev/null "${projfrags[@]}" | awk '
		/^CONFIG_[A-Za-z0-9_]+=/ { i = index($0, "="); want[substr($0, 1, i - 1)] = substr($0, i + 1); next }
		/^# CONFIG_[A-Za-z0-9_]+ is not set/ { want[$2] = "unset" }
		END { for (s in want) print s, want[s] }')
	[ "$bad" = 0 ] || exit 1
	# shellcheck disable=SC2086
	nice -n 19 make -j"$(nproc)" $targets
	if [ "$modinst" = 1 ]; then
		rm -rf "$dir/mods"
		nice -n 19 make -s modules_install INSTALL_MOD_PATH="$dir/mods"
	fi
	make -s kernelrelease >"$dir/kernelrelease"
} >"$log" 2>&1 || {
	echo "build-tree: FAILED after $((SECONDS - start))s; last lines of $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
}
echo "$((SECONDS - start))" >"$dir/build-seconds"
touch "$dir/.done"
echo "build-tree: ready in $((SECONDS - start))s: $dir" >&2
echo "$dir"
