#!/bin/bash
# Install every Debian package dm-remap needs to build, test, trace and
# benchmark; idempotent, and silent when everything is already there.
set -euo pipefail

# The kernels the VM tests boot, with their matching headers, by package
# name: Debian 12's 6.1 (linux-image-amd64) and 6.12 (tests/kver).
mapfile -t kernel_pkgs < <("$(dirname "$0")/kver" --packages | tr ' ' '\n')
pkgs=(
	build-essential "${kernel_pkgs[@]}" linux-source-6.1
	qemu-system-x86 qemu-utils busybox-static cpio kmod dmsetup
	libdevmapper-dev libblkid-dev fio liburcu-dev bpftrace linux-perf sparse clang
	llvm libclang-rt-14-dev gnuplot-nox python3 xz-utils prometheus-node-exporter curl
	dkms lvm2
)
quiet=0
[ "${1:-}" = --quiet ] && quiet=1

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Image and headers in one transaction so their versions match.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif [ $quiet = 0 ]; then
	echo "deps: all packages present"
fi

# checkpatch.pl and dm-dust.c come from the kernel source tarball.
if [ ! -f /usr/src/linux-source-6.1/scripts/checkpatch.pl ]; then
	tar -C /usr/src -xJf /usr/src/linux-source-6.1.tar.xz \
		linux-source-6.1/scripts linux-source-6.1/drivers/md \
		linux-source-6.1/include linux-source-6.1/Documentation/dev-tools
fi

for k in $("$(dirname "$0")/kver" --list); do
	"$(dirname "$0")/kver" "$k" >/dev/null || exit 1
done
