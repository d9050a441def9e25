# SPDX-License-Identifier: GPL-2.0-only
# The README's "Using it on a real host" steps, run as a new user types them:
# the first sh block of that section, line by line, in a guest whose /usr and
# /etc are writable overlays (so `make install` and depmod write into the
# guest only), then the README's insmod alternative after an rmmod.
# `make` is run with the build targets marked done: the host built them
# against this kernel's headers already (rebuilding them under TCG only
# costs time).
# vm-timeout: 600
. "$(dirname "$0")/../lib.sh"
requires_module overlay loop

# A host has static /dev/loop-control (kmod static-nodes) that loads loop on
# first use; this guest has no such node until loop is loaded.
modprobe -a overlay loop
for d in /usr /etc; do
	mkdir -p "/tmp/ovl$d/u" "/tmp/ovl$d/w"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=/tmp/ovl$d/u,workdir=/tmp/ovl$d/w" "$d"
done
# depmod over the whole 9p modules tree takes minutes under TCG: give this
# kernel a modules tree with its index files and only the modules dm_remap
# may load (symlinks into the real tree), as tests/vm/cases/dkms-alias.sh.
mods=/lib/modules/$(uname -r)
needed=$(modprobe --show-depends -a dm_bufio libcrc32c crc32c 2>/dev/null |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
mkdir -p /tmp/mods-real /tmp/mods-rw
mount --bind "$mods" /tmp/mods-real
mount -t tmpfs tmpfs /tmp/mods-rw
cp -P /tmp/mods-real/modules.order /tmp/mods-real/modules.builtin* /tmp/mods-real/build /tmp/mods-rw/
for m in $needed; do
	rel=${m#"$mods"/}
	mkdir -p "/tmp/mods-rw/$(dirname "$rel")"
	ln -s "/tmp/mods-real/$rel" "/tmp/mods-rw/$rel"
done
mount --bind /tmp/mods-rw "$mods"
depmod -a

block=$(awk '/^## Using it on a real host/ { s = 1 } s && /^```sh$/ { b = 1; next }
	b && /^```$/ { exit } b { print }' "$TOP/README.md")
alt=$(sed -n 's/^`\(modprobe -a dm_mod [^`]*insmod dm-remap.ko\)`$/\1/p' "$TOP/README.md")
check "README host block found" test -n "$block"
check "README insmod alternative found" test -n "$alt"
log "README block:"
printf '%s\n' "$block"

cd "$TOP"
check "dm_remap not loaded yet" sh -c "! grep -q '^dm_remap ' /proc/modules"
cat >/tmp/readme.sh <<EOS
set -ex
make() { command make -o module -o userspace "\$@"; }
$block
EOS
if bash /tmp/readme.sh >"$OUT/readme.log" 2>&1; then
	ok "README host steps run as written"
else
	fail "README host steps failed: $(tail -n 8 "$OUT/readme.log")"
fi
check "installed module in updates/" test -f "/lib/modules/$(uname -r)/updates/dm-remap.ko"
check "dm_remap loaded by modprobe" grep -q '^dm_remap ' /proc/modules
check "status printed a health field" grep -q 'health=' "$OUT/readme.log"
check "ping answered pong" grep -qx pong "$OUT/readme.log"
check "r0 removed at the end" sh -c "! dmsetup info r0 >/dev/null 2>&1"

# What `make install` added for boot-time activation, and the
# initramfs-tools hook: module, tool (with its libraries), remaptab and udev
# rule in the image.
for f in /usr/local/sbin/dm-remap-tool /usr/lib/systemd/system-generators/dm-remap-generator \
	/usr/lib/systemd/system/dm-remap@.service /usr/lib/systemd/system/remap.target \
	/usr/lib/systemd/system/dm-remap-monitor.service /usr/lib/systemd/system/dm-remap-scrub.timer \
	/usr/lib/systemd/system/dm-remap-scrub.service /usr/lib/udev/rules.d/61-dm-remap.rules \
	/usr/share/initramfs-tools/hooks/dm-remap /usr/share/initramfs-tools/scripts/local-top/dm-remap; do
	check "installed $f" test -f "$f"
done
echo "data /dev/disk/by-id/virtio-x - spare=tail:8M" >/etc/remaptab
# The hook as mkinitramfs runs it (its environment, hook-functions, the
# image tree in DESTDIR), without the other hooks: a whole mkinitramfs
# takes minutes under TCG.
img=/tmp/initramfs-tree
mkdir -p "$img"
if env DESTDIR="$img" version="$(uname -r)" MODULESDIR="/lib/modules/$(uname -r)" \
	CONFDIR=/etc/initramfs-tools verbose=n TMPDIR=/tmp \
	/usr/share/initramfs-tools/hooks/dm-remap >"$OUT/hook.log" 2>&1; then
	ok "initramfs hook runs"
else
	fail "initramfs hook: $(tail -n 5 "$OUT/hook.log")"
fi
(cd "$img" && find . | sed 's|^\./||') >/tmp/initrd.list
for f in 'updates/dm-remap.ko$' "kernel/drivers/md/dm-bufio$KO_RE" "\(lib/crc32c\|libcrc32c\)$KO_RE" \
	'usr/local/sbin/dm-remap-tool$' 'libdevmapper.so' 'libblkid.so' '^etc/remaptab$' \
	'rules.d/61-dm-remap.rules$'; do
	check "initramfs has $f" grep -q "$f" /tmp/initrd.list
done
check "initramfs remaptab is /etc/remaptab" cmp -s /etc/remaptab "$img/etc/remaptab"
check "local-top script: sh -n" sh -n /usr/share/initramfs-tools/scripts/local-top/dm-remap
check "local-top script opens --all" grep -q 'dm-remap-tool open --all' /usr/share/initramfs-tools/scripts/local-top/dm-remap

# The insmod alternative: from nothing loaded but the remap's users.
rmmod dm_remap
if (cd "$TOP" && eval "$alt") >"$OUT/alt.log" 2>&1; then
	ok "README insmod alternative loads the module"
else
	fail "README insmod alternative failed: $(tail -n 4 "$OUT/alt.log")"
fi
check "dm_remap loaded by insmod" grep -q '^dm_remap ' /proc/modules
finish
