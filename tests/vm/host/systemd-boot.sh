#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A host deployment booted with systemd as PID 1 (Debian's systemd from the
# host root under a tmpfs overlay, two virtio disks named by by-id): what
# `make install` installs, /etc/remaptab naming the disks by
# /dev/disk/by-id, an fstab line UUID=<fs uuid> for the ext4 that the main
# disk carries, the monitor enabled, and Debian's prometheus-node-exporter.
# Boot 1: the remap device is open and mounted by local-fs.target, the raw
# disk is hidden (not mounted, no by-uuid link, udisks/LVM flags), the
# monitor runs; blocks of a file are remapped, then the hook has run, the
# journal has the lines and node-exporter's /metrics the counts; then an
# unclean power-off (sysrq o). Boot 2: the device comes back with the same
# remaps and the file's bytes.
#
# Host mode (no arguments): run by tests/run-all. Guest mode ("guest N"):
# run by the dmr-test.service unit the initramfs writes.
set -uo pipefail

if [ "${1:-}" = guest ]; then
	boot=$2
	W=$3
	R=$W/boot$boot.log
	: >"$R"
	ok() { echo "ok: $*" | tee -a "$R" >/dev/ttyS0; }
	fail() { echo "FAIL: $*" | tee -a "$R" >/dev/ttyS0; }
	check() {
		local d=$1
		shift
		if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d"; fi
	}
	wait_for() {
		local d=$1 i
		shift
		for ((i = 0; i < 600; i++)); do
			if "$@" >/dev/null 2>&1; then ok "$d"; return 0; fi
			sleep 0.1
		done
		fail "$d (not within 60 s)"
		return 1
	}
	fsuuid=$(cat "$W/fsuuid")
	main=/dev/disk/by-id/virtio-remapmain

	check "dm-remap@data.service active" systemctl is-active dm-remap@data.service
	check "remap.target active" systemctl is-active remap.target
	check "/srv/data is /dev/mapper/data" test "$(findmnt -n -o SOURCE /srv/data)" = /dev/mapper/data
	m=$(systemctl show -P ActiveEnterTimestampMonotonic srv-data.mount)
	l=$(systemctl show -P ActiveEnterTimestampMonotonic local-fs.target)
	check "mounted before local-fs.target ($m <= $l)" test "$m" -gt 0 -a "$m" -le "$l"
	check "the raw disk is not mounted" test -z "$(findmnt -n -S "$(realpath $main)")"
	check "by-uuid link is the remap device" \
		test "$(realpath "/dev/disk/by-uuid/$fsuuid")" = "$(realpath /dev/mapper/data)"
	props=$(udevadm info -q property "$main")
	check "udev: raw disk marked DM_REMAP_MAIN=data" grep -qx 'DM_REMAP_MAIN=data' <<<"$props"
	check "udev: raw disk UDISKS_IGNORE=1" grep -qx 'UDISKS_IGNORE=1' <<<"$props"
	if grep -q '^ID_FS_TYPE=.' <<<"$props"; then
		fail "udev: raw disk has no ID_FS_TYPE (LVM/md rules skip it): $(grep '^ID_FS' <<<"$props" | tr '\n' ' ')"
	else
		ok "udev: raw disk has no ID_FS_TYPE (LVM/md rules skip it)"
	fi
	check "DM uuid REMAP-..." sh -c "dmsetup info -c --noheadings -o uuid data | grep -q '^REMAP-'"
	check "monitor active" systemctl is-active dm-remap-monitor.service
	wait_for "node-exporter serves /metrics" sh -c "curl -sf http://127.0.0.1:9100/metrics >/tmp/m0"

	if [ "$boot" = 1 ]; then
		head -c 1048576 /dev/urandom >/srv/data/file
		sync -f /srv/data/file
		sha256sum </srv/data/file >"$W/sum"
		check "metrics: 0 remapped at start" grep -q '^dm_remap_remapped_blocks{device="data"} 0$' /tmp/m0
		# the file's first physical extent: the blocks to remap
		start=$(filefrag -v -b512 /srv/data/file | awk '$1 == "0:" { sub(/\.\..*/, "", $4); print $4 }')
		check "file extent found ($start)" test -n "$start"
		out=$(dmsetup message data 0 remap "$start" 64)
		check "remap of 8 blocks of the file: $out" grep -q 'remapped=8' <<<"$out"
		wait_for "hook ran for the health change" grep -q 'DM_REMAP_EVENT=health.*DM_REMAP_HEALTH=degraded' "$W/hook.log"
		wait_for "hook ran for the remaps with sector $start" grep -q "DM_REMAP_EVENT=remap.*DM_REMAP_SECTORS=$start " "$W/hook.log"
		check "journal: health change" sh -c "journalctl -b -u dm-remap-monitor -o cat | grep -q 'data: health ok -> degraded'"
		check "journal: remapped sector" sh -c "journalctl -b -u dm-remap-monitor -o cat | grep -q 'data: sector $start remapped'"
		wait_for "node-exporter /metrics: 8 remapped" sh -c \
			"curl -sf http://127.0.0.1:9100/metrics | grep -q '^dm_remap_remapped_blocks{device=\"data\"} 8\$'"
		curl -sf http://127.0.0.1:9100/metrics | grep '^dm_remap_' >"$W/metrics1"
		check "node-exporter /metrics: health degraded" grep -q '^dm_remap_health{device="data",state="degraded"} 1$' "$W/metrics1"
		dmsetup message data 0 list >"$W/list1"
		check "file reads back" sh -c "echo 3 >/proc/sys/vm/drop_caches; sha256sum </srv/data/file | cmp -s - '$W/sum'"
		journalctl -b -u dm-remap-monitor -o cat >"$W/journal1" 2>&1
		sync
		echo "unclean power-off" >/dev/ttyS0
		echo 1 >/proc/sys/kernel/sysrq
		echo o >/proc/sysrq-trigger
	else
		dmsetup message data 0 list >/tmp/list2
		check "boot 2: same remaps listed" cmp -s /tmp/list2 "$W/list1"
		check "boot 2: file identical" sh -c "sha256sum </srv/data/file | cmp -s - '$W/sum'"
		check "boot 2: health degraded" sh -c "dmsetup status data | grep -q health=degraded"
		wait_for "boot 2: node-exporter /metrics: 8 remapped" sh -c \
			"curl -sf http://127.0.0.1:9100/metrics | grep -q '^dm_remap_remapped_blocks{device=\"data\"} 8\$'"
		check "boot 2: dm-remap-tool status" sh -c "dm-remap-tool status data | grep -q 'data: health degraded, 8 remapped'"
		echo "DMR-DONE" >>"$R"
		systemctl poweroff
	fi
	exit 0
fi

top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top"
# The kernel KVER names (tests/kver; tests/run-all sets it), with the
# module built for it.
kver=$(tests/kver "${KVER:-}") || exit 1
remap_ko=$(tests/kmod "$kver") || exit 1
echo "systemd-boot: kernel $kver, module $remap_ko"
W=$top/build/vm/systemd-boot-$kver
rm -rf "$W"
mkdir -p "$W/stage/bin" "$W/stage/lib/modules" "$W/logs"
command -v prometheus-node-exporter >/dev/null ||
	{ echo "SKIP: prometheus-node-exporter not installed (make deps)"; exit 77; }

# Disks: an ext4 on the main disk (the remap device serves the same
# sectors), a blank spare.
truncate -s 128M "$W/main.img"
truncate -s 32M "$W/spare.img"
fsuuid=$(cat /proc/sys/kernel/random/uuid)
echo "$fsuuid" >"$W/fsuuid"
mkfs.ext4 -q -F -b 4096 -U "$fsuuid" "$W/main.img"

# What make install puts on a host, staged for the guest's overlay.
make -s -C tools install DESTDIR="$W/root" PREFIX=/usr/local >"$W/install.log" 2>&1 ||
	{ echo "FAIL: make install"; cat "$W/install.log"; exit 1; }
mkdir -p "$W/root/etc/dm-remap/hooks.d" "$W/root/etc/systemd/system/multi-user.target.wants"
cat >"$W/root/etc/remaptab" <<'EOF'
# remap device over the first virtio disk, spare area on the second
data /dev/disk/by-id/virtio-remapmain /dev/disk/by-id/virtio-remapspare
EOF
printf 'UUID=%s /srv/data ext4 defaults 0 2\n' "$fsuuid" >"$W/root/etc/fstab"
cat >"$W/root/etc/dm-remap/hooks.d/50-record" <<EOF
#!/bin/sh
env | grep '^DM_REMAP_' | sort | tr '\\n' ' ' >>$W/hook.log
echo >>$W/hook.log
EOF
chmod +x "$W/root/etc/dm-remap/hooks.d/50-record"
ln -s /usr/lib/systemd/system/dm-remap-monitor.service \
	"$W/root/etc/systemd/system/multi-user.target.wants/"
cat >"$W/root/etc/systemd/system/dmr-test.service" <<EOF
[Unit]
Description=dm-remap systemd boot test
After=local-fs.target dm-remap-monitor.service prometheus-node-exporter.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/bash $top/tests/vm/host/systemd-boot.sh guest @BOOT@ $W
EOF
# Units of the host image that have nothing to do here.
for u in postgresql.service e2scrub_reap.service getty@tty1.service \
	apt-daily.timer apt-daily-upgrade.timer man-db.timer systemd-timesyncd.service \
	dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
	ln -s /dev/null "$W/root/etc/systemd/system/$u"
done

# Initramfs: busybox, the modules to reach 9p and the disks, overlayfs,
# dm-remap and its dependencies (loaded here: the host root's modules
# index does not know dm-remap.ko), and an init that switches to systemd.
for m in virtio_pci virtio_blk 9pnet_virtio 9p overlay crc32c dm_bufio libcrc32c; do
	modprobe --show-depends -S "$kver" "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' >"$W/mods"
cp /bin/busybox "$W/stage/bin/"
: >"$W/stage/modules.order"
while read -r ko; do
	b=$(basename "$ko")
	case "$ko" in
	*.xz) xz -dc "$ko" >"$W/stage/lib/modules/${b%.xz}"; b=${b%.xz} ;;
	*) cp "$ko" "$W/stage/lib/modules/$b" ;;
	esac
	echo "/lib/modules/$b" >>"$W/stage/modules.order"
done <"$W/mods"
cp "$remap_ko" "$W/stage/lib/modules/"
echo /lib/modules/dm-remap.ko >>"$W/stage/modules.order"
cat >"$W/stage/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /lower /upper /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /modules.order); do insmod "\$m" || echo "dmr-init: insmod \$m failed"; done
boot=\$(sed -n 's/.*dmr.boot=\([0-9]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower
mount -t tmpfs tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot
mkdir -p /newroot$top
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 checkout /newroot$top
cp -a /newroot$W/root/. /newroot/
sed -i "s/@BOOT@/\$boot/" /newroot/etc/systemd/system/dmr-test.service
ln -s ../dmr-test.service /newroot/etc/systemd/system/multi-user.target.wants/dmr-test.service
echo dmr-boot-\$boot >/newroot/etc/hostname
umount /proc /sys /dev
exec switch_root /newroot /lib/systemd/systemd
EOF
chmod +x "$W/stage/init"
(cd "$W/stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$W/initrd.img"

rc=0
for boot in 1 2; do
	log=$W/logs/console-$boot.log
	timeout -k 5 900 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
		-nographic -no-reboot -kernel "/boot/vmlinuz-$kver" -initrd "$W/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 dmr.boot=$boot" \
		-fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
		-fsdev "local,id=p,path=$top,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=p,mount_tag=checkout \
		-drive "file=$W/main.img,format=raw,if=none,id=d0,cache=writeback" \
		-device virtio-blk-pci,drive=d0,serial=remapmain \
		-drive "file=$W/spare.img,format=raw,if=none,id=d1,cache=writeback" \
		-device virtio-blk-pci,drive=d1,serial=remapspare \
		</dev/null >"$log" 2>&1
	r=$W/boot$boot.log
	n=$(grep -c '^ok:' "$r" 2>/dev/null)
	if [ ! -s "$r" ]; then
		echo "FAIL: boot $boot: the test unit did not run (console: $log)"
		tr -d '\r' <"$log" | tail -n 40
		rc=1
		break
	fi
	grep '^FAIL' "$r" && rc=1
	echo "boot $boot: $n checks passed"
	if grep -E -q 'WARNING:|BUG:|Oops|Call Trace|blocked for more than' "$log"; then
		echo "FAIL: boot $boot: kernel report on the console"
		grep -E 'WARNING:|BUG:|Oops|Call Trace|blocked for more than' "$log" | head
		rc=1
	fi
done
[ $rc = 0 ] && ! grep -q DMR-DONE "$W/boot2.log" && { echo "FAIL: boot 2 did not finish"; rc=1; }
[ $rc = 0 ] && rm -f "$W/main.img" "$W/spare.img"
echo "systemd-boot: $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
