#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A host deployment booted with systemd as PID 1 (Debian's systemd from the
# host root under a tmpfs overlay, two virtio disks named by by-id): what
# `make install` installs, /etc/remaptab naming the disks by
# /dev/disk/by-id, an fstab line UUID=<fs uuid> for the ext4 that the main
# disk carries, the monitor enabled, and Debian's prometheus-node-exporter.
# Every boot: the remap device is open and mounted by local-fs.target, the
# raw disk is hidden (not mounted, no by-uuid link, udisks/LVM flags), the
# monitor runs.
# Boot 1, sound disk: a file is written and its sectors recorded.
# Boot 2, the main disk fails as a bad disk does (QEMU blkdebug: EIO from
# virtio-blk for every sector of blocks 2-5 of the file, and for writes to
# block 9): reading the file fails with EIO on exactly those blocks, which
# become pending; the hook, the journal and node-exporter's /metrics show
# them. Rewriting blocks 2-9 in place remaps the 5 bad blocks (pending 0),
# shown again by hook, journal and metrics, and the file reads back its new
# bytes. Then an unclean power-off (sysrq o), without sync.
# Boot 3, the disk still bad: the same remaps, the file's new bytes.
#
# Host mode (no arguments): run by tests/run-all. Guest mode ("guest N"):
# run by the dmr-test.service unit the initramfs writes.
set -uo pipefail

# shellcheck disable=SC2317 # helpers called through check and wait_for
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
	# sorted sectors that the hook got in DM_REMAP_SECTORS for event $1
	hook_sectors() {
		sed -n "s/.*DM_REMAP_EVENT=$1 .*DM_REMAP_SECTORS=\([0-9 ]*\) DM_REMAP_SPARE_FREE=.*/\1/p" \
			"$W/hook.log" | tr ' ' '\n' | grep . | sort -nu | tr '\n' ' '
	}
	hook_saw() { test "$(hook_sectors "$1")" = "$2"; }
	# disk_errors WHAT SECTORS: the kernel logged an I/O error of the main
	# disk ($disk) at each of SECTORS. Those lines are rate-limited (10 per
	# 5 s), and each failed read is retried: a sector whose lines all fell
	# in a suppressed stretch counts if the kernel says it suppressed some,
	# or, as it says so only with its next line, if 10 lines of this disk
	# came first.
	disk_errors() {
		local s
		for s in $2; do
			check "the main disk $1: kernel log has $disk sector $s (or suppressed lines)" \
				sh -c "dmesg | grep -q -e 'I/O error, dev $disk, sector $s ' \
					-e 'blk_print_req_error: [0-9]* callbacks suppressed' ||
				       test \$(dmesg | grep -c 'I/O error, dev $disk, ') -ge 10"
		done
	}
	# sorted sectors that `list` shows pending ($1 = pending) or remapped
	listed() {
		dmsetup message data 0 list |
			awk -v p="$1" 'NR > 1 && (($3 == "pending") == (p == "pending")) { print $1 }' |
			sort -n | tr '\n' ' '
	}
	# (grep reads all its input: pipefail and a writer killed by SIGPIPE)
	journal_has() { journalctl -b -u dm-remap-monitor -o cat | grep -F "$1" >/dev/null; }
	metric() {
		curl -sf http://127.0.0.1:9100/metrics | grep -x "dm_remap_$1{device=\"data\"} $2" >/dev/null
	}
	not() { ! "$@"; }
	# one 4 KiB block of the file, O_DIRECT: fails on an unreadable block
	read_block() { dd if=/srv/data/file of=/tmp/b bs=4096 skip="$1" count=1 iflag=direct status=none; }
	block_reads() { read_block "$1" && cmp -s -n 4096 -i $(($1 * 4096)):0 "$W/orig" /tmp/b; }
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
	check "scrub timer active" systemctl is-active dm-remap-scrub.timer
	wait_for "node-exporter serves /metrics" sh -c "curl -sf http://127.0.0.1:9100/metrics >/tmp/m0"

	case $boot in
	1)
		check "metrics: 0 remapped at start" grep -q '^dm_remap_remapped_blocks{device="data"} 0$' /tmp/m0
		# What the monthly timer runs: a whole pass, no bad block yet.
		check "the scrub service starts a pass" systemctl start dm-remap-scrub.service
		wait_for "the pass ends" sh -c "dmsetup status data | grep -q 'scrub=idle .*scrub_last_pass=[1-9]'"
		check "status: a last full pass" sh -c "dm-remap-tool status data | grep -q 'last full pass 2'"
		head -c 1048576 /dev/urandom >/srv/data/file
		sync -f /srv/data/file
		cp /srv/data/file "$W/orig"
		# The file's first extent (512-byte sectors of the device, which
		# are those of the main disk): its blocks 2-5 will fail reads
		# and writes, block 9 writes only.
		ext=$(filefrag -v -b512 /srv/data/file |
			sed -n 's/^ *0: *\([0-9]*\)\.\. *[0-9]*: *\([0-9]*\)\.\. *[0-9]*: *\([0-9]*\):.*/\1 \2 \3/p')
		read -r lstart start len <<<"$ext"
		if [ "${lstart:-x}" = 0 ] && [ "${len:-0}" -ge 80 ]; then
			ok "file extent found (sector $start, $len sectors)"
			echo $((start + 16)) $((start + 24)) $((start + 32)) $((start + 40)) >"$W/rsect"
			echo $((start + 72)) >"$W/wsect"
		else
			fail "file extent found: '$ext'"
		fi
		echo "DMR-DONE" >>"$R"
		systemctl poweroff
		;;
	2)
		rs=$(cat "$W/rsect")
		ws=$(cat "$W/wsect")
		all=$(echo "$rs $ws" | tr ' ' '\n' | sort -n | tr '\n' ' ')
		rs=$(echo "$rs" | tr ' ' '\n' | sort -n | tr '\n' ' ')
		disk=$(basename "$(realpath $main)")
		check "nothing remapped or pending before the file is read" \
			sh -c "dmsetup status data | grep -q ' remaps=0 pending=0 health=ok '"

		echo 3 >/proc/sys/vm/drop_caches
		err=$(cat /srv/data/file 2>&1 >/dev/null)
		r=$?
		check "reading the file fails (exit $r): $err" \
			test "$r" -ne 0 -a -n "$(grep 'Input/output error' <<<"$err")"
		for b in 0 1 2 3 4 5 6 7 8 9; do
			case $b in
			[2-5]) check "block $b of the file is unreadable (EIO)" not read_block $b ;;
			*) check "block $b of the file reads its bytes" block_reads $b ;;
			esac
		done
		disk_errors "returned EIO" "$rs"
		check "status: 4 pending, 0 remapped" sh -c "dmsetup status data | grep -q ' remaps=0 pending=4 health=degraded '"
		check "list: the 4 unreadable blocks pending ($rs)" test "$(listed pending)" = "$rs"
		wait_for "hook ran for the health change" grep -q 'DM_REMAP_EVENT=health.*DM_REMAP_HEALTH=degraded' "$W/hook.log"
		wait_for "hook ran with DM_REMAP_EVENT=pending for sectors $rs" hook_saw pending "$rs"
		check "hook: no remap event yet" test -z "$(hook_sectors remap)"
		check "journal: health change" journal_has "data: health ok -> degraded"
		for s in $rs; do
			wait_for "journal: sector $s pending" journal_has "data: sector $s unreadable: pending until a whole-block write"
		done
		wait_for "node-exporter /metrics: 4 pending" metric pending_blocks 4
		check "node-exporter /metrics: 0 remapped" metric remapped_blocks 0
		curl -sf http://127.0.0.1:9100/metrics | grep '^dm_remap_' >"$W/metrics2-pending"

		# A user's fix: rewrite the lost blocks (2-5) and their
		# neighbours up to block 9 in place, whole blocks, new bytes.
		head -c $((8 * 4096)) /dev/urandom >"$W/new"
		cp "$W/orig" "$W/expect"
		dd if="$W/new" of="$W/expect" bs=4096 seek=2 conv=notrunc status=none
		check "rewrite of blocks 2-9 in place (O_DIRECT) succeeds" \
			dd if="$W/new" of=/srv/data/file bs=4096 seek=2 count=8 conv=notrunc oflag=direct status=none
		disk_errors "refused the write" "$ws"
		check "status: 5 remapped, 0 pending" sh -c "dmsetup status data | grep -q ' remaps=5 pending=0 health=degraded '"
		check "list: the 5 bad blocks remapped ($all)" test "$(listed remapped)" = "$all"
		check "list: nothing pending" test -z "$(listed pending)"
		wait_for "hook ran with DM_REMAP_EVENT=remap for sectors $all" hook_saw remap "$all"
		for s in $all; do
			wait_for "journal: sector $s remapped" journal_has "data: sector $s remapped to the spare area"
		done
		wait_for "node-exporter /metrics: 5 remapped" metric remapped_blocks 5
		wait_for "node-exporter /metrics: 0 pending" metric pending_blocks 0
		curl -sf http://127.0.0.1:9100/metrics | grep '^dm_remap_' >"$W/metrics2"
		check "node-exporter /metrics: health degraded" grep -q '^dm_remap_health{device="data",state="degraded"} 1$' "$W/metrics2"
		check "node-exporter /metrics: read and write errors counted" \
			sh -c "grep -q '^dm_remap_read_errors_total{device=\"data\"} [1-9]' '$W/metrics2' &&
			       grep -q '^dm_remap_write_errors_total{device=\"data\"} [1-9]' '$W/metrics2'"
		echo 3 >/proc/sys/vm/drop_caches
		check "the whole file reads back with the new blocks" cmp -s /srv/data/file "$W/expect"
		dmsetup message data 0 list >"$W/list2"
		journalctl -b -u dm-remap-monitor -o cat >"$W/journal2" 2>&1
		echo "DMR-DONE" >>"$R"
		# no sync: the O_DIRECT rewrite was acknowledged, so it is durable
		echo "unclean power-off" >/dev/ttyS0
		echo 1 >/proc/sys/kernel/sysrq
		echo o >/proc/sysrq-trigger
		;;
	3)
		rs=$(cat "$W/rsect")
		dmsetup message data 0 list >/tmp/list3
		check "boot 3: same remaps listed" cmp -s /tmp/list3 "$W/list2"
		check "boot 3: status 5 remapped, 0 pending" \
			sh -c "dmsetup status data | grep -q ' remaps=5 pending=0 health=degraded '"
		check "boot 3: file identical (new blocks 2-9)" cmp -s /srv/data/file "$W/expect"
		for s in $rs; do
			check "boot 3: the raw disk still fails reads at sector $s" \
				not dd if=$main of=/dev/null bs=512 skip="$s" count=8 iflag=direct status=none
		done
		wait_for "boot 3: node-exporter /metrics: 5 remapped" metric remapped_blocks 5
		check "boot 3: node-exporter /metrics: 0 pending" metric pending_blocks 0
		check "boot 3: dm-remap-tool status" sh -c "dm-remap-tool status data | grep -q 'data: health degraded, 5 remapped, 0 pending'"
		echo "DMR-DONE" >>"$R"
		systemctl poweroff
		;;
	esac
	exit 0
fi

top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top" || exit 1
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
mkdir -p "$W/root/etc/systemd/system/timers.target.wants"
ln -s /usr/lib/systemd/system/dm-remap-scrub.timer \
	"$W/root/etc/systemd/system/timers.target.wants/"
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

# blkdebug rules that make every sector of the 4 KiB blocks at $@ fail
# with EIO (iotype: "write" for write errors only, "" for reads and writes).
# The raw format driver raises read_aio/write_aio before each request, and
# an event arms only the rules registered for it: register each rule for
# both events, so it is armed whichever request came last.
blkdebug_rules() {
	local iotype=$1 ev s k
	shift
	for ev in read_aio write_aio; do
		for s in "$@"; do
			for ((k = 0; k < 8; k++)); do
				printf '[inject-error]\nevent = "%s"\nerrno = "5"\nsector = "%s"\nonce = "off"\n' \
					"$ev" $((s + k))
				[ -n "$iotype" ] && printf 'iotype = "%s"\n' "$iotype"
				echo
			done
		done
	done
}

# Boot 1 writes the file on a sound disk and records its sectors; boots 2
# and 3 run with those blocks of the main disk failing as a bad disk's do.
rc=0
main_drive="file=$W/main.img"
for boot in 1 2 3; do
	if [ "$boot" = 2 ]; then
		if [ ! -s "$W/rsect" ] || [ ! -s "$W/wsect" ]; then
			echo "FAIL: boot 1 recorded no sectors of the file"
			rc=1
			break
		fi
		# shellcheck disable=SC2046 # lists of sectors
		{ blkdebug_rules "" $(cat "$W/rsect"); blkdebug_rules write $(cat "$W/wsect"); } >"$W/blkdebug.conf"
		main_drive="file=blkdebug:$W/blkdebug.conf:$W/main.img"
	fi
	log=$W/logs/console-$boot.log
	timeout -k 5 900 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
		-nographic -no-reboot -kernel "/boot/vmlinuz-$kver" -initrd "$W/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 dmr.boot=$boot" \
		-fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
		-fsdev "local,id=p,path=$top,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=p,mount_tag=checkout \
		-drive "$main_drive,format=raw,if=none,id=d0,cache=writeback" \
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
	grep -q DMR-DONE "$r" || { echo "FAIL: boot $boot did not finish"; rc=1; }
	if grep -E -q 'WARNING:|BUG:|Oops|Call Trace|blocked for more than' "$log"; then
		echo "FAIL: boot $boot: kernel report on the console"
		grep -E 'WARNING:|BUG:|Oops|Call Trace|blocked for more than' "$log" | head
		rc=1
	fi
done
[ $rc = 0 ] && rm -f "$W/main.img" "$W/spare.img"
echo "systemd-boot: $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
