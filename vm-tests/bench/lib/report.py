#!/usr/bin/env python3
"""Turns the raw results of vm-tests/bench/guest.sh into results.md, results.csv, cells.csv and chart.csv.

Usage: report.py RESULTS_DIR

Per cell (one contender, one workload, one round) it reads fio's JSON and the 1-second samples the guest took
(device I/O counts, /proc/stat, /proc/meminfo, the server's /proc/PID/stat and task status files). Over the
rounds it reports the median and the spread ((max - min) / median). Ratios are of medians.
"""
import csv
import json
import math
import os
import re
import statistics
import sys
from datetime import datetime

CLK_TCK = 100  # USER_HZ on x86-64 Linux

LABEL = {
    "kloop-buf": "kernel loop (buffered)",
    "kloop-dio": "kernel loop (dio)",
    "jublk-buf": "jublk --buffered --no-zero-copy",
    "jublk-dio": "jublk --direct --no-zero-copy",
    "kublk-loop": "kublk loop",
    "jublk-zc": "jublk --direct --zero-copy",
    "kublk-zc": "kublk loop --auto_zc",
    "file": "file (ceiling)",
    "jublk-null": "jublk null",
    "kublk-null": "kublk null",
    "null_blk": "null_blk",
    "knbd-c1": "kernel nbd (1 connection)",
    "jublk-nbd-c1": "jublk nbd (1 connection)",
    "knbd-c2": "kernel nbd (2 connections)",
    "jublk-nbd-c2": "jublk nbd (2 connections)",
    "jublk-dio-batch": "jublk --direct --no-zero-copy --batch",
    "kublk-loop-batch": "kublk loop --batch",
    "jublk-dio-q2": "jublk --direct --no-zero-copy, 2 queues",
    "kublk-loop-q2": "kublk loop, 2 queues",
    "jublk-null-batch": "jublk null --batch",
    "kublk-null-batch": "kublk null --batch",
    "jublk-null-q2": "jublk null, 2 queues",
    "kublk-null-q2": "kublk null, 2 queues",
    "kublk-zc-q2": "kublk loop --auto_zc, 2 queues",
    "jublk-nbd-zc-c1": "jublk nbd --zero-copy (1 connection)",
    "jublk-nbd-batch-c1": "jublk nbd --batch (1 connection)",
    "jublk-nbd-zcb-c1": "jublk nbd --zero-copy --batch (1 connection)",
    "jublk-null-nolev": "jublk null, ring levers off (-Djublk.ring.levers=off)",
    "jublk-bzc": "jublk --buffered --zero-copy",
    "jublk-zc-q2": "jublk --direct --zero-copy, 2 queues (jublk's default on 2 CPUs)",
    "jublk-bzc-q2": "jublk --buffered --zero-copy, 2 queues (jublk's default on 2 CPUs)",
    "jublk-null-float": "jublk null, queue thread not pinned (-Djublk.queue.affinity=all)",
}
SHORT = {
    "kloop-buf": "kloop buf",
    "kloop-dio": "kloop dio",
    "jublk-buf": "jublk buf",
    "jublk-dio": "jublk dio",
    "kublk-loop": "kublk",
    "jublk-zc": "jublk zc",
    "kublk-zc": "kublk zc",
    "file": "file",
    "jublk-null": "jublk null",
    "kublk-null": "kublk null",
    "null_blk": "null_blk",
    "knbd-c1": "kernel nbd 1c",
    "jublk-nbd-c1": "jublk nbd 1c",
    "knbd-c2": "kernel nbd 2c",
    "jublk-nbd-c2": "jublk nbd 2c",
    "jublk-dio-batch": "jublk dio batch",
    "kublk-loop-batch": "kublk batch",
    "jublk-dio-q2": "jublk dio 2q",
    "kublk-loop-q2": "kublk 2q",
    "jublk-null-batch": "jublk null batch",
    "kublk-null-batch": "kublk null batch",
    "jublk-null-q2": "jublk null 2q",
    "kublk-null-q2": "kublk null 2q",
    "kublk-zc-q2": "kublk zc 2q",
    "jublk-nbd-zc-c1": "jublk nbd zc 1c",
    "jublk-nbd-batch-c1": "jublk nbd batch 1c",
    "jublk-nbd-zcb-c1": "jublk nbd zc+batch 1c",
    "jublk-null-nolev": "jublk null levers off",
    "jublk-bzc": "jublk buf zc",
    "jublk-zc-q2": "jublk zc 2q",
    "jublk-bzc-q2": "jublk buf zc 2q",
    "jublk-null-float": "jublk null unpinned",
}
LOOP = ["kloop-buf", "kloop-dio", "jublk-buf", "jublk-dio", "kublk-loop", "jublk-zc", "kublk-zc", "jublk-bzc", "jublk-zc-q2",
        "jublk-bzc-q2", "kublk-zc-q2", "file"]
NULL = ["jublk-null", "kublk-null", "null_blk", "jublk-null-nolev", "jublk-null-float"]
SERVERS = ["jublk-buf", "jublk-dio", "kublk-loop", "jublk-zc", "kublk-zc", "jublk-bzc", "jublk-zc-q2", "jublk-bzc-q2",
           "kublk-zc-q2", "jublk-null", "kublk-null"]
MODES = ["kloop-buf", "kloop-dio", "jublk-buf", "jublk-dio"]
NBD = ["knbd-c1", "jublk-nbd-c1", "knbd-c2", "jublk-nbd-c2"]
# jublk's nbd client with other options, one connection, against knbd-c1
NBD_MORE = ["jublk-nbd-zc-c1", "jublk-nbd-batch-c1", "jublk-nbd-zcb-c1"]
# jublk against kublk with the same options (tables 2 and 3 only): (jublk, kublk) per table and mode
SAME = {("raw", "1q"): ("jublk-dio", "kublk-loop"), ("raw", "batch"): ("jublk-dio-batch", "kublk-loop-batch"),
        ("raw", "2q"): ("jublk-dio-q2", "kublk-loop-q2"), ("null", "1q"): ("jublk-null", "kublk-null"),
        ("null", "batch"): ("jublk-null-batch", "kublk-null-batch"), ("null", "2q"): ("jublk-null-q2", "kublk-null-q2")}
SAME_MODES = [("1q", "1 queue"), ("batch", "batch, 1 queue"), ("2q", "2 queues")]
# zero copy on both (jublk --zero-copy, kublk --auto_zc): table 2c
SAME.update({("raw", "zc"): ("jublk-zc", "kublk-zc"), ("raw", "zc2q"): ("jublk-zc-q2", "kublk-zc-q2")})
ZC_MODES = [("zc", "zero copy, 1 queue"), ("zc2q", "zero copy, 2 queues")]
# (workload, title, metric, unit, with two connections too): the nbd table's rows
NBD_ROWS = [("randread-qd1", "randread 4k qd1: mean µs", "lat_us", "us", False),
            ("randread-qd1", "randread 4k qd1: p99 µs", "p99_us", "us", False),
            ("randread-qd32", "randread 4k qd32: IOPS", "iops", "IOPS", True),
            ("randwrite-qd32", "randwrite 4k qd32: IOPS", "iops", "IOPS", True),
            ("read-512k", "read 512k: MiB/s", "mibs", "MiB/s", True),
            ("write-512k", "write 512k: MiB/s", "mibs", "MiB/s", True)]
# issue 13's goal: jublk ÷ kernel >= 1.0 in these
NBD_GOAL = ["randread-qd32", "randwrite-qd32", "read-512k", "write-512k"]


def read_kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="replace"):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def fio_metrics(path):
    """IOPS, MiB/s, latency (mean, p99 in microseconds) of the read and write sides, summed/averaged."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    # fio may print notes before the JSON object.
    text = text[text.index("{"):]
    j = json.loads(text)
    job = j["jobs"][0]
    m = {"iops": 0.0, "mibs": 0.0, "ios": 0}
    lat_mean, lat_p99, weights = 0.0, 0.0, 0.0
    for side in ("read", "write"):
        s = job.get(side, {})
        iops = float(s.get("iops", 0) or 0)
        if iops <= 0:
            continue
        m["iops"] += iops
        m["mibs"] += float(s.get("bw_bytes", 0)) / 1048576.0
        m["ios"] += int(s.get("total_ios", 0))
        lat = s.get("lat_ns") or s.get("clat_ns") or {}
        pct = lat.get("percentile") or (s.get("clat_ns") or {}).get("percentile") or {}
        p99 = pct.get("99.000000")
        lat_mean += float(lat.get("mean", 0)) / 1000.0 * iops
        if p99 is not None:
            lat_p99 = max(lat_p99, float(p99) / 1000.0)
        weights += iops
    if weights:
        m["lat_us"] = lat_mean / weights
        m["p99_us"] = lat_p99 if lat_p99 else None
    m["runtime_s"] = float(job.get("read", {}).get("runtime", 0) or job.get("write", {}).get("runtime", 0)) / 1000.0
    return m


def sample_metrics(path, fio_iops):
    """CPU, context switches and page cache over the steady part of a cell (the samples in which the device
    did I/O, without the first and the last)."""
    rows = []
    for line in open(path, encoding="utf-8", errors="replace"):
        p = line.split()
        if len(p) == 18:
            p += ["-", "-", "-"]
        if len(p) != 21:
            continue
        try:
            row = [float(x) if x != "-" else None for x in p]
        except ValueError:
            continue
        rows.append(row)
    if len(rows) < 3:
        return {}
    ios = [r[1] + r[2] for r in rows]
    active = [i for i in range(1, len(rows)) if ios[i] > ios[i - 1]]
    if len(active) >= 3:
        a, b = active[0], active[-1] - 1  # samples fully inside the I/O phase
    else:
        a, b = 0, len(rows) - 1
    if b <= a:
        a, b = 0, len(rows) - 1
    r0, r1 = rows[a], rows[b]
    dt = r1[0] - r0[0]
    if dt <= 0:
        return {}
    cpu0, cpu1 = r0[3:11], r1[3:11]
    d = [y - x for x, y in zip(cpu0, cpu1)]
    total = sum(d)
    busy = total - d[3] - d[4]  # idle, iowait
    nio = fio_iops * dt  # fio's I/Os in the window (its IOPS is measured without the ramp)
    m = {"window_s": dt}
    if total > 0:
        m["guest_cpu_pct"] = 100.0 * busy / total
    if nio > 0:
        m["guest_cpu_us_per_io"] = busy / CLK_TCK * 1e6 / nio
        m["guest_cs_per_io"] = (r1[11] - r0[11]) / nio
    m["dev_ios_per_s"] = (ios[b] - ios[a]) / dt
    if r0[14] is not None and r1[14] is not None:
        ticks = (r1[14] + r1[15]) - (r0[14] + r0[15])
        m["server_cpu_pct"] = 100.0 * ticks / CLK_TCK / dt
        cs = (r1[16] + r1[17]) - (r0[16] + r0[17])
        if nio > 0:
            m["server_cpu_us_per_io"] = ticks / CLK_TCK * 1e6 / nio
            m["server_cs_per_io"] = cs / nio
        if nio > 0 and r0[18] is not None and r1[18] is not None:
            m["queue_cpu_us_per_io"] = (r1[18] - r0[18]) / CLK_TCK * 1e6 / nio
            m["iou_cpu_us_per_io"] = (r1[19] - r0[19]) / CLK_TCK * 1e6 / nio
            m["non_iou_cpu_us_per_io"] = m["server_cpu_us_per_io"] - m["iou_cpu_us_per_io"]
            m["jit_cpu_pct"] = 100.0 * (r1[20] - r0[20]) / CLK_TCK / dt
    # Page cache growth while the device did I/O (from the first sample with I/O, when fio itself is loaded).
    first = active[0] if active else 0
    m["cached_growth_mib"] = (rows[-1][12] - rows[first][12]) / 1024.0
    m["cached_peak_growth_mib"] = (max(r[12] for r in rows) - rows[0][12]) / 1024.0
    return m


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    a = abs(v)
    if unit in ("IOPS",):
        if a >= 1e6:
            return f"{v / 1e6:.2f}M"
        if a >= 1e4:
            return f"{v / 1e3:.1f}k"
        if a >= 1e3:
            return f"{v / 1e3:.2f}k"
        return f"{v:.0f}"
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Stats:
    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.n = len(self.values)
        self.median = statistics.median(self.values) if self.values else None
        self.min = min(self.values) if self.values else None
        self.max = max(self.values) if self.values else None

    def spread(self):
        if self.n < 2 or not self.median:
            return None
        return 100.0 * (self.max - self.min) / abs(self.median)

    def show(self, unit=""):
        if self.median is None:
            return "n/a"
        s = fmt(self.median, unit)
        sp = self.spread()
        if sp is not None:
            s += f" ±{sp:.0f}%"
        return s


def main():
    d = sys.argv[1]
    meta = read_kv(os.path.join(d, "meta.txt"))
    host = read_kv(os.path.join(d, "meta-host.txt"))
    contenders = {}
    if os.path.exists(os.path.join(d, "contenders.tsv")):
        for line in open(os.path.join(d, "contenders.tsv"), encoding="utf-8"):
            p = line.rstrip("\n").split("\t")
            if len(p) >= 4:
                contenders[p[0]] = {"dev": p[1], "pid": p[2], "na": p[3]}

    cells = []  # dicts
    for line in open(os.path.join(d, "cells.tsv"), encoding="utf-8", errors="replace"):
        p = line.rstrip("\n").split("\t")
        if len(p) < 10:
            continue
        c = {"table": p[0], "workload": p[1], "contender": p[2], "round": int(p[3]), "status": p[4],
             "reason": p[10] if len(p) > 10 else ""}
        m = {}
        if c["status"] == "ok":
            try:
                m.update(fio_metrics(os.path.join(d, p[5])))
            except (OSError, ValueError, KeyError, IndexError) as e:
                c["status"] = "bad-json"
                c["reason"] = str(e)
        if c["status"] == "ok":
            try:
                m.update(sample_metrics(os.path.join(d, p[6]), m.get("iops", 0)))
            except OSError:
                pass
            try:
                m["cached_cell_growth_mib"] = (float(p[8]) - float(p[7])) / 1024.0
            except ValueError:
                pass
        try:
            m["cell_seconds"] = float(p[9])
        except ValueError:
            pass
        c["m"] = m
        cells.append(c)

    def stats(table, wl, cont, metric):
        return Stats([c["m"].get(metric) for c in cells if c["table"] == table and c["workload"] == wl
                      and c["contender"] == cont and c["status"] == "ok"])

    def why_na(table, wl, cont):
        bad = [c for c in cells if c["table"] == table and c["workload"] == wl and c["contender"] == cont]
        if not bad:
            return "not run"
        for c in bad:
            if c["status"] == "na":
                return c["reason"]
        st = sorted({c["status"] for c in bad})
        return "no data for this metric (e.g. shell-loop sampler)" if st == ["ok"] else ", ".join(st)

    def ratio(table, wl, a, b, metric):
        x, y = stats(table, wl, a, metric).median, stats(table, wl, b, metric).median
        if x is None or y is None or y == 0:
            return "n/a"
        return f"{x / y:.2f}×"

    notes = {}  # footnotes for n/a cells: reason -> number

    def cellv(table, wl, cont, metric, unit):
        s = stats(table, wl, cont, metric)
        if s.median is None:
            reason = why_na(table, wl, cont)
            k = notes.setdefault(reason, len(notes) + 1)
            return f"n/a[{k}]"
        return s.show(unit)

    out = []
    w = out.append
    rounds = meta.get("rounds", "?")
    w("# jublk benchmark")
    w("")
    w(f"Guest: Linux {meta.get('kernel', '?')}, {meta.get('cpus', '?')} vCPUs (QEMU TCG, one host core), "
      f"{int(meta.get('mem_kb', '0')) // 1024} MiB; {meta.get('java', '?')}; {meta.get('fio', '?')}; "
      f"jublk {meta.get('jublk_git', '?')}. {rounds} round(s){' (quick)' if meta.get('quick') == '1' else ''}, "
      f"contenders interleaved; each value is the median over the rounds, ±spread = (max-min)/median. "
      f"Benchmark wall time {int(host.get('wall_seconds', meta.get('total_seconds', '0'))) // 60} min.")
    w("")
    w("Everything runs under emulation (20-50x slower than hardware, CPU-bound): compare ratios within this "
      "run, not absolute numbers. Ratios are jublk ÷ the other: above 1 is better for IOPS and MiB/s, "
      "worse for latency and CPU.")
    w("")

    csv_rows = []

    def add_csv(table, wl, cont, metric, unit):
        s = stats(table, wl, cont, metric)
        csv_rows.append([table, wl, cont, metric, unit, s.median, s.min, s.max, s.n,
                         None if s.spread() is None else round(s.spread(), 1),
                         "" if s.median is not None else why_na(table, wl, cont)])

    loop_cols = LOOP + ["r_buf", "r_dio", "r_kublk", "r_zc_dio", "r_zc_kublk", "r_bzc_buf", "r_q2", "r_def_dio",
                             "r_def_buf", "r_def_kublk"]
    loop_head = ("| | " + " | ".join(SHORT[c] for c in LOOP)
                 + " | jublk buf ÷ kloop buf | jublk dio ÷ kloop dio | jublk dio ÷ kublk"
                 + " | jublk zc ÷ kloop dio | jublk zc ÷ kublk zc | jublk buf zc ÷ kloop buf"
                 + " | jublk zc 2q ÷ 1q | **default dio ÷ kloop dio** (jublk zc 2q) | **default buf ÷ kloop buf**"
                 + " (jublk buf zc 2q) | default dio ÷ kublk zc 2q |")
    loop_sep = "|" + "---|" * (len(loop_cols) + 1)

    def loop_row(title, table, wl, metric, unit):
        vals = [cellv(table, wl, c, metric, unit) for c in LOOP]
        for c in LOOP:
            add_csv(table, wl, c, metric, unit)
        r = [ratio(table, wl, "jublk-buf", "kloop-buf", metric), ratio(table, wl, "jublk-dio", "kloop-dio", metric),
             ratio(table, wl, "jublk-dio", "kublk-loop", metric), ratio(table, wl, "jublk-zc", "kloop-dio", metric),
             ratio(table, wl, "jublk-zc", "kublk-zc", metric), ratio(table, wl, "jublk-bzc", "kloop-buf", metric),
             ratio(table, wl, "jublk-zc-q2", "jublk-zc", metric), ratio(table, wl, "jublk-zc-q2", "kloop-dio", metric),
             ratio(table, wl, "jublk-bzc-q2", "kloop-buf", metric),
             ratio(table, wl, "jublk-zc-q2", "kublk-zc-q2", metric)]
        w(f"| {title} | " + " | ".join(vals + r) + " |")

    def same_head(table, modes):
        w("| | " + " | ".join(f"{SHORT[SAME[(table, m)][0]]} | {SHORT[SAME[(table, m)][1]]} | jublk ÷ kublk ({n})"
                              for m, n in modes) + " |")
        w("|" + "---|" * (3 * len(modes) + 1))

    def same_vals(table, wl, metric, unit, modes):
        """jublk, kublk, jublk ÷ kublk per mode; '–' where the mode does not run the workload (two queues at
        queue depth 1)."""
        vals = []
        for mode, _ in modes:
            j, k = SAME[(table, mode)]
            if mode.endswith("2q") and wl.endswith("-qd1"):
                vals += ["–", "–", ""]
                continue
            for c in (j, k):
                add_csv(table, wl, c, metric, unit)
            vals += [cellv(table, wl, j, metric, unit), cellv(table, wl, k, metric, unit),
                     ratio(table, wl, j, k, metric)]
        return vals

    same_intro = ("jublk against kublk with the same options: one queue (as above), batch I/O (`--batch` on both: "
                  "UBLK_F_BATCH_IO, many requests and answers per command) and two queues (`-q 2` on both: fio "
                  "runs two jobs, one per vCPU, each with half the depth, the same total, reported as one; "
                  "sequential jobs each get their half of the region; queue depth 1 is not run with two queues: "
                  "one job uses one queue). Depth 128 per queue. Ratios jublk ÷ kublk: above 1 is better for "
                  "IOPS and MiB/s, worse for latency.")

    # Table 1
    w(f"## 1. ext4 on the device: fio psync 4 KiB, {meta.get('T1_JOBS', '16')} jobs (IOPS)")
    w("")
    w(f"Each job reads/writes its own {meta.get('T1_JOBSIZE', '?')} file once (cold cache, capped at "
      f"{meta.get('T1_RUNTIME', '?')} s); writes end with fsync. Ceiling: the same files on the scratch "
      "disk's own ext4.")
    w("")
    w(loop_head)
    w(loop_sep)
    for wl in ["randread", "read", "randwrite", "write"]:
        loop_row(wl, "fs", wl, "iops", "IOPS")
    w("")

    # Table 2
    w("## 2. Raw device: fio io_uring, O_DIRECT")
    w("")
    w(f"{meta.get('T2_RUNTIME', '?')} s after {meta.get('T2_RAMP', '?')} s ramp, over "
      f"{meta.get('RAW_SIZE', '?')} of the backing file. Latency in µs (completion of fio's I/O, mean and p99); "
      f"512 KiB at iodepth {meta.get('SEQ_DEPTH', '?')}.")
    w("")
    w(loop_head)
    w(loop_sep)
    for wl, name in [("randread-qd1", "randread 4k qd1"), ("randwrite-qd1", "randwrite 4k qd1")]:
        loop_row(f"{name}: mean µs", "raw", wl, "lat_us", "us")
        loop_row(f"{name}: p99 µs", "raw", wl, "p99_us", "us")
    for wl, name in [("randread-qd32", "randread 4k qd32"), ("randwrite-qd32", "randwrite 4k qd32")]:
        loop_row(f"{name}: IOPS", "raw", wl, "iops", "IOPS")
    for wl, name in [("read-512k", "read 512k"), ("write-512k", "write 512k")]:
        loop_row(f"{name}: MiB/s", "raw", wl, "mibs", "MiB/s")
    w("")
    w("### 2b. Raw device: jublk --direct vs kublk loop with the same options")
    w("")
    w(same_intro)
    w("")
    def same_raw_rows(modes, p99):
        """Table 2b's or 2c's rows: jublk, kublk and jublk ÷ kublk per mode, for each raw workload."""
        same_head("raw", modes)
        for wl, name in [("randread-qd1", "randread 4k qd1"), ("randwrite-qd1", "randwrite 4k qd1")]:
            w(f"| {name}: mean µs | " + " | ".join(same_vals("raw", wl, "lat_us", "us", modes)) + " |")
            if p99:
                w(f"| {name}: p99 µs | " + " | ".join(same_vals("raw", wl, "p99_us", "us", modes)) + " |")
        for wl, name in [("randread-qd32", "randread 4k qd32"), ("randwrite-qd32", "randwrite 4k qd32")]:
            w(f"| {name}: IOPS | " + " | ".join(same_vals("raw", wl, "iops", "IOPS", modes)) + " |")
        for wl, name in [("read-512k", "read 512k"), ("write-512k", "write 512k")]:
            w(f"| {name}: MiB/s | " + " | ".join(same_vals("raw", wl, "mibs", "MiB/s", modes)) + " |")
        w("")

    same_raw_rows(SAME_MODES, True)
    w("### 2c. Raw device: jublk --direct --zero-copy vs kublk loop --auto_zc")
    w("")
    w("Both servers' backing I/O on the request's own pages (UBLK_F_AUTO_BUF_REG), one queue and two (as 2b).")
    w("")
    same_raw_rows(ZC_MODES, False)

    # Table 3
    w("## 3. Null targets: framework overhead (fio io_uring O_DIRECT, 4 KiB randread)")
    w("")
    w("| | " + " | ".join(SHORT[c] for c in NULL)
      + " | jublk ÷ kublk | jublk ÷ null_blk | levers on ÷ off | pinned ÷ unpinned |")
    w("|" + "---|" * (len(NULL) + 5))
    for wl, metric, unit, title in [("randread-qd32", "iops", "IOPS", "qd32: IOPS"),
                                    ("randread-qd1", "lat_us", "us", "qd1: mean µs"),
                                    ("randread-qd1", "p99_us", "us", "qd1: p99 µs")]:
        vals = [cellv("null", wl, c, metric, unit) for c in NULL]
        for c in NULL:
            add_csv("null", wl, c, metric, unit)
        w(f"| {title} | " + " | ".join(vals + [ratio("null", wl, "jublk-null", "kublk-null", metric),
                                               ratio("null", wl, "jublk-null", "null_blk", metric),
                                               ratio("null", wl, "jublk-null", "jublk-null-nolev", metric),
                                               ratio("null", wl, "jublk-null", "jublk-null-float", metric)]) + " |")
    w("")
    w("### 3b. Null targets: jublk null vs kublk null with the same options")
    w("")
    w(same_intro)
    w("")
    same_head("null", SAME_MODES)
    for wl, metric, unit, title in [("randread-qd32", "iops", "IOPS", "qd32: IOPS"),
                                    ("randread-qd1", "lat_us", "us", "qd1: mean µs"),
                                    ("randread-qd1", "p99_us", "us", "qd1: p99 µs")]:
        w(f"| {title} | " + " | ".join(same_vals("null", wl, metric, unit, SAME_MODES)) + " |")
    w("")

    raw_wls = [("raw", "randread-qd1"), ("raw", "randwrite-qd1"), ("raw", "randread-qd32"),
               ("raw", "randwrite-qd32"), ("raw", "read-512k"), ("raw", "write-512k")]
    fs_wls = [("fs", "randread"), ("fs", "read"), ("fs", "randwrite"), ("fs", "write")]

    # Table 4
    w("## 4. Server CPU time per I/O (µs; utime+stime of the server process from /proc/PID/stat)")
    w("")
    w("Over the steady part of each cell (0.5-second samples while the device did I/O), divided by fio's I/Os "
      "in that time. The kernel loop driver has no server process: its work is in kernel threads; the "
      "second table has the whole guest's CPU time per I/O (fio included) for every contender.")
    w("")
    w("| | " + " | ".join(SHORT[c] for c in SERVERS)
      + " | jublk dio ÷ kublk | jublk zc ÷ kublk zc | jublk null ÷ kublk null |")
    w("|" + "---|" * (len(SERVERS) + 4))
    def server_rows(cell):
        """(table, workload, cells) for table 4: cell(table, wl, contender) where the server serves that
        table (loop servers the raw table, null servers the null one), empty elsewhere."""
        for table, wl in raw_wls + [("null", "randread-qd32"), ("null", "randread-qd1")]:
            yield table, wl, ["" if (table == "null") != c.endswith("-null") else cell(table, wl, c)
                              for c in SERVERS]

    def server_cpu(table, wl, c):
        add_csv(table, wl, c, "server_cpu_us_per_io", "us")
        return cellv(table, wl, c, "server_cpu_us_per_io", "us")

    for table, wl, vals in server_rows(server_cpu):
        r1 = ratio(table, wl, "jublk-dio", "kublk-loop", "server_cpu_us_per_io") if table == "raw" else ""
        rz = ratio(table, wl, "jublk-zc", "kublk-zc", "server_cpu_us_per_io") if table == "raw" else ""
        r2 = ratio(table, wl, "jublk-null", "kublk-null", "server_cpu_us_per_io") if table == "null" else ""
        w(f"| {table} {wl} | " + " | ".join(vals + [r1, rz, r2]) + " |")
    w("")
    w("Where the server's CPU goes (µs per I/O): its own threads (jublk: the queue thread `ublkN-q0` alone) / "
      "the io_uring `iou-wrk` workers it spawned (I/O that cannot be issued without blocking is handed to "
      "them: on ext4 buffered writes, and O_DIRECT writes it cannot start without blocking, probably the "
      "mtime update) / (jublk) JIT compiler "
      "threads' CPU in % of one CPU (should be ~0 after the warm-up):")
    w("")
    w("| | " + " | ".join(SHORT[c] for c in SERVERS) + " |")
    w("|" + "---|" * (len(SERVERS) + 1))
    def cpu_split(table, wl, c):
        mtrs = ("queue_cpu_us_per_io" if c.startswith("jublk") else "non_iou_cpu_us_per_io",
                "iou_cpu_us_per_io", "jit_cpu_pct")
        for mtr in mtrs:
            add_csv(table, wl, c, mtr, "%" if mtr == "jit_cpu_pct" else "us")
        return (" / ".join(cellv(table, wl, c, mtr, "us") for mtr in mtrs[:2])
                + (f" / {cellv(table, wl, c, mtrs[2], '')}" if c.startswith("jublk") else ""))

    for table, wl, vals in server_rows(cpu_split):
        w(f"| {table} {wl} | " + " | ".join(vals) + " |")
    w("")
    w("Whole guest CPU µs per I/O (all CPUs, fio and kernel included):")
    w("")
    allc = LOOP + NULL
    w("| | " + " | ".join(SHORT[c] for c in allc) + " |")
    w("|" + "---|" * (len(allc) + 1))
    for table, wl in raw_wls + [("null", "randread-qd32"), ("null", "randread-qd1")]:
        vals = []
        for c in allc:
            if (table == "null") != (c in NULL):
                vals.append("")
                continue
            vals.append(cellv(table, wl, c, "guest_cpu_us_per_io", "us"))
            add_csv(table, wl, c, "guest_cpu_us_per_io", "us")
        w(f"| {table} {wl} | " + " | ".join(vals) + " |")
    w("")

    w("### 4b. CPU per I/O, jublk vs kublk with the same options (batch I/O, two queues)")
    w("")
    w("As above, for the servers of tables 2b and 3b (raw rows: jublk --direct and kublk loop; null rows: "
      "the null targets). Server CPU µs per I/O (all its threads), jublk ÷ kublk:")
    w("")
    more = SAME_MODES[1:]
    same_wls = raw_wls + [("null", "randread-qd32"), ("null", "randread-qd1")]
    w("| | " + " | ".join(f"jublk ({n}) | kublk ({n}) | jublk ÷ kublk ({n})" for _, n in more) + " |")
    w("|" + "---|" * (3 * len(more) + 1))
    for table, wl in same_wls:
        w(f"| {table} {wl} | " + " | ".join(same_vals(table, wl, "server_cpu_us_per_io", "us", more)) + " |")
    w("")
    w("Where it goes (µs per I/O): own threads (jublk: its queue threads `ublkN-qM`, both of them with two "
      "queues) / io_uring `iou-wrk` workers / (jublk) JIT threads' CPU in % of one CPU:")
    w("")
    w("| | " + " | ".join(f"jublk ({n}) | kublk ({n})" for _, n in more) + " |")
    w("|" + "---|" * (2 * len(more) + 1))
    for table, wl in same_wls:
        vals = []
        for mode, _ in more:
            for c in SAME[(table, mode)]:
                vals.append("–" if mode.endswith("2q") and wl.endswith("-qd1") else cpu_split(table, wl, c))
        w(f"| {table} {wl} | " + " | ".join(vals) + " |")
    w("")
    w("Whole guest CPU µs per I/O (all CPUs, fio and kernel included), jublk ÷ kublk:")
    w("")
    w("| | " + " | ".join(f"jublk ({n}) | kublk ({n}) | jublk ÷ kublk ({n})" for _, n in more) + " |")
    w("|" + "---|" * (3 * len(more) + 1))
    for table, wl in same_wls:
        w(f"| {table} {wl} | " + " | ".join(same_vals(table, wl, "guest_cpu_us_per_io", "us", more)) + " |")
    w("")

    # Table 5
    w("## 5. I/O mode: page cache, context switches, CPU (direct vs buffered)")
    w("")
    w("Page-cache growth: `Cached` in /proc/meminfo at the end of the cell minus at the first sample with "
      "device I/O (caches dropped before every cell; fio itself is loaded by then), MiB. Context switches per I/O: the server's voluntary + nonvoluntary switches summed over "
      "/proc/PID/task/*/status (jublk); the guest's (`ctxt` in /proc/stat) after the slash, for all. CPU: the "
      "server's utilization in % of one CPU (jublk) / the guest's busy % of all CPUs.")
    w("")
    w("| workload | metric | " + " | ".join(SHORT[c] for c in MODES) + " |")
    w("|" + "---|" * (len(MODES) + 2))
    for table, wl in fs_wls + raw_wls:
        name = f"{'ext4' if table == 'fs' else 'raw'} {wl}"
        vals = [cellv(table, wl, c, "cached_growth_mib", "MiB") for c in MODES]
        for c in MODES:
            add_csv(table, wl, c, "cached_growth_mib", "MiB")
            for mtr in ("server_cs_per_io", "guest_cs_per_io", "server_cpu_pct", "guest_cpu_pct"):
                add_csv(table, wl, c, mtr, "")
        w(f"| {name} | page cache +MiB | " + " | ".join(vals) + " |")
        vals = []
        for c in MODES:
            g = cellv(table, wl, c, "guest_cs_per_io", "")
            vals.append(f"{cellv(table, wl, c, 'server_cs_per_io', '')} / {g}" if c.startswith("jublk") else f"– / {g}")
        w(f"| | ctx switches / I/O | " + " | ".join(vals) + " |")
        vals = []
        for c in MODES:
            g = cellv(table, wl, c, "guest_cpu_pct", "")
            vals.append(f"{cellv(table, wl, c, 'server_cpu_pct', '')} / {g}" if c.startswith("jublk") else f"– / {g}")
        w(f"| | CPU % (server / guest) | " + " | ".join(vals) + " |")
    w("")

    # Table 6
    w("## 6. NBD: jublk's client vs the kernel's (nbd.ko + nbd-client), on one nbdkit")
    w("")
    w(f"The same fio job (libaio, O_DIRECT, {meta.get('T2_RUNTIME', '?')} s after {meta.get('T2_RAMP', '?')} s "
      f"ramp, over the whole {meta.get('NBD_SIZE_MIB', '?')} MiB export) on both clients of one "
      f"{meta.get('nbdkit', 'nbdkit')} memory export on a Unix socket (in guest RAM, filled once); "
      f"{meta.get('nbd_client', 'nbd-client')} configures the kernel's device for each cell (`-b "
      f"{meta.get('NBD_BS', '?')} -C N`) and disconnects it after; jublk's is `ublk add nbd --socket -q N -d 128 "
      f"--logical-block-size {meta.get('NBD_BS', '?')}`, alive for the run. 1 connection: one fio job; "
      "2 connections (one hardware queue each): two jobs, one per vCPU, each with half the depth (the same total). "
      "Ratios jublk ÷ kernel; issue 13 asks for ≥ 1.00× at 4 KiB qd32 and 512 KiB sequential. "
      "The last columns: jublk's client with one connection and `--zero-copy` (payloads over 32 KiB go "
      "between the socket and the request's own pages), and with `--batch` (UBLK_F_BATCH_IO), each ÷ the kernel's with one connection: above "
      "1 is better for IOPS and MiB/s, worse for latency.")
    w("")
    w("| | " + " | ".join(SHORT[c] for c in NBD[:2]) + " | jublk ÷ kernel (1c) | "
      + " | ".join(SHORT[c] for c in NBD[2:]) + " | jublk ÷ kernel (2c) | "
      + " | ".join(f"{SHORT[c]} | ÷ kernel (1c)" for c in NBD_MORE) + " |")
    w("|" + "---|" * (7 + 2 * len(NBD_MORE)))
    for wl, title, metric, unit, two in NBD_ROWS:
        vals = []
        for pair in (NBD[:2], NBD[2:]):
            if pair[0] == "knbd-c2" and not two:
                vals += ["–", "–", ""]
                continue
            for c in pair:
                add_csv("nbd", wl, c, metric, unit)
            vals += [cellv("nbd", wl, c, metric, unit) for c in pair] + [ratio("nbd", wl, pair[1], pair[0], metric)]
        for c in NBD_MORE:
            add_csv("nbd", wl, c, metric, unit)
            vals += [cellv("nbd", wl, c, metric, unit), ratio("nbd", wl, c, "knbd-c1", metric)]
        w(f"| {title} | " + " | ".join(vals) + " |")
    w("")
    goal = []
    for wl in NBD_GOAL:
        metric = "mibs" if wl.endswith("-512k") else "iops"
        for k, j, n in (("knbd-c1", "jublk-nbd-c1", "1c"), ("knbd-c2", "jublk-nbd-c2", "2c"),
                        ("knbd-c1", "jublk-nbd-zc-c1", "1c zc"), ("knbd-c1", "jublk-nbd-batch-c1", "1c batch"),
                        ("knbd-c1", "jublk-nbd-zcb-c1", "1c zc+batch")):
            x, y = stats("nbd", wl, j, metric).median, stats("nbd", wl, k, metric).median
            if x is not None and y:
                goal.append(f"{wl} {n} {x / y:.2f}×" + ("" if x / y >= 1.0 else " (below)"))
    if goal:
        w("Issue 13's goal (jublk ÷ kernel ≥ 1.00×): " + ", ".join(goal) + ".")
        w("")
    w("CPU per I/O, µs: the whole guest (fio, the kernel, nbdkit and the client: nbdkit is the same for both, "
      "so the difference is the client's) and, for jublk, its server process alone (all its threads).")
    w("")
    w("| | guest: " + " | guest: ".join(SHORT[c] for c in NBD[:2]) + " | ÷ (1c) | guest: "
      + " | guest: ".join(SHORT[c] for c in NBD[2:]) + " | ÷ (2c) | "
      + " | ".join(f"guest: {SHORT[c]} | ÷ (1c)" for c in NBD_MORE)
      + " | jublk server 1c | jublk server 2c | " + " | ".join(f"server: {SHORT[c]}" for c in NBD_MORE) + " |")
    w("|" + "---|" * (9 + 3 * len(NBD_MORE)))
    for wl in ["randread-qd1", "randread-qd32", "randwrite-qd32", "read-512k", "write-512k"]:
        vals = []
        for pair in (NBD[:2], NBD[2:]):
            if pair[0] == "knbd-c2" and wl.endswith("-qd1"):
                vals += ["–", "–", ""]
                continue
            for c in pair:
                add_csv("nbd", wl, c, "guest_cpu_us_per_io", "us")
            vals += [cellv("nbd", wl, c, "guest_cpu_us_per_io", "us") for c in pair]
            vals.append(ratio("nbd", wl, pair[1], pair[0], "guest_cpu_us_per_io"))
        for c in NBD_MORE:
            add_csv("nbd", wl, c, "guest_cpu_us_per_io", "us")
            vals += [cellv("nbd", wl, c, "guest_cpu_us_per_io", "us"),
                     ratio("nbd", wl, c, "knbd-c1", "guest_cpu_us_per_io")]
        for c in ["jublk-nbd-c1", "jublk-nbd-c2"] + NBD_MORE:
            if c == "jublk-nbd-c2" and wl.endswith("-qd1"):
                vals.append("–")
                continue
            add_csv("nbd", wl, c, "server_cpu_us_per_io", "us")
            vals.append(cellv("nbd", wl, c, "server_cpu_us_per_io", "us"))
        w(f"| {wl} | " + " | ".join(vals) + " |")
    w("")

    # GC
    w("## GC in the jublk daemons")
    w("")
    gcwin = read_kv(os.path.join(d, "gcwin.txt"))
    pid2c = {v["pid"]: k for k, v in contenders.items() if v.get("pid")}
    warm = float(meta.get("warmup_done_epoch", "0") or 0)
    gcdir = os.path.join(d, "gc")
    pause_re = re.compile(r"^\[([^\]]+)\]\[(\d+)ms\]\[\w+\s*\]\[gc\s*\] GC\(\d+\) (Pause.*?) ([\d.]+)ms\s*$")
    gc_lines = []
    if os.path.isdir(gcdir):
        for fn in sorted(os.listdir(gcdir)):
            mpid = re.match(r"gc-(\d+)\.log", fn)
            if not mpid:
                continue
            pid = mpid.group(1)
            name = pid2c.get(pid, f"pid {pid} (a `ublk` command)")
            if name.startswith("pid "):
                continue
            pauses = []
            for line in open(os.path.join(gcdir, fn), encoding="utf-8", errors="replace"):
                mm = pause_re.match(line.strip())
                if mm:
                    try:
                        t = datetime.strptime(mm.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                    except ValueError:
                        t = None
                    pauses.append((t, float(mm.group(4)), mm.group(3)))
            after = [p for p in pauses if p[0] is not None and p[0] >= warm]
            inwin = []
            if gcwin.get("pid") == pid and gcwin.get("start_epoch") and gcwin.get("end_epoch"):
                s, e = float(gcwin["start_epoch"]), float(gcwin["end_epoch"])
                inwin = [p for p in pauses if p[0] is not None and s <= p[0] <= e]
            gc_lines.append((name, pid, pauses, after, inwin))
    if gc_lines:
        w("| daemon | GC pauses in its life | after warm-up | total pause ms after warm-up |")
        w("|---|---|---|---|")
        for name, pid, pauses, after, _ in gc_lines:
            w(f"| {LABEL.get(name, name)} (pid {pid}) | {len(pauses)} | {len(after)} | "
              f"{sum(p[1] for p in after):.1f} |")
        w("")
        for name, pid, pauses, after, inwin in gc_lines:
            if gcwin.get("pid") == pid:
                s = stats("gc", "randrw-qd32", "jublk-dio", "iops")
                dur = float(gcwin.get("end_epoch", 0)) - float(gcwin.get("start_epoch", 0))
                w(f"Full-speed run: jublk --direct, 4 KiB randrw qd32 for {meta.get('GC_RUN', '?')} s "
                  f"({fmt(s.median, 'IOPS')} IOPS; window {dur:.0f} s incl. fio start-up): "
                  f"**{len(inwin)} GC pause(s)**" + (": " + "; ".join(f"{p[2]} {p[1]:.1f} ms" for p in inwin)
                                                    if inwin else "") + ".")
        w("")
        w("GC logs: `gc/gc-<pid>.log` (-Xlog:gc*). The pauses before the warm-up ended are start-up.")
    else:
        w("No GC logs found.")
    w("")

    if notes:
        w("n/a: " + "; ".join(f"[{k}] {reason}" for reason, k in notes.items()))
        w("")
    failed = [c for c in cells if c["status"] not in ("ok", "na")]
    if failed:
        w("Failed cells: " + ", ".join(f"{c['table']}/{c['workload']}/{c['contender']} r{c['round']} ({c['status']})"
                                      for c in failed))
        w("")

    with open(os.path.join(d, "results.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")

    with open(os.path.join(d, "results.csv"), "w", newline="", encoding="utf-8") as f:
        cw = csv.writer(f)
        cw.writerow(["table", "workload", "contender", "metric", "unit", "median", "min", "max", "n",
                     "spread_pct", "na_reason"])
        seen = set()
        for r in csv_rows:
            k = tuple(r[:4])
            if k not in seen:
                seen.add(k)
                cw.writerow(r)

    keys = ["iops", "mibs", "lat_us", "p99_us", "ios", "runtime_s", "window_s", "dev_ios_per_s", "guest_cpu_pct",
            "guest_cpu_us_per_io", "guest_cs_per_io", "server_cpu_pct", "server_cpu_us_per_io", "server_cs_per_io",
            "queue_cpu_us_per_io", "iou_cpu_us_per_io", "non_iou_cpu_us_per_io", "jit_cpu_pct", "cached_growth_mib", "cached_cell_growth_mib",
            "cached_peak_growth_mib", "cell_seconds"]
    with open(os.path.join(d, "cells.csv"), "w", newline="", encoding="utf-8") as f:
        cw = csv.writer(f)
        cw.writerow(["table", "workload", "contender", "round", "status"] + keys + ["reason"])
        for c in cells:
            cw.writerow([c["table"], c["workload"], c["contender"], c["round"], c["status"]]
                        + [("" if c["m"].get(k) is None else round(c["m"][k], 3)) for k in keys] + [c["reason"]])

    # chart.csv: panel, contender label, median, min, max (one panel per headline metric)
    panels = [("ext4 randread 4k x16: IOPS", "fs", "randread", "iops", LOOP),
              ("ext4 read 4k x16: IOPS", "fs", "read", "iops", LOOP),
              ("ext4 randwrite 4k x16: IOPS", "fs", "randwrite", "iops", LOOP),
              ("ext4 write 4k x16: IOPS", "fs", "write", "iops", LOOP),
              ("raw randread 4k qd1: mean µs (lower is better)", "raw", "randread-qd1", "lat_us", LOOP),
              ("raw randwrite 4k qd1: mean µs (lower is better)", "raw", "randwrite-qd1", "lat_us", LOOP),
              ("raw randread 4k qd32: IOPS", "raw", "randread-qd32", "iops", LOOP),
              ("raw randwrite 4k qd32: IOPS", "raw", "randwrite-qd32", "iops", LOOP),
              ("raw read 512k: MiB/s", "raw", "read-512k", "mibs", LOOP),
              ("raw write 512k: MiB/s", "raw", "write-512k", "mibs", LOOP),
              ("null randread 4k qd32: IOPS", "null", "randread-qd32", "iops", NULL),
              ("null randread 4k qd1: mean µs (lower is better)", "null", "randread-qd1", "lat_us", NULL),
              ("server CPU µs per I/O, raw randread qd32", "raw", "randread-qd32", "server_cpu_us_per_io",
               ["jublk-buf", "jublk-dio", "kublk-loop", "jublk-zc", "kublk-zc"]),
              ("server CPU µs per I/O, null randread qd32", "null", "randread-qd32", "server_cpu_us_per_io",
               ["jublk-null", "kublk-null"]),
              ("page cache growth MiB, raw randread qd32", "raw", "randread-qd32", "cached_growth_mib", MODES),
              ("server ctx switches per I/O, raw randread qd32", "raw", "randread-qd32", "server_cs_per_io",
               ["jublk-buf", "jublk-dio", "kublk-loop", "jublk-zc", "kublk-zc"]),
              ("raw randread 4k qd32: IOPS (1q, batch, 2q)", "raw", "randread-qd32",
               "iops", [c for m, _ in SAME_MODES for c in SAME[("raw", m)]]),
              ("null randread 4k qd32: IOPS (1q, batch, 2q)", "null", "randread-qd32",
               "iops", [c for m, _ in SAME_MODES for c in SAME[("null", m)]]),
              ("nbd randread 4k qd32: IOPS", "nbd", "randread-qd32", "iops", NBD + NBD_MORE),
              ("nbd randwrite 4k qd32: IOPS", "nbd", "randwrite-qd32", "iops", NBD + NBD_MORE),
              ("nbd read 512k: MiB/s", "nbd", "read-512k", "mibs", NBD + NBD_MORE),
              ("nbd write 512k: MiB/s", "nbd", "write-512k", "mibs", NBD + NBD_MORE)]
    with open(os.path.join(d, "chart.csv"), "w", newline="", encoding="utf-8") as f:
        cw = csv.writer(f)
        cw.writerow(["panel", "contender", "median", "min", "max"])
        for title, table, wl, metric, conts in panels:
            for c in conts:
                s = stats(table, wl, c, metric)
                cw.writerow([title, SHORT[c], "" if s.median is None else s.median,
                             "" if s.min is None else s.min, "" if s.max is None else s.max])


if __name__ == "__main__":
    main()
