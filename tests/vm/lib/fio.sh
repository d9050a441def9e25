# SPDX-License-Identifier: GPL-2.0-only
# fio runs with crc32c verify, and reading fio's JSON output.
# Touches: the device it is given, $OUT/fio-verify.log.

# fio_verify DEV SIZE [extra fio args]: write then verify with crc32c.
fio_verify() {
	local dev=$1 size=$2 lbs
	shift 2
	lbs=$(blockdev --getss "$dev")
	fio --name=verify --filename="$dev" --size="$size" --ioengine=libaio \
		--direct=1 --rw=randwrite --bsrange="$lbs-64k" --blockalign="$lbs" \
		--iodepth=8 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 \
		"$@" >"$OUT/fio-verify.log" 2>&1
}

# fio_json FILE EXPR: evaluate the Python expression EXPR over the fio JSON
# output in FILE (bound to j; jobs = j['jobs']); prints the result.
fio_json() {
	python3 -I -S - "$@" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{'):])
jobs = j['jobs']
print(eval(sys.argv[2]))
PY
}
