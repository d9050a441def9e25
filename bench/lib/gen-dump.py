#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write a dm-remap-tool text dump (docs/metadata-format.md §10) with N
mappings, for `dm-remap-tool restore` onto a benchmark spare device.

  gen-dump.py --main-sectors S --region-blocks R --count N --mode unhit OUT
  gen-dump.py --main-sectors S --region-blocks R --mode hit OUT

unhit: N main blocks spread evenly over [R, nr_blocks), i.e. outside the
       I/O region [0, R) that fio uses; slots 0..N-1.
hit:   every block of the I/O region, block b -> slot b.

The spare area is sized so that it holds exactly the slots needed plus
--slack; spare_start is left out of the dump (restore -s gives it, default
0). Prints "spare_len <sectors>" on stdout for the table line.
"""
import argparse
import sys

E = (4096 - 48) // 8          # records per entry block (506)
K = 8                         # pending-block pairs


def md_sectors(slots, bs_sectors):
    n = -(-slots // E)
    md_blocks = 2 + 2 * n + 2 * K
    s = 8 * md_blocks
    return -(-s // bs_sectors) * bs_sectors


def need(slots, bs_sectors):
    return md_sectors(slots, bs_sectors) + slots * bs_sectors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--main-sectors", type=int, required=True)
    ap.add_argument("--region-blocks", type=int, required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--mode", choices=("unhit", "hit"), required=True)
    ap.add_argument("--block-size", type=int, default=4096)
    ap.add_argument("--slack", type=int, default=1024,
                    help="free slots beyond the mapped ones")
    ap.add_argument("out")
    a = ap.parse_args()

    bss = a.block_size // 512
    nr_blocks = a.main_sectors // bss
    region = a.region_blocks
    if a.mode == "hit":
        blocks = range(region)
        count = region
    else:
        count = a.count
        rest = nr_blocks - region
        if count > rest:
            sys.exit("gen-dump: %d remaps do not fit outside the region" % count)
        # i * rest // count is strictly increasing for count <= rest.
        blocks = (region + i * rest // count for i in range(count))
    spare_len = need(count + a.slack, bss)

    with open(a.out, "w") as f:
        f.write("# dm-remap benchmark dump: %s, %d mappings\n" % (a.mode, count))
        f.write("version 1\n")
        f.write("block_size %d\n" % a.block_size)
        f.write("main_sectors %d\n" % a.main_sectors)
        f.write("spare_len %d\n" % spare_len)
        f.write("nr_mapped %d\n" % count)
        f.write("".join("map %d %d\n" % (b, s) for s, b in enumerate(blocks)))
        f.write("end\n")
    print("spare_len %d" % spare_len)


if __name__ == "__main__":
    main()
