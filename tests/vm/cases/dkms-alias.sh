# SPDX-License-Identifier: GPL-2.0-only
# Packaging: `make install DESTDIR=...` installs the expected files, and an
# installed dm-remap.ko is found by `dmsetup create` through the "dm-remap"
# module alias (the kernel's request_module), with no insmod/modprobe of it.
# vm-timeout: 420
. "$(dirname "$0")/../lib.sh"
requires_module null_blk
requires_cmd make

kver=$(uname -r)
ko=$TOP/dm-remap.ko

# 1. make install into a scratch DESTDIR (without rebuilding: -o marks the
# build targets done; the host's `make` already built them).
dest=/tmp/destdir
log "make install DESTDIR=$dest"
if make -C "$TOP" -s -o module -o userspace install DESTDIR="$dest" \
	KVER="$kver" PREFIX=/usr/local >"$OUT/make-install.log" 2>&1; then
	ok "make install DESTDIR=... succeeded"
else
	fail "make install DESTDIR=... failed: $(tail -n5 "$OUT/make-install.log")"
fi
want="lib/modules/$kver/updates/dm-remap.ko
usr/lib/systemd/system-generators/dm-remap-generator
usr/lib/systemd/system/dm-remap-monitor.service
usr/lib/systemd/system/dm-remap-scrub.service
usr/lib/systemd/system/dm-remap-scrub.timer
usr/lib/systemd/system/dm-remap@.service
usr/lib/systemd/system/remap.target
usr/lib/udev/rules.d/61-dm-remap.rules
usr/local/sbin/dm-remap-tool
usr/local/share/man/man5/remaptab.5
usr/local/share/man/man8/dm-remap-tool.8
usr/share/initramfs-tools/hooks/dm-remap
usr/share/initramfs-tools/scripts/local-top/dm-remap"
got=$(cd "$dest" && find . -type f | sed 's|^\./||' | sort)
for f in $want; do
	check "installed $f" test -f "$dest/$f"
done
extra=$(printf '%s\n' "$got" | grep -vxF "$want" || true)
check "nothing else installed (extra: ${extra:-none})" test -z "$extra"
check "installed module is the built one" cmp -s "$ko" "$dest/lib/modules/$kver/updates/dm-remap.ko"
check "installed tool is executable" test -x "$dest/usr/local/sbin/dm-remap-tool"

# 2. modinfo: the alias dmsetup relies on.
check "modinfo alias dm-remap" sh -c "modinfo -F alias '$ko' | grep -qx dm-remap"
check "modinfo name dm_remap" sh -c "modinfo -F name '$ko' | grep -qx dm_remap"

# The devices first, while the real modules tree is in place; only dm_mod,
# null_blk and configfs are loaded by hand.
modprobe dm_mod
nullb_setup
nullb_create main0 64
nullb_create spare0 16

# 3. A writable modules tree for this kernel: the host root is read-only
# here. Keep a view of the real tree, then lay a tmpfs over it with its
# modules.* files, symlinks to the modules dm_remap may need (so that depmod
# has little to read over 9p), and updates/dm-remap.ko; then run depmod.
mods=/lib/modules/$kver
needed=$(modprobe --show-depends -a dm_bufio libcrc32c crc32c 2>/dev/null |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
mkdir -p /tmp/mods-real /tmp/mods-rw
mount --bind "$mods" /tmp/mods-real
mount -t tmpfs tmpfs /tmp/mods-rw
cp /tmp/mods-real/modules.order /tmp/mods-real/modules.builtin* /tmp/mods-rw/
for m in $needed; do
	rel=${m#"$mods"/}
	mkdir -p "/tmp/mods-rw/$(dirname "$rel")"
	ln -s "/tmp/mods-real/$rel" "/tmp/mods-rw/$rel"
done
mkdir -p /tmp/mods-rw/updates
cp "$ko" /tmp/mods-rw/updates/dm-remap.ko
mount --bind /tmp/mods-rw "$mods"
check "depmod" depmod -a "$kver"
check "modules.alias maps dm-remap to dm_remap" \
	grep -q '^alias dm-remap dm_remap$' "$mods/modules.alias"
check "modprobe resolves dm_remap to updates/" \
	sh -c "modprobe --show-depends dm_remap | grep -q 'updates/dm-remap.ko'"

# The kernel runs its module helper from the initramfs root, not from this
# chroot: point it at a shim that runs the host's modprobe here (on a real
# host /sbin/modprobe is that modprobe) and records how it was called.
cat >/tmp/modprobe-shim <<'EOF'
#!/bin/busybox sh
echo "$*" >>/host/tmp/modprobe-calls
exec /bin/busybox chroot /host /sbin/modprobe "$@"
EOF
chmod +x /tmp/modprobe-shim
old_helper=$(cat /proc/sys/kernel/modprobe)
echo /host/tmp/modprobe-shim >/proc/sys/kernel/modprobe

# 4. dmsetup create with dm_remap not loaded.
check "dm_remap not loaded before dmsetup create" \
	sh -c "! grep -q '^dm_remap ' /proc/modules"
: >/tmp/modprobe-calls
L=$(sectors /dev/main0)
SL=$(sectors /dev/spare0)
check "dmsetup create finds the remap target without insmod" \
	dmsetup create r0 --table "0 $L remap /dev/main0 /dev/spare0 0 $SL"
log "modprobe calls: $(tr '\n' ';' </tmp/modprobe-calls)"
check "the kernel asked for dm-remap" grep -q 'dm-remap' /tmp/modprobe-calls
check "lsmod shows dm_remap" sh -c "lsmod | grep -q '^dm_remap '"
check "dmsetup message ping" sh -c "dmsetup message r0 0 ping | grep -q pong"
check "I/O through the auto-loaded target" \
	dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=16 oflag=direct status=none
check "dmsetup remove" dmsetup remove r0
check "rmmod dm_remap" rmmod dm_remap
nullb_remove main0
nullb_remove spare0

echo "$old_helper" >/proc/sys/kernel/modprobe
umount "$mods"
umount /tmp/mods-rw
umount /tmp/mods-real
finish
