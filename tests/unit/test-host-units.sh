#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The boot integration without booting: `make -C tools install DESTDIR=`
# installs the expected files with the tool's path substituted; the
# generator (run as systemd runs it, with $SYSTEMD_REMAPTAB) writes one
# dm-remap@NAME.service per line with the device bindings and target links
# of its options; `systemd-analyze verify` accepts every unit; a remaptab
# with an error still gets units for its good lines and a failing exit.
set -u
# shellcheck source=tests/unit/lib.sh
. "$(dirname "$0")/lib.sh"

# 1. install into a DESTDIR, as a package would (PREFIX=/usr).
make -s -C "$top/tools" install DESTDIR="$T/root" PREFIX=/usr >"$T/install.log" 2>&1 ||
	{ ko "make install"; cat "$T/install.log"; }
want="usr/lib/systemd/system-generators/dm-remap-generator
usr/lib/systemd/system/dm-remap-monitor.service
usr/lib/systemd/system/dm-remap-scrub.service
usr/lib/systemd/system/dm-remap-scrub.timer
usr/lib/systemd/system/dm-remap@.service
usr/lib/systemd/system/remap.target
usr/lib/udev/rules.d/61-dm-remap.rules
usr/sbin/dm-remap-tool
usr/share/initramfs-tools/hooks/dm-remap
usr/share/initramfs-tools/scripts/local-top/dm-remap
usr/share/man/man5/remaptab.5
usr/share/man/man8/dm-remap-tool.8"
got=$(cd "$T/root" && find . -type f | sed 's|^\./||' | sort)
check "installed files" test "$got" = "$want"
[ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got")
check "no @SBINDIR@ left" sh -c "! grep -rl '@SBINDIR@' '$T/root'"
check "units run /usr/sbin/dm-remap-tool" \
	grep -q '^ExecStart=/usr/sbin/dm-remap-tool open %I$' "$T/root/usr/lib/systemd/system/dm-remap@.service"
check "generator runs /usr/sbin/dm-remap-tool" \
	grep -q '^exec /usr/sbin/dm-remap-tool generate "\$@"$' "$T/root/usr/lib/systemd/system-generators/dm-remap-generator"
for f in hooks/dm-remap scripts/local-top/dm-remap; do
	check "initramfs $f: sh -n" sh -n "$T/root/usr/share/initramfs-tools/$f"
	check "initramfs $f: executable" test -x "$T/root/usr/share/initramfs-tools/$f"
done

# 2. the same install pointing at the built tool, so that verify finds it.
tools=$top/tools
make -s -C "$tools" install DESTDIR="$T/v" PREFIX=/usr SBINDIR="$tools" >/dev/null 2>&1
gen=$T/v/usr/lib/systemd/system-generators/dm-remap-generator
cat >"$T/remaptab" <<'EOF2'
# a comment
data  /dev/disk/by-id/virtio-main  -  spare=tail:8M
r-1   PARTUUID=1234-5  /dev/vdb  nofail,auto_remap=off
lazy  LABEL=x%y  UUID=0a-1b  noauto
EOF2
mkdir -p "$T/gen" "$T/early" "$T/late"
SYSTEMD_REMAPTAB=$T/remaptab "$gen" "$T/gen" "$T/early" "$T/late" 2>"$T/gen.err"
check "generator exits 0" test $? = 0
check "generator quiet" test ! -s "$T/gen.err"
links=$(cd "$T/gen" && find . -type l -printf '%p -> %l\n' | sed 's|^\./||' | sort)
want_links="dev-mapper-data.device.requires/dm-remap@data.service -> ../dm-remap@data.service
dev-mapper-lazy.device.requires/dm-remap@lazy.service -> ../dm-remap@lazy.service
dev-mapper-r\\x2d1.device.requires/dm-remap@r-1.service -> ../dm-remap@r-1.service
remap.target.requires/dm-remap@data.service -> ../dm-remap@data.service
remap.target.wants/dm-remap@r-1.service -> ../dm-remap@r-1.service
sysinit.target.wants/remap.target -> /usr/lib/systemd/system/remap.target"
check "generated links (requires, wants for nofail, none for noauto)" test "$links" = "$want_links"
[ "$links" = "$want_links" ] || diff <(echo "$want_links") <(echo "$links")
u=$T/gen/dm-remap@data.service
esc() { systemd-escape -p --suffix=device "$1"; }
check "data: bound to its disk ($(esc /dev/disk/by-id/virtio-main))" \
	grep -qxF "BindsTo=$(esc /dev/disk/by-id/virtio-main)" "$u"
check "data: before its blockdev target" grep -qx 'Before=blockdev@dev-mapper-data.target remap.target umount.target' "$u"
check "data: stopped at shutdown" grep -qx 'Conflicts=umount.target' "$u"
check "data: ExecStart" grep -qxF "ExecStart=$tools/dm-remap-tool open \"data\" \"/dev/disk/by-id/virtio-main\" \"-\" \"spare=tail:8M\"" "$u"
check "data: ExecStop" grep -qxF "ExecStop=$tools/dm-remap-tool close \"data\"" "$u"
u=$T/gen/dm-remap@r-1.service
check "r-1: bound to both devices" grep -qxF "BindsTo=$(esc /dev/disk/by-partuuid/1234-5) $(esc /dev/vdb)" "$u"
check "r-1: escaped blockdev target" grep -qxF 'Before=blockdev@dev-mapper-r\x2d1.target remap.target umount.target' "$u"
u=$T/gen/dm-remap@lazy.service
check "lazy: LABEL/UUID devices" grep -qxF "BindsTo=$(esc /dev/disk/by-label/x%y) $(esc /dev/disk/by-uuid/0a-1b)" "$u"
check "lazy: % escaped in ExecStart" grep -qF '"LABEL=x%%y"' "$u"

# 3. systemd-analyze verify: generated units, the template, the target, the
# monitor, the scrub service and its timer.
units=$T/v/usr/lib/systemd/system
cp "$units/dm-remap@.service" "$units/remap.target" "$units/dm-remap-monitor.service" \
	"$units/dm-remap-scrub.service" "$units/dm-remap-scrub.timer" "$T/gen/"
if (cd "$T/gen" && SYSTEMD_UNIT_PATH=$T/gen: systemd-analyze verify --man=no \
	dm-remap@data.service dm-remap@r-1.service dm-remap@lazy.service \
	dm-remap@manual.service remap.target dm-remap-monitor.service \
	dm-remap-scrub.service dm-remap-scrub.timer) >"$T/verify" 2>&1; then
	ok "systemd-analyze verify"
else
	ko "systemd-analyze verify"
fi
# verify checks the units it was given: anything it says is a finding.
check "systemd-analyze verify printed nothing" test ! -s "$T/verify"
sed 's/^/    /' "$T/verify"

# 4. a remaptab with an error: its line is reported and skipped, exit 1.
printf 'good /dev/vda /dev/vdb\nbad /dev/vdc\n' >"$T/bad"
mkdir -p "$T/gen2"
SYSTEMD_REMAPTAB=$T/bad "$gen" "$T/gen2" "$T/early" "$T/late" 2>"$T/gen2.err"
check "generator: exit 1 on an error" test $? = 1
check "generator: line reported" grep -qF "$T/bad:2: expected NAME MAIN SPARE [OPTIONS], found 2 fields" "$T/gen2.err"
check "generator: good line still generated" test -f "$T/gen2/dm-remap@good.service"
check "generator: nothing for the bad line" test ! -e "$T/gen2/dm-remap@bad.service"
mkdir -p "$T/gen3"
SYSTEMD_REMAPTAB=$T/none "$gen" "$T/gen3" "$T/early" "$T/late"
check "generator: no remaptab, exit 0" test $? = 0
check "generator: no remaptab, no units" test -z "$(ls -A "$T/gen3")"

finish "host unit"
