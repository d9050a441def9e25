# SPDX-License-Identifier: GPL-2.0-only
# LVM on a remap device: the raw main disk carries the same PV label at the
# same offset (the remap device maps it 1:1 except remapped blocks). With
# remaptab(5)'s global_filter line (taken from the man page, naming the
# disk by a /dev/disk/by-id link as udev would) LVM sees the PV once, on the
# remap device, and the LV runs on it with its data, remapped block
# included. Without the filter LVM 2.03.16 warns about the duplicate and
# refuses to activate the LV.
# vm-timeout: 600
. "$(dirname "$0")/../lib.sh"
requires_module null_blk loop
requires_cmd lvm pvcreate vgcreate lvcreate lvchange pvs vgs
requires_target linear

# The guest's /etc is read-only and has no udev: LVM reads its lvm.conf
# from LVM_SYSTEM_DIR, keeps backups there, and creates the device nodes
# itself.
export LVM_SYSTEM_DIR=/tmp/lvm LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$LVM_SYSTEM_DIR" /run/lock/lvm
BASE='devices { obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }'
LINK=/dev/disk/by-id/ata-DMR_MAIN0

# lvm_conf [LINE]: lvm.conf with BASE and LINE in its devices section.
lvm_conf() {
	printf '%s\ndevices {\n%s\n}\n' "$BASE" "${1:-}" >"$LVM_SYSTEM_DIR/lvm.conf"
}

# lvm_run NAME CMD...: run CMD, stdout to /tmp/NAME.out, stderr to
# /tmp/NAME.err, both copied to $OUT/lvm.log; CMD's exit status.
lvm_run() {
	local name=$1 rc=0
	shift
	"$@" >"/tmp/$name.out" 2>"/tmp/$name.err" || rc=$?
	{
		echo "# $* (exit $rc)"
		cat "/tmp/$name.out" "/tmp/$name.err"
	} >>"$OUT/lvm.log"
	return $rc
}

# deps_of DM_NAME: the major:minor of the devices its table uses, sorted.
deps_of() {
	dmsetup deps -o devno "$1" | grep -o '([0-9]*, [0-9]*)' | tr -d '() ' | tr , : | sort
}

# The main disk is a loop device, a type LVM scans like a disk: it skips
# null_blk devices (not among its known block device types).
load_module
nullb_setup
M=$(loop_create /tmp/main.img 64)
nullb_create spare0 16
remap_create r0 "$(sectors "$M")" "$M" /dev/spare0 0 "$(sectors /dev/spare0)"
R0=$(devno /dev/mapper/r0) MAIN=$(devno "$M")
mkdir -p "${LINK%/*}"
ln -s "../../${M#/dev/}" "$LINK"
: >"$OUT/lvm.log"

filter=$(sed -n 's/^\.B \(global_filter = .*\)$/\1/p' "$TOP/docs/man/remaptab.5" |
	sed 's/\\(dq/"/g; s|/dev/disk/by-id/ata-DISK1|'"$LINK"'|')
check "remaptab(5) global_filter line found ($filter)" test -n "$filter"
lvm_conf "$filter"
log "lvm.conf:"
cat "$LVM_SYSTEM_DIR/lvm.conf"

set +e
check "pvcreate on the remap device" lvm_run pvcreate pvcreate -y /dev/mapper/r0
check "vgcreate" lvm_run vgcreate vgcreate vg0 /dev/mapper/r0
check "lvcreate" lvm_run lvcreate lvcreate -y -n lv0 -L 16M vg0
LV=/dev/mapper/vg0-lv0
check "LV node $LV" test -b "$LV"
pe=$(pvs --noheadings --units s --nosuffix -o pe_start /dev/mapper/r0 | tr -d ' ')
check "PV data starts at sector $pe" test "${pe:-0}" -gt 0

# The PV label (LABELONE in sector 1) is on the raw disk, at the same offset.
dd if="$M" of=/tmp/label-main bs=512 count=8 iflag=direct status=none
dd if=/dev/mapper/r0 of=/tmp/label-r0 bs=512 count=8 iflag=direct status=none
check "remap device: PV label (LABELONE) in sector 1" \
	sh -c 'dd if=/tmp/label-r0 bs=512 skip=1 count=1 status=none | grep -qa LABELONE'
check "raw main disk: the same first 4 KiB, PV label included" cmp -s /tmp/label-main /tmp/label-r0

# Remap LV block 10 (4 KiB), then write the LV: that block's new data is on
# the spare area only, the rest on the main disk at the same offsets.
rb=10
dmsetup message r0 0 remap $((pe + rb * 8)) 8 >/dev/null
check "LV block $rb remapped" test "$(dmr_query r0 $((pe / 8 + rb)))" = remapped
dd if=/dev/urandom of=/tmp/data bs=1M count=4 status=none
check "write 4 MiB to the LV" dd if=/tmp/data of="$LV" bs=1M oflag=direct status=none
dd if="$M" of=/tmp/raw bs=512 skip="$pe" count=8192 iflag=direct status=none
diff=$(cmp -l /tmp/data /tmp/raw | awk '{ print int(($1 - 1) / 4096) }' | sort -un | tr '\n' ' ')
check "raw main disk at the LV's offset: same bytes except block $rb (differ: $diff)" \
	test "$diff" = "$rb "

# 1. With the filter: one PV, on the remap device; the LV runs on it.
check "pvs (filter)" lvm_run pvs pvs --noheadings -o pv_name,vg_name
log "pvs: $(cat /tmp/pvs.out)"
pv=$(awk '{ print $1 }' /tmp/pvs.out)
uuid=$(pvs --noheadings -o pv_uuid /dev/mapper/r0 | tr -d ' ')
check "pvs: one PV" test "$(wc -l </tmp/pvs.out)" = 1
check "pvs: the PV is the remap device ($pv)" test "$(devno "$pv")" = "$R0"
check "pvs: no duplicate warning" test ! -s /tmp/pvs.err
check "vgs (filter)" lvm_run vgs vgs --noheadings -o vg_name,pv_count,lv_count
vg=$(xargs </tmp/vgs.out)
check "vgs: vg0, 1 PV, 1 LV ($vg)" test "$vg" = "vg0 1 1"
check "vgs: no duplicate warning" test ! -s /tmp/vgs.err
check "deactivate" lvm_run lvchange lvchange -an vg0/lv0
check "LV gone" test ! -e "$LV"
check "activate" lvm_run lvchange lvchange -ay vg0/lv0
check "activation: no warning" test ! -s /tmp/lvchange.err
check "LV table uses the remap device ($R0) only, not the disk ($MAIN)" \
	test "$(deps_of vg0-lv0)" = "$R0"
lvdm=$(dmsetup info -c --noheadings -o blkdevname vg0-lv0)
r0dm=$(dmsetup info -c --noheadings -o blkdevname r0)
check "sysfs: the LV's only slave is $r0dm" test "$(ls /sys/block/"$lvdm"/slaves)" = "$r0dm"
check "LV data reads back, remapped block included" cmp -n 4194304 /tmp/data "$LV"
check "deactivate" lvm_run lvchange lvchange -an vg0/lv0

# 2. Without the filter LVM finds the PV twice. LVM 2.03.16 keeps the
# device named in the VG metadata (the remap device, where the PV was
# created), warns about the other, and refuses to activate the VG's LVs.
# Its messages go to $OUT/lvm.log only: run-vm fails on "WARNING:" in the
# console.
lvm_conf
for i in 1 2; do
	lvm_run pvs-nf pvs --noheadings -o pv_name,vg_name
	pv=$(awk '{ print $1 }' /tmp/pvs-nf.out)
	check "no filter ($i): pvs lists the PV once, on the remap device ($pv)" \
		test "$(wc -l </tmp/pvs-nf.out)" = 1 -a "$(devno "$pv")" = "$R0"
	check "no filter ($i): pvs says: Not using device $M for PV $uuid" \
		grep -qxF "  WARNING: Not using device $M for PV $uuid." /tmp/pvs-nf.err
	check "no filter ($i): pvs says: PV prefers device /dev/mapper/r0 because device name matches previous" \
		grep -qxF "  WARNING: PV $uuid prefers device /dev/mapper/r0 because device name matches previous." \
		/tmp/pvs-nf.err
done
expect_fail "no filter: vgchange -ay fails" lvm_run vgchange-nf vgchange -ay vg0
check "no filter: vgchange says: Cannot activate LVs in VG vg0 while PVs appear on duplicate devices" \
	grep -qF "Cannot activate LVs in VG vg0 while PVs appear on duplicate devices." /tmp/vgchange-nf.err
check "no filter: the LV is not active" sh -c '! dmsetup info vg0-lv0 >/dev/null 2>&1'

# The filter back: the LV activates on the remap device, data intact.
lvm_conf "$filter"
check "filter again: vgchange -ay" lvm_run vgchange vgchange -ay vg0
check "filter again: LV on the remap device only" test "$(deps_of vg0-lv0)" = "$R0"
check "filter again: LV data reads back" cmp -n 4194304 /tmp/data "$LV"
check "vgchange -an" lvm_run vgchange vgchange -an vg0

finish
