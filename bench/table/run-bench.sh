#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs the table benchmark and/or the callgrind count; prints markdown.
# Usage: run-bench.sh all|quick|callgrind BIN
set -eu
mode=$1
bin=$2

lookups() {
	echo "## Lookup throughput and memory"
	echo
	echo "$(uname -m), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo
	"$bin" "$@"
	echo
}

callgrind() {
	n=100000
	out=$(mktemp -d)
	echo "## Instructions per lookup (valgrind --tool=callgrind)"
	echo
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
		"$bin" --callgrind $n >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
	grep -q "results ok" "$out/log" || { cat "$out/log"; exit 1; }
	callgrind_annotate --inclusive=yes "$out/cg.out" >"$out/ann" 2>/dev/null
	echo "100k-entry table; $n lookups per loop; dmr_index_find_rcu() inlined into"
	echo "a loop (loop overhead included, rcu_read_lock() excluded)."
	echo
	echo "| lookup kind | instructions/lookup |"
	echo "|---|---:|"
	for f in cg_loop_hit:"hit" cg_loop_miss:"miss (passes summary, probes)" \
		 cg_loop_skip:"miss (summary skip)" cg_loop_lfht_hit:"cds_lfht hit (for comparison)"; do
		fn=${f%%:*}
		label=${f#*:}
		ir=$(grep -E "[[:space:]]\*?[^[:space:]]*:${fn}([[:space:]]|$)" "$out/ann" |
		     head -n1 | awk '{ gsub(",", "", $1); print $1 }')
		[ -n "$ir" ] || { echo "no count for $fn" >&2; exit 1; }
		echo "| $label | $(awk -v a="$ir" -v n=$n 'BEGIN { printf "%.1f", a / n }') |"
	done
	echo
	rm -rf "$out"
}

case $mode in
all)		lookups; callgrind ;;
quick)		lookups 1000 100000 1000000 ;;
callgrind)	callgrind ;;
*)		echo "usage: $0 all|quick|callgrind BIN" >&2; exit 2 ;;
esac
