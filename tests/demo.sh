#!/bin/bash
# `make demo`: install what is missing, build, boot the VM and show a remap
# device at work (the guest side is tests/vm/demo-guest.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh --quiet
make -s all >build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
rm -f build-demo.log
echo "== booting the test VM (TCG; about a minute) =="
tests/vm/run-vm --name demo --timeout 900 tests/vm/demo-guest.sh
sed -n '/DMR-START/,/DMR-RESULT/p' build/vm-logs/demo/console.log |
	grep -v -E '^DMR-(START|RESULT)' | tr -d '\r'
