#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The DKMS path for real, staged below a DESTDIR (DKMS's own --sourcetree,
# --dkmstree and --installtree options; nothing of the host is touched):
# `make dkms-install` registers the source, DKMS builds the module against
# the kernel's headers and installs it with the tool, units and rules;
# `make dkms-uninstall` removes the module and the source again.
set -u
# shellcheck source=tests/unit/lib.sh
. "$(dirname "$0")/lib.sh"

command -v dkms >/dev/null || { echo "SKIP: no dkms (make deps)"; exit 77; }
kver=$("$top/tests/kver" "${KVER:-}") || exit 1
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
D=$T/root
ko=$D/lib/modules/$kver/updates/dkms/dm-remap.ko
dk() {
	dkms --sourcetree "$D/usr/src" --dkmstree "$D/var/lib/dkms" \
		--installtree "$D/lib/modules" "$@"
}
system_before=$(ls -d /var/lib/dkms/dm-remap /usr/src/dm-remap-* \
	/lib/modules/*/updates/dkms/dm-remap.ko 2>/dev/null)

if make -s -C "$top" dkms-install DESTDIR="$D" PREFIX=/usr KVER="$kver" \
	>"$T/install.log" 2>&1; then
	ok "make dkms-install DESTDIR=... (kernel $kver)"
else
	ko "make dkms-install DESTDIR=..."
	tail -n 20 "$T/install.log"
fi
check "source registered in $D/usr/src/dm-remap-$ver" \
	test -f "$D/usr/src/dm-remap-$ver/dkms.conf" -a -f "$D/usr/src/dm-remap-$ver/Kbuild"
st=$(dk status -m dm-remap -k "$kver" 2>&1)
check "dkms status: installed for $kver ($st)" \
	grep -q "^dm-remap/$ver, $kver, x86_64: installed" <<<"$st"
check "module installed in updates/dkms/" test -f "$ko"
check "module built for $kver" \
	test "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver"
check "module answers to the dm-remap alias" \
	sh -c "modinfo -F alias '$ko' | grep -qx dm-remap"
check "the rest installed as make install does" \
	test -x "$D/usr/sbin/dm-remap-tool" -a -f "$D/usr/lib/systemd/system/dm-remap@.service" \
	-a -f "$D/usr/lib/udev/rules.d/61-dm-remap.rules"

if make -s -C "$top" dkms-uninstall DESTDIR="$D" KVER="$kver" >"$T/uninstall.log" 2>&1; then
	ok "make dkms-uninstall DESTDIR=..."
else
	ko "make dkms-uninstall DESTDIR=..."
	tail -n 20 "$T/uninstall.log"
fi
check "module removed" test ! -e "$ko"
check "source removed" test ! -e "$D/usr/src/dm-remap-$ver"
check "dkms status: nothing left" test -z "$(dk status -m dm-remap 2>/dev/null)"
check "nothing of the host touched" test "$(ls -d /var/lib/dkms/dm-remap /usr/src/dm-remap-* \
	/lib/modules/*/updates/dkms/dm-remap.ko 2>/dev/null)" = "$system_before"

finish "dkms"
