# SPDX-License-Identifier: GPL-2.0-only
# Sourced by guest test scripts (run inside the VM by run-vm): devices,
# module loading and assertions shared by every VM test. The helpers live in
# tests/vm/lib/, one file per concern; a case sources only this file.
set -euo pipefail
export DM_DISABLE_UDEV=1
TOP=${DMR_CHECKOUT:-$(pwd)}
OUT=${DMR_OUT:-/tmp}
IOTEST=$TOP/build/bin/dmr-iotest

# The pieces sit next to this file (no dirname: processes are slow under TCG).
for _lib in core requires module nullb blk dm scsi_debug fio remap; do
	. "${BASH_SOURCE[0]%lib.sh}lib/$_lib.sh"
done
unset _lib
