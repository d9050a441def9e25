#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn the raw output of one bench/run-bench run into a markdown report
and a PNG chart (gnuplot).

  report.py RUN_DIR OUT.md [--check]

RUN_DIR is build/bench/run-<stamp>/ (host.tsv, params.sh, and one
directory per boot: icount/, scaling/, numa/). With --check, exit 3 when a
target of the issue is missed (same boot ratios, icount only).
"""
import json
import os
import statistics
import subprocess
import sys

CONFIG_REMAPS = {
    "linear": "-", "remap-0": "0", "remap-1k": "1,000 unhit",
    "remap-100k": "100,000 unhit", "remap-1M": "1,000,000 unhit",
    "remap-1M-nosummary": "1,000,000 unhit, summary off",
    "remap-all-hit": "every I/O block",
}
WORKLOAD_TEXT = {
    "randread": "4 KiB random read, QD32",
    "randwrite": "4 KiB random write, QD32",
    "seqread": "1 MiB sequential read, QD32",
    "randrw": "4 KiB random 70/30 read/write, QD32",
}
# 4 KiB randread and randwrite: (config, most extra instructions per I/O over
# dm-linear); the other workloads: (config, least remap/linear IOPS ratio).
DELTA_TARGETS = {"remap-0": 60, "remap-1M": 60, "remap-all-hit": 150}
DELTA_WORKLOADS = ("randread", "randwrite")
TARGETS = {"remap-0": 0.97, "remap-1M": 0.97, "remap-all-hit": 0.90}
# Scrub: user IOPS with the scrub running / without it, at least; its rate
# on an idle device, achieved / set, within.
SCRUB_COST_TARGET = 0.90
SCRUB_RATE_TARGET = (0.90, 1.10)


def read_tsv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                out[parts[0]] = parts[1:] if len(parts) > 2 else parts[1]
    return out


def read_rows(path):
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]


def read_params(run):
    p = {}
    for line in open(os.path.join(run, "params.sh")):
        if "=" in line:
            k, v = line.strip().split("=", 1)
            p[k] = v.strip('"')
    return p


def load_fio(path):
    """Jobs of one fio JSON output file (fio may print warnings first)."""
    if not os.path.exists(path):
        return []
    text = open(path).read()
    i = text.find("{")
    if i < 0:
        return []
    try:
        return json.loads(text[i:])["jobs"]
    except ValueError:
        return []


def iops(job):
    return job["read"]["iops"] + job["write"]["iops"]


def lat(job, key):
    """clat p99 / max in microseconds over the directions that did I/O."""
    vals = []
    for d in ("read", "write"):
        s = job[d]
        if s["total_ios"]:
            c = s["clat_ns"]
            if key == "max":
                vals.append(c["max"])
            else:
                vals.append(c.get("percentile", {}).get("99.000000", 0))
    return max(vals) / 1000.0 if vals else 0.0


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def fmt_us(us):
    if us >= 10000:
        return "{:,.1f} ms".format(us / 1000.0)
    return "{:,.0f} µs".format(us) if us >= 100 else "{:,.1f} µs".format(us)


def mem_fields(s):
    d = {}
    for kv in s.split():
        k, v = kv.split("=")
        d[k] = int(v)
    return d


def mem_kib(d):
    """Kernel memory attributable to an object: slab + vmalloc + percpu +
    stacks + page tables, and the drop of MemFree (covers page allocations
    such as reserved pages and large kmalloc)."""
    parts = sum(d.get(k, 0) for k in ("Slab", "VmallocUsed", "Percpu", "KernelStack", "PageTables"))
    return parts, -d.get("MemFree", 0)


class Report:
    def __init__(self, run, out):
        self.run = run
        self.out = out
        self.lines = []
        self.failures = []
        self.params = read_params(run)
        self.host = read_tsv(os.path.join(run, "host.tsv"))
        self.matrix = {}

    def w(self, s=""):
        self.lines.append(s)

    def p(self, *parts):
        return os.path.join(self.run, *parts)

    # ---- matrix -------------------------------------------------------
    def collect_matrix(self):
        configs = self.params.get("CONFIGS", "").split()
        for wl in self.params.get("WORKLOADS", "").split():
            jobs = load_fio(self.p("icount", "matrix-%s.json" % wl))
            if not jobs:
                continue
            by = {}
            for j in jobs:
                cfg, _, rep = j["jobname"].rpartition(".")
                by.setdefault(cfg, []).append(iops(j))
            self.matrix[wl] = {c: by[c] for c in configs if c in by}

    def write_matrix(self):
        if not self.matrix:
            return
        self.w("## 1. dm-linear vs dm-remap (icount: deterministic)")
        self.w()
        self.w("One boot in QEMU icount mode (`run-vm --icount`: single-threaded TCG, "
               "guest time advances 1 ns per guest instruction), so IOPS = 1e9 / "
               "(guest instructions per I/O, fio and the whole I/O stack included). "
               "fio (libaio, direct) on a memory-backed null_blk (irqmode=0, 512 B sectors) "
               "of %s MiB; every job works on the first %s MiB, written once before the "
               "runs. Unhit remaps are spread over the rest of the device (outside the "
               "I/O region); *all-hit* remaps every block of the I/O region. "
               "Each job runs %s s of guest time; jobs run in %s interleaved rounds "
               "(every config once per round, dm-linear first). IOPS is the median of "
               "the rounds, spread is min-max, instructions per I/O = 1e9 / median IOPS, "
               "and the last two columns compare with dm-linear of the same boot."
               % (self.params.get("MAIN_MB"), self.params.get("REGION_MB"),
                  self.params.get("RT"), self.params.get("REPS")))
        self.w()
        png = os.path.basename(self.out)[:-3] + ".png"
        self.w("![remap vs linear](%s)" % png)
        self.w()
        for wl, per in self.matrix.items():
            if "linear" not in per:
                continue
            lin = statistics.median(per["linear"])
            self.w("### %s" % WORKLOAD_TEXT.get(wl, wl))
            self.w()
            rt = float(self.params.get("RT", 0)) * (3 if wl == "seqread" else 1)
            if rt:
                n_io = lin * rt
                self.w("Resolution: fio counts whole I/Os, ~%s per job here, so one I/O more or "
                       "less is %.3f%%%s." % (fmt_int(n_io), 100.0 / n_io,
                                              "; differences below that are not measured"
                                              if 100.0 / n_io > 0.05 else ""))
                self.w()
            self.w("| config | remaps | IOPS (median) | spread (min-max) | instructions/I/O "
                   "| remap/linear | Δ instructions/I/O | target |")
            self.w("|---|---|---:|---:|---:|---:|---:|---|")
            for cfg, vals in per.items():
                med = statistics.median(vals)
                spread = "%s-%s (%.3f%%)" % (fmt_int(min(vals)), fmt_int(max(vals)),
                                            100.0 * (max(vals) - min(vals)) / med)
                ipio = 1e9 / med
                if cfg == "linear":
                    ratio = "1 (ref)"
                    delta = "0"
                else:
                    ratio = "%.4f" % (med / lin)
                    delta = "{:+,.0f}".format(ipio - 1e9 / lin)
                tgt = ""
                if wl in DELTA_WORKLOADS and cfg in DELTA_TARGETS:
                    lim = DELTA_TARGETS[cfg]
                    extra = ipio - 1e9 / lin
                    ok = extra <= lim
                    tgt = "%s (<= +%d)" % ("met" if ok else "**MISSED**", lim)
                    if not ok:
                        self.failures.append("%s %s: %+.0f instructions/I/O over dm-linear, "
                                             "target <= +%d" % (wl, cfg, extra, lim))
                elif cfg in TARGETS:
                    lim = TARGETS[cfg]
                    ok = med / lin >= lim
                    tgt = "%s (>= %.0f%%)" % ("met" if ok else "**MISSED**", lim * 100)
                    if not ok:
                        self.failures.append("%s %s: %.2f%% of dm-linear IOPS, target >= %.0f%%"
                                             % (wl, cfg, 100 * med / lin, 100 * lim))
                self.w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    cfg, CONFIG_REMAPS.get(cfg, ""), fmt_int(med), spread,
                    fmt_int(ipio), ratio, delta, tgt))
            self.w()

    def chart(self):
        """Two panels: % of dm-linear IOPS for every workload, and the extra
        instructions per I/O for the 4 KiB workloads."""
        if not self.matrix:
            return
        base = self.out[:-3]
        dat, dat2 = self.p("chart.dat"), self.p("chart-delta.dat")
        wls = [w for w in self.matrix if "linear" in self.matrix[w]]
        cfgs = [c for c in self.params["CONFIGS"].split() if c != "linear"]
        small = [w for w in wls if w != "seqread"]
        lo = 100.0
        with open(dat, "w") as f, open(dat2, "w") as f2:
            f.write("workload " + " ".join('"%s"' % c for c in cfgs) + "\n")
            f2.write("workload " + " ".join('"%s"' % c for c in cfgs) + "\n")
            for wl in wls:
                per = self.matrix[wl]
                lin = statistics.median(per["linear"])
                row, row2 = [], []
                for c in cfgs:
                    if c in per:
                        med = statistics.median(per[c])
                        row.append("%.3f" % (100 * med / lin))
                        row2.append("%.1f" % (1e9 / med - 1e9 / lin))
                        lo = min(lo, 100 * med / lin)
                    else:
                        row.append("NaN")
                        row2.append("NaN")
                f.write('"%s" %s\n' % (wl, " ".join(row)))
                if wl in small:
                    f2.write('"%s" %s\n' % (wl, " ".join(row2)))
        ymin = max(0, min(85, int(lo / 5) * 5 - 5))
        ncol = len(cfgs)
        gp = self.p("chart.gp")
        title = "dm-remap vs dm-linear, %s (QEMU icount: 1 ns = 1 instruction)" % \
            self.host.get("date", "")[:10]
        with open(gp, "w") as g:
            text = """set terminal pngcairo size 1400,1000 font "DejaVu Sans,11" noenhanced
set output "%(png)s"
set multiplot layout 2,1 title "%(title)s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical autotitle columnhead
set grid ytics
set xtics nomirror
set ylabel "IOPS, % of dm-linear (same boot)"
set yrange [%(ymin)d:104]
set title "Throughput relative to dm-linear"
set arrow 1 from graph 0, first 97 to graph 1, first 97 nohead dt 2 lw 1.5 lc rgb "#208020"
set arrow 2 from graph 0, first 90 to graph 1, first 90 nohead dt 2 lw 1.5 lc rgb "#c03030"
N = %(last)d - 1
plot for [i=2:%(last)d] "%(dat)s" using i:xtic(1) title columnheader(i), \
     for [i=2:%(last)d] "%(dat)s" using ($0 + (i - 2 - (N - 1) / 2.0) / (N + 1.0)):(column(i)):(sprintf("%.1f", column(i))) \
         with labels rotate left offset 0,0.3 font ",8" notitle
unset arrow 1
unset arrow 2
set title "Extra guest instructions per I/O vs dm-linear (4 KiB workloads; lower is better)"
set ylabel "instructions per I/O"
set yrange [*:*]
set logscale y 10
set yrange [1:*]
plot for [i=2:%(last)d] "%(dat2)s" using (column(i) > 1 ? column(i) : 1):xtic(1) title columnheader(i), \
     for [i=2:%(last)d] "%(dat2)s" using ($0 + (i - 2 - (N - 1) / 2.0) / (N + 1.0)):(column(i) > 1 ? column(i) : 1):(sprintf("%+.0f", column(i))) \
         with labels rotate left offset 0,0.3 font ",8" notitle
unset multiplot
"""
            for k, v in {"png": base + ".png", "title": title, "ymin": ymin,
                         "last": ncol + 1, "dat": dat, "dat2": dat2}.items():
                text = text.replace("%(" + k + ")s", str(v)).replace("%(" + k + ")d", str(v))
            g.write(text)
        try:
            subprocess.run(["gnuplot", gp], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print("report: gnuplot failed: %s" % getattr(e, "stderr", e), file=sys.stderr)

    # ---- table load -----------------------------------------------------
    def write_tables(self):
        rows = read_rows(self.p("icount", "tables.tsv"))
        if not rows:
            return
        stats = self.device_stats()
        dumps = {"r0": "unhit-0", "r1k": "unhit-1000", "r100k": "unhit-100000",
                 "r1m": "unhit-1000000", "r1mns": "unhit-1000000", "hit": "hit"}
        restore = {}
        for dev, d in dumps.items():
            v = self.host.get("restore_host_%s_ms" % d)
            if v is not None:
                restore[dev] = int(v) * 1000
        self.w("## 2. Table load (dmsetup create)")
        self.w()
        self.w("Guest time under icount. *dmsetup create* is the whole command; under icount it "
               "also counts the jumps of the guest clock while the guest waits for the 9p share "
               "(loading dmsetup), so it is an upper bound. *In DM ioctls* is the time spent "
               "inside the device-mapper control ioctls that dmsetup issued (create, load, resume; "
               "kprobe on `dm_ctl_ioctl`): the kernel-side load time. *Constructor* is `remap_ctr` "
               "alone (metadata read through dm-bufio, hash table build). *Offline restore* is "
               "`dm-remap-tool restore` of the generated dump onto a sparse image file, run "
               "natively on the host (wall clock). *Memory* is the change of Slab + VmallocUsed + Percpu + KernelStack + "
               "PageTables across the create, and the drop of MemFree; *dm-bufio cache* is the "
               "change of dm-bufio's `current_allocated_bytes` (metadata blocks kept cached "
               "after the load; part of the MemFree drop). The 1M-remap table is "
               "created with one `dmsetup create` (#1), removed, and created again with three "
               "calls (create --notable, load, resume) to show where the time goes.")
        self.w()
        self.w("| device | remaps | dmsetup create | in DM ioctls | constructor | offline restore "
               "| table bytes | memory (counters / MemFree drop) | dm-bufio cache |")
        self.w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            r = r + [""] * (6 - len(r))
            name, create_us, ctr, mem, ioctl, phases = r[:6]
            dev = name.split("#")[0].replace("b_", "")
            st = stats.get(dev, {})
            parts, free = mem_kib(mem_fields(mem)) if mem else (0, 0)
            rs = restore.get(dev)
            extra = ""
            if phases:
                ph = dict(kv.split("=") for kv in phases.split())
                extra = " (" + ", ".join("%s %s" % (k, fmt_us(int(v))) for k, v in ph.items()) + ")"
            bufio = mem_fields(mem).get("Bufio") if mem else None
            self.w("| %s | %s | %s%s | %s | %s | %s | %s | %s KiB / %s KiB | %s |" % (
                name, fmt_int(int(st.get("remaps", 0))) if st else "-", fmt_us(int(create_us)),
                extra, fmt_us(int(ioctl)) if ioctl not in ("", "NA") else "n/a",
                fmt_us(int(ctr)) if ctr not in ("", "NA") else "n/a",
                fmt_us(rs) if rs is not None else "-",
                fmt_int(int(st["table_bytes"])) if "table_bytes" in st else "-",
                fmt_int(parts), fmt_int(free),
                "%+d KiB" % bufio if bufio is not None else "n/a"))
        load = read_tsv(self.p("icount", "load.tsv"))
        if "remove_r1m" in load:
            t, io, dtr = (load["remove_r1m"].split() + ["NA", "NA"])[:3]
            self.w()
            self.w("Removing the 1M-remap device: `dmsetup remove` %s, in DM ioctls %s, destructor %s."
                   % (fmt_us(int(t)), fmt_us(int(io)) if io != "NA" else "n/a",
                      fmt_us(int(dtr)) if dtr != "NA" else "n/a"))
        self.w()

    def device_stats(self):
        """remaps / table_bytes per device id from device-stats.txt."""
        out = {}
        path = self.p("icount", "device-stats.txt")
        if not os.path.exists(path):
            return out
        ids = {"remap-0": "r0", "remap-1k": "r1k", "remap-100k": "r100k", "remap-1M": "r1m",
               "remap-1M-nosummary": "r1mns", "remap-all-hit": "hit"}
        cur = None
        for line in open(path):
            line = line.strip()
            if line.startswith("== "):
                cur = ids.get(line[3:])
                continue
            if cur and line.startswith("reads=") and "table_bytes=" in line:
                d = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                out[cur] = d
        return out

    # ---- churn ----------------------------------------------------------
    def write_churn(self):
        rows = []
        counts = read_tsv(self.p("icount", "churn.tsv"))
        for wl in ("randread", "randwrite"):
            for v in ("quiet", "ping", "remap"):
                jobs = load_fio(self.p("icount", "churn-%s-%s.json" % (wl, v)))
                if jobs:
                    rows.append((wl, v, jobs[0], counts.get("%s.%s" % (wl, v))))
        if not rows:
            return
        deferred = self.churn_deferred()
        self.w("## 3. I/O while remapping (icount)")
        self.w()
        self.w("fio on a remap device over the same I/O region, %s s of guest time each, while a "
               "background shell loop keeps sending messages: *quiet* = none; *ping* = "
               "`dmsetup message ping` in a loop (what starting dmsetup costs on the single "
               "guest CPU); *remap* = `remap <sector> 2048` of 1 MiB ranges of the I/O region "
               "(256 blocks each, data copied by kcopyd, metadata committed), keeping 8 ranges "
               "remapped and unremapping the oldest. One guest CPU: the loop and fio share it, "
               "so compare *remap* with *ping*, not only with *quiet*. Latency is fio's "
               "completion latency (clat)." % self.params.get("CHURN_RT"))
        self.w()
        self.w("| workload | background | IOPS | clat p99 | clat max | messages (failed) | messages/s "
               "| bios deferred |")
        self.w("|---|---|---:|---:|---:|---:|---:|---:|")
        for wl, v, j, c in rows:
            msgs = rate = "-"
            if c:
                n, fails, us = c.split()
                msgs = "%s (%s)" % (n, fails)
                rate = "%.1f" % (int(n) / (int(us) / 1e6)) if int(us) else "-"
            self.w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                wl, v, fmt_int(iops(j)), fmt_us(lat(j, "p99")), fmt_us(lat(j, "max")), msgs, rate,
                deferred.get("%s.%s" % (wl, v), "-")))
        self.w()

    def churn_deferred(self):
        out = {}
        path = self.p("icount", "churn-stats.txt")
        if not os.path.exists(path):
            return out
        cur = None
        for line in open(path):
            line = line.strip()
            if line.startswith("== "):
                cur = line[3:]
            elif cur and line.startswith("reads="):
                d = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                out[cur] = d.get("deferred", "-")
        return out

    # ---- perf -------------------------------------------------------------
    def write_perf(self):
        cfgs = [c for c in self.params.get("PERF_CONFIGS", "").split()
                if os.path.exists(self.p("scaling", "perf-%s.txt" % c))]
        if not cfgs:
            return
        self.w("## 4. perf profile, 4 KiB random read (wall-clock boot)")
        self.w()
        self.w("fio pinned to CPU 0 (QD32); once its I/O flows, `perf record -g -e cpu-clock "
               "-F 4000 -a -C 0 -- sleep %s`, then `perf report --stdio --comms fio`; in the "
               "scaling boot (TCG without icount). Not under icount: there the sampling timer "
               "fires at exact instruction counts in lockstep with the periodic I/O loop and "
               "the samples alias (one symbol got 44%% of the samples for dm-linear and 73%% for "
               "remap-1M, for nearly the same instruction counts). Software clock only (TCG has "
               "no PMU); the shares are TCG execution time, roughly but not exactly proportional "
               "to instructions. TCG delivers the sampling interrupt only where interrupts get "
               "enabled again, so work done with interrupts off lands on "
               "`_raw_spin_unlock_irq`: here mostly null_blk's data copy, done under "
               "`spin_lock_irq(&nullb->lock)`. The dm-remap map path runs with interrupts on "
               "and is attributed correctly. Read the inclusive share of `dmr_map_bio` against "
               "`dm_submit_bio` and `linear_map`." % self.params.get("PERF_RT"))
        self.w()
        for c in cfgs:
            self.w("### %s" % c)
            self.w()
            self.w("```")
            for line in open(self.p("scaling", "perf-%s.txt" % c)):
                self.w(line.rstrip())
            self.w("```")
            self.w()

    # ---- many devices ----------------------------------------------------
    def write_many(self):
        m = read_tsv(self.p("icount", "many.tsv"))
        if "n" not in m:
            return
        n = int(m["n"])
        self.w("## 5. Many devices (icount)")
        self.w()
        self.w("%d remap devices, each on its own %s MiB null_blk main device, spare areas sliced "
               "from one null_blk device (spare_start), %s remaps each restored offline; created "
               "with one `dmsetup create --concise` and removed with one `dmsetup remove`, "
               "compared with %d dm-linear devices on the same null_blk devices. Times per device: "
               "*in DM ioctls* (kprobe on `dm_ctl_ioctl`, the kernel side) and the constructor or "
               "destructor alone; the whole dmsetup command (including starting it, and the "
               "icount clock jumps while it loads from the 9p share) is given for reference. "
               "Memory per device as in section 2."
               % (n, self.params.get("MANY_MB"), m.get("remaps_per_device", "?"), n))
        self.w()
        self.w("| devices | create / device (ioctls; ctr) | remove / device (ioctls; dtr) "
               "| whole dmsetup create, remove | memory / device (counters) | MemFree drop / device "
               "| counters left after remove (total) |")
        self.w("|---|---:|---:|---:|---:|---:|---:|")

        def us(v):
            return fmt_us(int(v) / n) if v not in ("NA", "") else "n/a"

        for kind in ("linear", "remap"):
            if "%s_create" % kind not in m:
                continue
            ct, ci, cc = (m["%s_create" % kind].split() + ["NA"] * 3)[:3]
            rt, ri, rd = (m["%s_remove" % kind].split() + ["NA"] * 3)[:3]
            parts, free = mem_kib(mem_fields(m["%s_mem_create" % kind]))
            left, _ = mem_kib(mem_fields(m["%s_mem_after_remove" % kind]))
            self.w("| %d x %s | %s%s | %s%s | %s, %s | %.1f KiB | %.1f KiB | %s KiB |" % (
                n, kind, us(ci), "; " + us(cc) if kind == "remap" else "",
                us(ri), "; " + us(rd) if kind == "remap" else "",
                fmt_us(int(ct)), fmt_us(int(rt)), parts / n, free / n, fmt_int(left)))
        self.w()
        for kind in ("linear", "remap"):
            if m.get("%s_mem_create" % kind):
                d = mem_fields(m["%s_mem_create" % kind])
                self.w("- %s, per device (KiB): %s; slab caches that grew (KiB, all %d devices): %s; "
                       "after remove: %s" % (
                           kind, ", ".join("%s %+.1f" % (k, v / n) for k, v in d.items() if v) or "none",
                           n, m.get("%s_slab_create" % kind) or "none",
                           m.get("%s_slab_after_remove" % kind) or "none"))
        self.w()
        if m.get("remap_mem_cycle2"):
            parts, free = mem_kib(mem_fields(m["remap_mem_cycle2"]))
            self.w("Leak check: a second create + remove cycle of the %d remap devices (no I/O) "
                   "changed the counters by %s KiB and MemFree by %s KiB in total (%.1f KiB per "
                   "device); slab caches that grew: %s." % (
                       n, fmt_int(parts), fmt_int(-free), parts / n,
                       m.get("remap_slab_cycle2") or "none"))
            self.w()
        jobs = load_fio(self.p("icount", "many-fio.json"))
        st = self.p("icount", "many-status.txt")
        if jobs and os.path.exists(st):
            used = 0
            for line in open(st):
                if line.startswith("mr") and " remap " in line:
                    d = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                    if int(d.get("reads", 0)) + int(d.get("writes", 0)) > 0:
                        used += 1
            self.w("Short fio on the remap devices (4 KiB random read, QD32, one job round-robin "
                   "over all %d devices, %s s): %s IOPS; %d of %d devices served I/O."
                   % (n, self.params.get("MANY_RT"), fmt_int(iops(jobs[0])), used, n))
            self.w()

    # ---- wall-clock boots ------------------------------------------------
    def wall_matrix(self, part):
        out = {}
        for j in load_fio(self.p(part, "%s.json" % part)):
            name = j["jobname"]
            key, _, rep = name.rpartition(".")
            out.setdefault(key, []).append(iops(j))
        return out

    def write_scaling(self):
        res = self.wall_matrix("scaling")
        if not res:
            return
        self.w("## 6. Scaling, 1 and 2 fio jobs (wall clock: indicative only)")
        self.w()
        self.w("A separate, *non-icount* boot (`--cpus 2`, multi-threaded TCG on a %s-CPU host "
               "shared with other work): guest time is real time, so these numbers carry the "
               "noise of the host (see ../shared/README.md: 16k-25k IOPS run to run). 4 KiB "
               "random read, QD32 per job, %s s per job, %s interleaved rounds, median "
               "(min-max). 2 jobs run on CPUs 0 and 1 (`cpus_allowed_policy=split`), 1 job on "
               "CPU 0; null_blk with 2 submit queues."
               % (self.host.get("host_nproc", "?"), self.params.get("SCALE_RT"),
                  self.params.get("SCALE_REPS")))
        self.w()
        self.w("| config | 1 job IOPS | 2 jobs IOPS | 2 jobs / 1 job | remap/linear, 1 job "
               "| remap/linear, 2 jobs |")
        self.w("|---|---:|---:|---:|---:|---:|")
        cfgs = self.params.get("SCALE_CONFIGS", "").split()
        for c in cfgs:
            one, two = res.get("%s.j1" % c), res.get("%s.j2" % c)
            if not one or not two:
                continue
            m1, m2 = statistics.median(one), statistics.median(two)
            l1 = statistics.median(res.get("linear.j1", [m1]))
            l2 = statistics.median(res.get("linear.j2", [m2]))
            self.w("| %s | %s (%s-%s) | %s (%s-%s) | %.2f | %s | %s |" % (
                c, fmt_int(m1), fmt_int(min(one)), fmt_int(max(one)), fmt_int(m2),
                fmt_int(min(two)), fmt_int(max(two)), m2 / m1,
                "%.3f" % (m1 / l1) if c != "linear" else "1 (ref)",
                "%.3f" % (m2 / l2) if c != "linear" else "1 (ref)"))
        self.w()
        lin1 = res.get("linear.j1", [])
        if lin1 and min(lin1) > 0 and max(lin1) / min(lin1) > 1.3:
            self.w("In this run dm-linear alone varied %.1fx between rounds (1 job): the "
                   "differences between configs in this table are host noise, not dm-remap. "
                   "The map path has no shared writes (per-CPU counters, read-only table "
                   "under RCU), so nothing in it should stop it from scaling; this boot cannot "
                   "show more." % (max(lin1) / min(lin1)))
            self.w()
        rows = read_rows(self.p("scaling", "tables.tsv"))
        for r in rows:
            if r[0].startswith("b_r1m") and len(r) >= 5:
                self.w("Table load of 1,000,000 remaps in this boot (wall clock under TCG, 2 vCPUs): "
                       "`dmsetup create` %s, in DM ioctls %s, constructor %s." % (
                           fmt_us(int(r[1])), fmt_us(int(r[4])) if r[4] != "NA" else "n/a",
                           fmt_us(int(r[2])) if r[2] != "NA" else "n/a"))
                self.w()

    def write_numa(self):
        res = self.wall_matrix("numa")
        if not res:
            return
        self.w("## 7. NUMA, two emulated nodes (wall clock: indicative only)")
        self.w()
        self.w("`--numa 2 --cpus 2`: CPU 0 on node 0, CPU 1 on node 1; the null_blk main "
               "device's home node is 1, so the remap table should be allocated on node 1. "
               "TCG does not model remote-memory latency: the IOPS columns only show that "
               "nothing breaks with the fio job on either node. 4 KiB random read, QD32, "
               "one job pinned to the CPU, %s s, %s rounds, median (min-max)."
               % (self.params.get("NUMA_RT"), self.params.get("NUMA_REPS")))
        self.w()
        warn = self.host.get("numa_boot_warning")
        if warn:
            self.w("Note: this boot's kernel log has a boot-time warning that `run-vm` counts as a "
                   "failure, accepted here because it is about the emulated topology, not dm-remap: "
                   "`%s`." % warn)
            self.w()
        pl = self.p("numa", "placement.txt")
        if os.path.exists(pl):
            self.w("```")
            for line in open(pl):
                self.w(line.rstrip())
            self.w("```")
            self.w()
        self.w("| config | fio on CPU 0 (node 0, remote) | fio on CPU 1 (node 1, local) |")
        self.w("|---|---:|---:|")
        for c in ("linear", "remap-1M"):
            a, b = res.get("%s.cpu0" % c), res.get("%s.cpu1" % c)
            if a and b:
                self.w("| %s | %s (%s-%s) | %s (%s-%s) |" % (
                    c, fmt_int(statistics.median(a)), fmt_int(min(a)), fmt_int(max(a)),
                    fmt_int(statistics.median(b)), fmt_int(min(b)), fmt_int(max(b))))
        self.w()

    # ---- tracepoint cost -------------------------------------------------------
    TC_BUILDS = (("notrace", "built without tracepoints (`DMR_NO_TRACE=y`)"),
                 ("traced", "normal build, tracepoints disabled"),
                 ("enabled", "normal build, every dm_remap event enabled"))

    def collect_tracecost(self):
        """{workload: {build: {config: [IOPS per round]}}}"""
        res = {}
        for wl in self.params.get("TC_WORKLOADS", "").split():
            for rep in range(1, int(self.params.get("TC_REPS", 0)) + 1):
                for build, _ in self.TC_BUILDS:
                    for j in load_fio(self.p("tracecost", "%s-%d-%s.json" % (wl, rep, build))):
                        cfg = j["jobname"].rpartition(".")[0]
                        res.setdefault(wl, {}).setdefault(build, {}).setdefault(cfg, []).append(iops(j))
        return res

    def write_tracecost(self):
        res = self.collect_tracecost()
        if not res:
            return
        self.w("## 8. Tracepoint cost (icount: deterministic)")
        self.w()
        self.w("A separate icount boot. In every round the module is loaded twice: the normal "
               "build (its 7 tracepoints disabled, then every `dm_remap` event enabled, the "
               "ring buffer recording) and the same source built with `DMR_NO_TRACE=y` "
               "(`make module-notrace`: the tracepoints compiled out). Each time dm-linear, "
               "remap with 0 remaps and remap with every I/O remapped run %s s of guest time; "
               "%s rounds, the build that goes first alternating. Δ is the extra guest "
               "instructions per I/O over the dm-linear jobs of the same load; the last "
               "column compares that Δ with the build without tracepoints."
               % (self.params.get("TC_RT"), self.params.get("TC_REPS")))
        self.w()
        for wl, per in res.items():
            self.w("### %s" % WORKLOAD_TEXT.get(wl, wl))
            self.w()
            self.w("| build | config | IOPS (median) | spread | instructions/I/O | Δ vs dm-linear "
                   "| Δ vs no-tracepoint build |")
            self.w("|---|---|---:|---:|---:|---:|---:|")
            base = {}
            for build, text in self.TC_BUILDS:
                cfgs = per.get(build, {})
                if "linear" not in cfgs:
                    continue
                lin = 1e9 / statistics.median(cfgs["linear"])
                for cfg in ("linear", "remap-0", "remap-all-hit"):
                    vals = cfgs.get(cfg)
                    if not vals:
                        continue
                    med = statistics.median(vals)
                    ipio = 1e9 / med
                    delta = ipio - lin
                    if build == "notrace":
                        base[cfg] = delta
                    vs = "{:+,.0f}".format(delta - base[cfg]) if cfg in base and cfg != "linear" else ""
                    self.w("| %s | %s | %s | %.3f%% | %s | %s | %s |" % (
                        text, cfg, fmt_int(med), 100.0 * (max(vals) - min(vals)) / med,
                        fmt_int(ipio), "{:+,.0f}".format(delta) if cfg != "linear" else "ref",
                        "ref" if build == "notrace" and cfg != "linear" else vs))
            self.w()
        ev = self.p("tracecost", "enabled-events.txt")
        if os.path.exists(ev):
            n = [int(x) for x in open(ev).read().split()]
            self.w("With the events enabled, the ring buffer held %s `dmr_spare_io` events per "
                   "round and workload (the all-hit job sends every I/O to the spare)."
                   % ", ".join(fmt_int(x) for x in n))
            self.w()

    # ---- scrub ----------------------------------------------------------------
    @staticmethod
    def status_fields(line):
        return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

    def collect_scrub(self):
        """{"cost": {config: [IOPS per round]}, "hooks": [(tag, start, stop)],
        "rates": {rate: {sample: (guest s, status fields)}}}; start and stop
        are (guest s, status fields) from the fio hooks."""
        cost = {}
        for j in load_fio(self.p("scrub", "cost.json")):
            cost.setdefault(j["jobname"].rpartition(".")[0], []).append(iops(j))
        ends = {}
        for r in read_rows(self.p("scrub", "cost-hook.tsv")):
            if len(r) >= 6:
                ends.setdefault(r[0], {})[r[1]] = ((int(r[3]) + int(r[4])) / 2e6,
                                                   self.status_fields(r[5]))
        hooks = [(t, e.get("start"), e.get("stop")) for t, e in ends.items()]
        rates = {}
        for r in read_rows(self.p("scrub", "rate.tsv")):
            if len(r) >= 5:
                rates.setdefault(int(r[0]), {})[int(r[1])] = (
                    (int(r[2]) + int(r[3])) / 2e6, self.status_fields(r[4]))
        if not cost and not rates:
            return None
        return {"cost": cost, "hooks": hooks, "rates": rates}

    def scrub_cost_ratio(self, sc):
        c = sc["cost"]
        if c.get("scrub-off") and c.get("scrub-on"):
            return statistics.median(c["scrub-on"]) / statistics.median(c["scrub-off"])
        return None

    def scrub_rate_rows(self, sc):
        """(rate, interval s, blocks, achieved KiB/s, since start KiB/s,
        positions, problem or "") per rate that has samples 1 and 2."""
        out = []
        for rate, smp in sorted(sc["rates"].items()):
            if 1 not in smp or 2 not in smp:
                continue
            (t1, f1), (t2, f2) = smp[1], smp[2]
            bs = int(f2.get("block_size", 4096)) / 1024.0
            blocks = int(f2["scrub_read"]) - int(f1["scrub_read"])
            dt = t2 - t1
            since = "-"
            if 0 in smp:
                t0, f0 = smp[0]
                since = (int(f2["scrub_read"]) - int(f0["scrub_read"])) * bs / (t2 - t0)
            p1, p2 = f1["scrub_pos"].split("/")[0], f2["scrub_pos"]
            problem = ""
            if f2.get("scrub") != "running" or int(p2.split("/")[0]) <= int(p1):
                problem = "the scrub was %s at the second sample (position %s): the " \
                          "pass ended or stopped in between" % (f2.get("scrub"), p2)
            out.append((rate, dt, blocks, blocks * bs / dt, since, "%s → %s" % (p1, p2),
                        problem))
        return out

    def write_scrub(self, sc):
        if not sc:
            return
        pr = self.params
        env = read_tsv(self.p("scrub", "env.tsv"))
        param = env.get("scrub_rate_param", "?")
        self.w("## 9. Scrub (patrol read) (icount: deterministic)")
        self.w()
        self.w("A separate icount boot: a remap device with no remaps on a memory-backed null_blk "
               "main of %s MiB (its first %s MiB written once) and a null_blk spare. The scrub "
               "reads main in 1 MiB chunks at idle I/O priority and sleeps between them to hold "
               "its rate."
               % (pr.get("SCRUB_MAIN_MB"), pr.get("REGION_MB")))
        self.w()
        c = sc["cost"]
        if c:
            self.w("### User I/O while the scrub runs")
            self.w()
            self.w("4 KiB random read, QD32 (as in section 1) on dm-linear, on the remap device with "
                   "the scrub idle, and on the same device with the scrub running at the default "
                   "rate (module parameter `scrub_rate` = %s KiB/s): fio's `exec_prerun` sends "
                   "`scrub start` before the job's clock starts, its `exec_postrun` reads the "
                   "status and sends `scrub stop` after the job. %s s of guest time per job, %s "
                   "interleaved rounds (dm-linear, scrub off, scrub on), median. One guest CPU: the "
                   "scrub's reads (dm-io, null_blk's memory copies) take their instructions from "
                   "fio, which is what a scrub costs on one CPU. Target of the issue: scrub on / "
                   "scrub off >= %.2f."
                   % (param, pr.get("SCRUB_RT"), pr.get("SCRUB_REPS"), SCRUB_COST_TARGET))
            self.w()
            hooks = sorted(sc["hooks"])
            blocks, secs, not_running = [], [], []
            bs_kib = 4.0
            for tag, a, b in hooks:
                if not a or not b:
                    not_running.append(tag)
                    continue
                blocks.append(int(b[1]["scrub_read"]) - int(a[1]["scrub_read"]))
                secs.append(b[0] - a[0])
                bs_kib = int(b[1].get("block_size", 4096)) / 1024.0
                if b[1].get("scrub") != "running":
                    not_running.append(tag)
            self.w("| device | scrub | IOPS (median) | spread (min-max) | instructions/I/O "
                   "| vs dm-linear | vs scrub off | scrub blocks read (window around the job) | target |")
            self.w("|---|---|---:|---:|---:|---:|---:|---:|---|")
            lin = statistics.median(c["linear"]) if c.get("linear") else None
            off = statistics.median(c["scrub-off"]) if c.get("scrub-off") else None
            for cfg, dev, what in (("linear", "dm-linear", "-"), ("scrub-off", "remap-0", "idle"),
                                   ("scrub-on", "remap-0", "running, %s KiB/s" % param)):
                vals = c.get(cfg)
                if not vals:
                    continue
                med = statistics.median(vals)
                spread = "%s-%s (%.3f%%)" % (fmt_int(min(vals)), fmt_int(max(vals)),
                                            100.0 * (max(vals) - min(vals)) / med)
                vs_lin = "1 (ref)" if cfg == "linear" else ("%.4f" % (med / lin) if lin else "-")
                vs_off, tgt, nblk = "", "", ""
                if cfg == "scrub-off":
                    vs_off = "1 (ref)"
                if cfg == "scrub-on" and off:
                    ratio = med / off
                    vs_off = "%.4f (%+.0f instr/I/O)" % (ratio, 1e9 / med - 1e9 / off)
                    ok = ratio >= SCRUB_COST_TARGET
                    tgt = "%s (>= %.0f%%)" % ("met" if ok else "**MISSED**", SCRUB_COST_TARGET * 100)
                    if not ok:
                        self.failures.append("scrub running: %.2f%% of the IOPS without it, "
                                             "target >= %.0f%%" % (100 * ratio,
                                                                   100 * SCRUB_COST_TARGET))
                    if blocks:
                        nblk = "%s (%s-%s)" % (fmt_int(statistics.median(blocks)),
                                               fmt_int(min(blocks)), fmt_int(max(blocks)))
                self.w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    dev, what, fmt_int(med), spread, fmt_int(1e9 / med), vs_lin, vs_off, nblk, tgt))
            self.w()
            if blocks and off and c.get("scrub-on"):
                kib = [b * bs_kib / s for b, s in zip(blocks, secs) if s > 0]
                share = 1 - statistics.median(c["scrub-on"]) / off
                mib_s = statistics.median(kib) / 1024
                self.w("*Scrub blocks read* is the change of `scrub_read` (%s KiB blocks) from the "
                       "prerun's status to the postrun's, a window of guest time around the %s s "
                       "job (fio's start and end of the job, the hook's own start): median (min-max); "
                       "per round %s. Over these windows the scrub read %s KiB/s while fio ran "
                       "(median of %s; the rate set is %s). It took %.2f%% of the guest CPU from "
                       "fio, about %s guest instructions per MiB scrubbed (%s per block)."
                       % (fmt_int(bs_kib), pr.get("SCRUB_RT"),
                          ", ".join("%s in %.3f s" % (fmt_int(b), t) for b, t in zip(blocks, secs)),
                          fmt_int(statistics.median(kib)), ", ".join(fmt_int(k) for k in kib),
                          param, 100 * share,
                          fmt_int(share * 1e9 / mib_s) if mib_s else "-",
                          fmt_int(share * 1e9 / mib_s * bs_kib / 1024) if mib_s else "-"))
                self.w()
            if not_running:
                self.failures.append("the scrub was not running at the end of %s"
                                     % ", ".join(not_running))
                self.w("**The scrub was not running at the end of %s**: those jobs do not measure "
                       "a running scrub." % ", ".join(not_running))
                self.w()
        rows = self.scrub_rate_rows(sc)
        if rows:
            lo, hi = SCRUB_RATE_TARGET
            self.w("### Rate on an idle device")
            self.w()
            self.w("No user I/O. For each rate a fresh table with `scrub_rate R`, `scrub start`, "
                   "%s s of guest time, then two samples of `scrub_read` and the guest time "
                   "(`$EPOCHREALTIME` taken around `dmsetup status`, the middle of the two), "
                   "at least %s s and %s chunks of 1 MiB apart (the count moves a chunk at a "
                   "time). Under icount with sleep=off the guest clock skips idle time, so the "
                   "interval is the guest time the scrub's own clock sees, and waiting costs "
                   "little wall time. *Since `scrub start`* is the same from a sample taken right "
                   "after the start (it includes the chunk read at once). *Position* is "
                   "`scrub_pos` at the two samples: the pass went on in between. Target: "
                   "achieved / set within %.2f-%.2f."
                   % (pr.get("SCRUB_SETTLE_S"), pr.get("SCRUB_MIN_S"), pr.get("SCRUB_CHUNKS"),
                      lo, hi))
            self.w()
            self.w("| scrub_rate (KiB/s) | interval (guest s) | blocks read | achieved KiB/s "
                   "| achieved / set | since `scrub start` (KiB/s) | position (block) | target |")
            self.w("|---:|---:|---:|---:|---:|---:|---|---|")
            for rate, dt, blocks, kib, since, pos, problem in rows:
                ratio = kib / rate
                ok = lo <= ratio <= hi and not problem
                if problem:
                    self.failures.append("scrub rate %d KiB/s: %s" % (rate, problem))
                elif not ok:
                    self.failures.append("scrub rate %d KiB/s: achieved %.0f KiB/s (%.3f of the "
                                         "rate set), target %.2f-%.2f" % (rate, kib, ratio, lo, hi))
                self.w("| %s | %.3f | %s | %s | %.4f | %s | %s | %s |" % (
                    fmt_int(rate), dt, fmt_int(blocks), fmt_int(kib), ratio,
                    fmt_int(since) if since != "-" else "-", pos,
                    "%s (%.2f-%.2f)" % ("met" if ok else "**MISSED**", lo, hi)))
            self.w()
            for r in rows:
                if r[6]:
                    self.w("**%s KiB/s**: %s." % (fmt_int(r[0]), r[6]))
                    self.w()

    # ---- assemble -----------------------------------------------------------
    def write(self):
        self.collect_matrix()
        scrub = self.collect_scrub()
        body_start = len(self.lines)
        self.write_matrix()
        self.write_tables()
        self.write_churn()
        self.write_perf()
        self.write_many()
        self.write_scaling()
        self.write_numa()
        self.write_tracecost()
        self.write_scrub(scrub)
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        h = self.host
        self.w("# dm-remap benchmark results, %s" % h.get("date", "")[:10])
        self.w()
        self.w("Generated by `%s` (%s mode) from `%s`; how to run and read it: "
               "[bench/README.md](../README.md)." % (h.get("cmdline", "bench/run-bench").strip(),
                                                  h.get("mode", "?"),
                                                  os.path.relpath(self.run, os.getcwd())))
        self.w()
        self.w("| | |")
        self.w("|---|---|")
        for k, label in (("git", "tree"), ("git_head", "HEAD"), ("src_diff", "src/ include/ diff vs HEAD (sha256)"),
                         ("ko_sha256", "dm-remap.ko (sha256)"), ("kver", "guest kernel"),
                         ("qemu", "QEMU"), ("host_cpu", "host CPU"), ("host_nproc", "host CPUs"),
                         ("kvm_probe", "KVM usable (probe)"), ("total_wall_s", "wall time of the run (s)")):
            if k in h:
                self.w("| %s | %s |" % (label, h[k]))
        for boot in ("icount", "tracecost", "scrub"):
            env = read_tsv(self.p(boot, "env.tsv"))
            if env.get("fio"):
                self.w("| fio | %s |" % env["fio"])
                break
        self.w()
        self.w("## Summary")
        self.w()
        summ = []
        for wl, per in self.matrix.items():
            if "linear" not in per:
                continue
            lin = statistics.median(per["linear"])
            bits = []
            for c in ("remap-0", "remap-1M", "remap-all-hit"):
                if c in per:
                    med = statistics.median(per[c])
                    bits.append("%s %.2f%% (%+.0f instr/I/O)" % (c, 100 * med / lin, 1e9 / med - 1e9 / lin))
            if bits:
                summ.append("- %s, IOPS as %% of dm-linear: %s" % (wl, ", ".join(bits)))
        for r in read_rows(self.p("icount", "tables.tsv")):
            if r[0] in ("b_r1m#1", "b_r1m") and len(r) >= 5:
                summ.append("- Table load with 1,000,000 remaps (%s): %s in the DM ioctls of dmsetup "
                            "(constructor %s), whole `dmsetup create` %s; guest time under icount "
                            "(1 ns = 1 instruction), see section 2." % (
                                "first create" if "#" in r[0] else "second create, 3 calls",
                                fmt_us(int(r[4])) if r[4] != "NA" else "n/a",
                                fmt_us(int(r[2])) if r[2] != "NA" else "n/a", fmt_us(int(r[1]))))
        if scrub:
            bits = []
            ratio = self.scrub_cost_ratio(scrub)
            if ratio is not None:
                bits.append("4 KiB random reads with the scrub running at the default rate at "
                            "%.2f%% of the IOPS without it (target >= %.0f%%)"
                            % (100 * ratio, 100 * SCRUB_COST_TARGET))
            rr = self.scrub_rate_rows(scrub)
            if rr:
                bits.append("rate on an idle device, achieved / set: %s (target %.2f-%.2f)" % (
                    ", ".join("%s KiB/s %.3f" % (fmt_int(r[0]), r[3] / r[0]) for r in rr),
                    SCRUB_RATE_TARGET[0], SCRUB_RATE_TARGET[1]))
            if bits:
                summ.append("- Scrub: " + "; ".join(bits) + "; see section 9.")
        if self.failures:
            summ.append("- Targets missed: " + "; ".join(self.failures) + ".")
        elif self.matrix or scrub:
            summ.append("- Every target of the issue that this run measured is met.")
        self.lines.extend(summ)
        self.w()
        self.lines.extend(body)
        self.w("## Caveats")
        self.w()
        self.w("- icount counts instructions: cache misses, memory latency and TLB effects do not "
               "show. A larger table costs more only through extra instructions (longer probes); "
               "its cache footprint at 1M remaps is invisible here.")
        self.w("- Guest time under icount also jumps forward while the guest CPU idles (e.g. "
               "waiting for the 9p share); fio on null_blk (irqmode=0) never idles, and the "
               "constructor times are pure kernel work, but `dmsetup create` times include "
               "process start from the 9p root.")
        self.w("- Ratios are only taken within one boot. Wall-clock sections (scaling, NUMA) "
               "are indicative.")
        self.w()
        os.makedirs(os.path.dirname(os.path.abspath(self.out)), exist_ok=True)
        with open(self.out, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        self.chart()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    r = Report(args[0], args[1])
    r.write()
    if "--check" in sys.argv and r.failures:
        for f in r.failures:
            print("target missed: " + f, file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
