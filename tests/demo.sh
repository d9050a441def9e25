#!/bin/bash
# `make demo`: install what is missing, build, boot the VM and show a remap
# device at work (the guest side is tests/vm/demo-guest.sh, also run by the
# VM case tests/vm/cases/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh --quiet
make -s all >build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
rm -f build-demo.log
echo "== booting the test VM (kernel $(tests/kver "${KVER:-}"), TCG; about a minute)"
start=$SECONDS
rc=0
tests/vm/run-vm --name make-demo --timeout 900 tests/vm/demo-guest.sh 2>build/demo-run-vm.log || rc=$?
sed -n '/DMR-START/,/DMR-RESULT/{/DMR-\(START\|RESULT\)/d;p}' build/vm-logs/make-demo/console.log |
	tr -d '\r'
if [ "$rc" != 0 ]; then
	# The guest's last lines say what failed; run-vm adds a timeout or a
	# kernel report (its copy of the console's end is left out).
	if [ "$rc" = 124 ]; then cat build/demo-run-vm.log; else
		sed '/: end of console.log:$/,$d' build/demo-run-vm.log
	fi
	echo "make demo: FAILED (exit $rc); logs in build/vm-logs/make-demo/"
	exit "$rc"
fi
rm -f build/demo-run-vm.log
echo
echo "make demo: passed ($((SECONDS - start)) s)"
