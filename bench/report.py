#!/usr/bin/env python3
"""report.py - turns one bench/run results directory (ops.csv, scale.csv,
concurrency.csv, replication.csv, meta.csv) into report.md and PNG plots
drawn by gnuplot.  Every figure is a median with its min and max over the
repetitions; every ratio is taken per repetition against a baseline of the
same repetition, then summarised the same way."""

import csv
import os
import re
import subprocess
import sys
from collections import defaultdict

out = sys.argv[1]


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt(x):
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x


def cell(v, scale=1.0, want=None):
    v = [x / scale for x in v if x is not None]
    if not v:
        return "n/a"
    s = "%s (%s–%s)" % (fmt(med(v)), fmt(min(v)), fmt(max(v)))
    if want and len(v) < want:
        s += " [%d of %d]" % (len(v), want)
    return s


def rcell(v):
    v = [x for x in v if x is not None]
    if not v:
        return "n/a"
    return "%.2f× (%.2f–%.2f)" % (med(v), min(v), max(v))


meta = {r["key"]: r["value"] for r in rows("meta.csv")}
reps = int(meta.get("reps", "3"))

# --- per-operation costs ---------------------------------------------------------------
ops = rows("ops.csv")
# (target, workload, threads, op) -> {rep: row}
opd = defaultdict(dict)
wl_order, wl_size, wl_n, wl_threads = [], {}, {}, defaultdict(list)
for r in ops:
    key = (r["target"], r["workload"], r["threads"], r["op"])
    opd[key][r["rep"]] = r
    if r["workload"] not in wl_order:
        wl_order.append(r["workload"])
    wl_size[r["workload"]] = r["size"]
    wl_n[r["workload"]] = r["n"]
    if r["threads"] not in wl_threads[r["workload"]]:
        wl_threads[r["workload"]].append(r["threads"])

TARGETS = ["tmpfs", "disk", "passthrough", "swarmfs", "sqlite", "etcd"]
OPS = [("create", "create+write+close"), ("read_cold", "cold read"),
       ("read_warm", "warm re-read"), ("stat", "stat"),
       ("readdir", "ls -l (readdir+lstat), per entry"), ("overwrite", "overwrite"),
       ("unlink", "unlink")]


def values(target, wl, th, op, field):
    return [fnum(r[field]) for r in opd.get((target, wl, th, op), {}).values()]


def ratios(a, b, wl, th, op, field, invert=False):
    """per-repetition a/b (or b/a), the reps both have"""
    ra, rb = opd.get((a, wl, th, op), {}), opd.get((b, wl, th, op), {})
    res = []
    for rep in ra:
        if rep in rb:
            x, y = fnum(ra[rep][field]), fnum(rb[rep][field])
            if x and y:
                res.append(y / x if invert else x / y)
    return res


def errors_of(target, wl, th, op):
    return sum(int(r["errors"] or 0) for r in opd.get((target, wl, th, op), {}).values())


def pick_wl(pref):
    for w in pref:
        if w in wl_order:
            return w
    return wl_order[0] if wl_order else None


# --- scale, concurrency, replication --------------------------------------------------
scale = defaultdict(list)  # (target, n, metric) -> values
scale_ns = []
for r in rows("scale.csv"):
    scale[(r["target"], int(r["n"]), r["metric"])].append(fnum(r["value"]))
    if int(r["n"]) not in scale_ns:
        scale_ns.append(int(r["n"]))
scale_ns.sort()
scale_rep = defaultdict(dict)  # (target, n, metric) -> {rep: value}
for r in rows("scale.csv"):
    scale_rep[(r["target"], int(r["n"]), r["metric"])][r["rep"]] = fnum(r["value"])


def scale_ratio(n, metric, a="swarmfs", b="passthrough"):
    ra, rb = scale_rep.get((a, n, metric), {}), scale_rep.get((b, n, metric), {})
    return [ra[k] / rb[k] for k in ra if k in rb and ra[k] and rb[k]]


conc = defaultdict(dict)  # (target, threads, metric) -> {rep: value}
for r in rows("concurrency.csv"):
    conc[(r["target"], int(r["threads"]), r["metric"])][r["rep"]] = fnum(r["value"])

repl = defaultdict(list)  # (source, metric) -> values
for r in rows("replication.csv"):
    repl[(r["source"], r["metric"])].append(fnum(r["value"]))


def rv(src, metric):
    return [x for x in repl.get((src, metric), []) if x is not None]


# --- plots --------------------------------------------------------------------------------
plots = []


def gnuplot(name, script, data):
    for fname, text in data.items():
        with open(os.path.join(out, fname), "w") as f:
            f.write(text)
    png = os.path.join(out, name)
    full = 'set terminal pngcairo size 960,600 font "sans,10"\nset output "%s"\n' % png + script
    with open(os.path.join(out, name.replace(".png", ".gp")), "w") as f:
        f.write(full)
    r = subprocess.run(["gnuplot"], input=full, text=True, cwd=out,
                       stderr=subprocess.PIPE)
    if r.returncode == 0 and os.path.exists(png):
        plots.append(name)
    else:
        print("report.py: gnuplot failed for %s: %s" % (name, r.stderr[-300:]), file=sys.stderr)


def plot_ops(wl, th):
    lines = ["op " + " ".join(TARGETS)]
    for op, label in OPS:
        vals = []
        for t in TARGETS:
            m = med([x for x in values(t, wl, th, op, "us_per_op") if x])
            vals.append("%.3f" % m if m else "NaN")
        lines.append('"%s" %s' % (label.split(" (")[0].replace(",", ""), " ".join(vals)))
    script = """set title "µs per operation, %s documents of %s B, %s thread(s) (median of the repetitions; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "µs per operation"
set xtics rotate by -20
set key top left
set grid ytics
plot for [i=2:%d] "ops-plot.dat" using i:xtic(1) title columnheader(i)
""" % (wl_n[wl], wl_size[wl], th, len(TARGETS) + 1)
    gnuplot("ops.png", script, {"ops-plot.dat": "\n".join(lines) + "\n"})


def plot_scale():
    lines = ["n ls_sw ls_pass rss_sw rss_pass wps_sw store_mb"]
    for n in scale_ns:
        def m(t, k, s=1.0):
            x = med([v for v in scale.get((t, n, k), []) if v is not None])
            return "%.6g" % (x / s) if x is not None else "NaN"
        lines.append("%d %s %s %s %s %s %s" % (
            n, m("swarmfs", "ls_cold_s"),
            m("passthrough", "ls_cold_s"), m("swarmfs", "hwm_kb", 1024),
            m("passthrough", "hwm_kb", 1024), m("swarmfs", "writes_per_s"),
            m("swarmfs", "store_bytes", 1048576)))
    script = """set multiplot layout 2,2 title "swarmfs as resources grow (median of the repetitions)"
set logscale x
set grid
set key top left
set xlabel "resources"
set logscale y
set title "ls -l after mount + drop_caches, s"
plot "scale-plot.dat" using 1:2 with linespoints title "swarmfs", "" using 1:3 with linespoints title "bare FUSE passthrough"
set title "daemon peak RSS, MB"
plot "scale-plot.dat" using 1:4 with linespoints title "swarmfs", "" using 1:5 with linespoints title "passthrough", 64 with lines dt 2 title "64 MB target"
unset logscale y
set yrange [0:*]
set title "durable writes/s into a store of that size (1 writer)"
plot "scale-plot.dat" using 1:6 with linespoints title "swarmfs"
set logscale y
set yrange [*:*]
set title "store size on disk, MB"
plot "scale-plot.dat" using 1:7 with linespoints title "swarmfs data dir"
unset multiplot
"""
    gnuplot("scale.png", script, {"scale-plot.dat": "\n".join(lines) + "\n"})


def plot_conc(ths):
    lines = ["threads swarmfs sqlite one_writer fsync_bound"]
    one = med(list(conc.get(("swarmfs", 1, "writes_per_s"), {}).values()))
    fs = med(list(conc.get(("fsync", 1, "fsync_us"), {}).values()))
    for t in ths:
        sw = med(list(conc.get(("swarmfs", t, "writes_per_s"), {}).values()))
        sq = med(list(conc.get(("sqlite", t, "writes_per_s"), {}).values()))
        lines.append("%d %s %s %s %s" % (t, sw or "NaN", sq or "NaN", one or "NaN",
                                         1e6 / fs if fs else "NaN"))
    script = """set title "durable writes/s with concurrent writers (group commit): median of the repetitions"
set xlabel "concurrent writers"
set ylabel "committed writes/s"
set logscale x 2
set grid
set key top left
set yrange [0:*]
plot "conc-plot.dat" using 1:2 with linespoints lw 2 title "swarmfs (close() returned)", \\
     "" using 1:3 with linespoints title "raw SQLite, connection per writer", \\
     "" using 1:4 with lines dt 2 title "swarmfs 1 writer (no group commit: N writers = N x its cost)", \\
     "" using 1:5 with lines dt 3 title "1 / fdatasync on this disk"
"""
    gnuplot("concurrency.png", script, {"conc-plot.dat": "\n".join(lines) + "\n"})


def plot_repl(series):
    lines = ["what p50 p99 max"]
    for label, p50, p99, mx in series:
        lines.append('"%s" %s %s %s' % (label, p50 if p50 is not None else "NaN",
                                      p99 if p99 is not None else "NaN",
                                      mx if mx is not None else "NaN"))
    script = """set title "write on one node -> visible on a peer, ms (median of the repetitions; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "ms"
set grid ytics
set key top left
plot "repl-plot.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "max"
"""
    gnuplot("replication.png", script, {"repl-plot.dat": "\n".join(lines) + "\n"})


# --- the report ---------------------------------------------------------------------------
md = []
w = md.append
w("# swarmfs benchmark report\n")
w("- %s, source %s; %s CPUs (%s), %s GB RAM, kernel %s; data dirs on %s." % (
    meta.get("date"), meta.get("source"), meta.get("cpus"), meta.get("cpu_model", "").strip(),
    meta.get("mem_gb"), meta.get("kernel"), meta.get("disk")))
w("- etcd %s, SQLite %s; %s repetitions%s; total run time %s s." % (
    meta.get("etcd"), meta.get("sqlite"), reps,
    " (**--quick smoke run**)" if meta.get("quick") == "1" else "",
    fmt(sum(fnum(v) or 0 for k, v in meta.items() if k.startswith("run_s")))))
loads = [(k[5:], v) for k, v in meta.items() if k.startswith("load.")]
with open(os.path.join(out, "meta.csv")) as f:
    loads = [tuple(line.rstrip("\n").split(",", 1)) for line in f
             if line.startswith("load.")]
loads = [(k[5:], v) for k, v in loads]
w("- **The machine is shared and was busy**: load average (1, 5, 15 min) " +
  "; ".join("%s: %s" % (k, v) for k, v in loads) +
  ". Other engineers' builds and tests ran at the same time, so absolute figures are "
  "noisy; ratios against baselines of the same repetition are the figures to read.")
w("")

# headline
head_wl = pick_wl(["500B-10k", "500B-1k", "500B-100k"])
th1 = "1"
targets = []


def target(name, vals, goal, op, limit, note=""):
    v = [x for x in vals if x is not None]
    m = med(v)
    if m is None:
        verdict = "not measured"
    else:
        ok = m >= limit if op == ">=" else m <= limit if op == "<=" else m < limit
        verdict = "**met**" if ok else "**not met**"
    targets.append((name, v, goal, verdict, note))


if head_wl:
    target("durable write+close, swarmfs ÷ raw SQLite ops/s (%s, 1 writer)" % head_wl,
           ratios("swarmfs", "sqlite", head_wl, th1, "create", "ops_per_s"), "≥ 0.8×", ">=", 0.8)
    target("cold read, swarmfs ÷ bare FUSE µs/op (%s)" % head_wl,
           ratios("swarmfs", "passthrough", head_wl, th1, "read_cold", "us_per_op"),
           "≤ 1.5×", "<=", 1.5)
    target("warm re-read, swarmfs ÷ tmpfs µs/op (%s)" % head_wl,
           ratios("swarmfs", "tmpfs", head_wl, th1, "read_warm", "us_per_op"), "≤ 2×", "<=", 2)
    target("durable sequential writes/s, swarmfs ÷ etcd (%s, 1 writer)" % head_wl,
           ratios("swarmfs", "etcd", head_wl, th1, "create", "ops_per_s"), "≥ 1×", ">=", 1)
p99 = rv("swarmfs", "paced.repl_p99_us")
catch = rv("swarmfs", "log.catchup_s")
w_repl = [x / 1000 for x in p99]
targets.append(("replication p99, close() on A → readable on B at 1,000 writes/s, ms",
                w_repl, "< 20 ms",
                "not measured" if not w_repl else "**met**" if med(w_repl) < 20 else "**not met**",
                "absolute (ms), not a ratio"))
targets.append(("catch-up of a node that missed the changes, s", catch, "< 5 s",
                "not measured" if not catch else "**met**" if med(catch) < 5 else "**not met**",
                "absolute (s); count in the replication section"))
big = max(scale_ns) if scale_ns else None
n100k = 100000 if 100000 in scale_ns else big
if n100k:
    lr = scale_ratio(n100k, "ls_cold_s")
    targets.append(("ls -l of %d resources, swarmfs ÷ bare FUSE (issue 2)" % n100k, lr, "≤ 1.5×",
                    "not measured" if not lr else "**met**" if med(lr) <= 1.5 else "**not met**", ""))
    rss = [x / 1024 for x in scale.get(("swarmfs", n100k, "hwm_kb"), []) if x]
    targets.append(("swarmfs peak RSS holding %d resources, MB (issue 2)" % n100k, rss, "< 64 MB",
                    "not measured" if not rss else "**met**" if max(rss) < 64 else "**not met**",
                    "absolute; max over reps decides"))

w("## Targets (median of per-repetition ratios, min–max in brackets)\n")
w("| target | measured | goal | verdict |")
w("|---|---|---|---|")
for name, v, goal, verdict, note in targets:
    if "×" in goal:
        shown = rcell(v)
    else:
        shown = cell(v)
    w("| %s | %s | %s | %s |" % (name, shown + (" — " + note if note else ""), goal, verdict))
w("")

w("## How it was measured\n")
w("""- Documents are valid Deployments of exactly the stated size, written to
  `deployments/default/dNNNNN.json` (a fixed shuffled order) by `bench/bench-fs`;
  with T threads each takes every T-th file, ops/s is their aggregate.
- **tmpfs**: a directory under /dev/shm. **disk**: a directory on the
  filesystem that holds the swarmfs data dir (no fsync: page cache speed).
  **passthrough**: `bench/fusepass` (libfuse3, multi-threaded) over tmpfs, the
  price of FUSE itself. **swarmfs**: a fresh `--data-dir` on that disk,
  synchronous=FULL (the default: durable when close() returns 0). **sqlite**:
  `bench/bench-sqlite`, one BEGIN IMMEDIATE transaction per document, WAL,
  synchronous=FULL, a connection per thread, the file on the same disk.
  **etcd**: one etcd member on 127.0.0.1 (fsync per put, as etcd always does)
  driven by `bench/etcd-bench.py` through the gRPC gateway (`/v3/kv/put`,
  `/v3/kv/range`, `/v3/kv/deleterange`), one kept-open HTTP/1.1 connection per
  thread; Python's own overhead (tens of µs) is included in its figures.
- Cold read: FUSE targets are unmounted, `sync; echo 3 > /proc/sys/vm/drop_caches`,
  mounted again; tmpfs and disk: drop_caches only (tmpfs keeps its pages);
  SQLite: drop_caches and a new process; etcd serves from memory (no cold read).
  Warm re-read: a second pass right after. `ls -l`: readdir + lstat of every entry.
- A ratio is taken per repetition (swarmfs ÷ the baseline of the same
  repetition), then reported as median (min–max). For times (µs/op) above 1
  means swarmfs is slower; for rates (ops/s) below 1 means swarmfs is slower.
""")

for wl in wl_order:
    for th in wl_threads[wl]:
        w("## %s: %s documents of %s B, %s thread(s): µs per operation, median (min–max)\n" % (
            wl, wl_n[wl], wl_size[wl], th))
        present = [t for t in TARGETS if any((t, wl, th, op) in opd for op, _ in OPS)]
        bases = [t for t in present if t != "swarmfs"]
        w("| operation | " + " | ".join(present) + " | " +
          " | ".join("swarmfs ÷ %s" % b for b in bases) + " |")
        w("|---" * (1 + len(present) + len(bases)) + "|")
        for op, label in OPS:
            cells = [cell(values(t, wl, th, op, "us_per_op"), want=reps)
                     if (t, wl, th, op) in opd else "–" for t in present]
            rat = [rcell(ratios("swarmfs", b, wl, th, op, "us_per_op"))
                   if (b, wl, th, op) in opd else "–" for b in bases]
            w("| %s | %s | %s |" % (label, " | ".join(cells), " | ".join(rat)))
        errs = ["%s %s: %d" % (t, op, errors_of(t, wl, th, op)) for t in present
                for op, _ in OPS if errors_of(t, wl, th, op)]
        if errs:
            w("\nFailed operations (counted in the times): " + "; ".join(errs) + ".")
        w("")

if scale_ns:
    w("## Scale: as resources grow, median (min–max)\n")
    w("swarmfs is populated through its bulk path, `swarmfs-admin import` of a "
      "generated export (one transaction), timed below; the passthrough's tmpfs by "
      "bench-fs with 4 threads. Each repetition mounts after drop_caches, runs "
      "`ls -l` twice, reads the daemon's RSS, then (swarmfs) writes durably for a few "
      "seconds with one writer into the populated store.\n")
    w("| resources | import, s | store on disk, MB (B/resource) | ls -l cold swarmfs, s | "
      "ls -l cold passthrough, s | swarmfs ÷ passthrough | ls -l warm ratio | swarmfs peak RSS, MB | "
      "passthrough peak RSS, MB | durable writes/s | ÷ writes/s at %d |" % scale_ns[0])
    w("|---" * 11 + "|")
    base_w = scale_rep.get(("swarmfs", scale_ns[0], "writes_per_s"), {})
    for n in scale_ns:
        sb = med([x for x in scale.get(("swarmfs", n, "store_bytes_after"), []) if x])
        wr = scale_rep.get(("swarmfs", n, "writes_per_s"), {})
        w("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, cell(scale.get(("swarmfs", n, "import_s"), [])),
            "%s (%s)" % (fmt(sb / 1048576), fmt(sb / n)) if sb else "n/a",
            cell(scale.get(("swarmfs", n, "ls_cold_s"), [])),
            cell(scale.get(("passthrough", n, "ls_cold_s"), [])),
            rcell(scale_ratio(n, "ls_cold_s")), rcell(scale_ratio(n, "ls_warm_s")),
            cell(scale.get(("swarmfs", n, "hwm_kb"), []), 1024),
            cell(scale.get(("passthrough", n, "hwm_kb"), []), 1024),
            cell(scale.get(("swarmfs", n, "writes_per_s"), [])),
            rcell([wr[k] / base_w[k] for k in wr if k in base_w and base_w[k] and wr[k]])))
    want = [int(x) for x in meta.get("scale", "").split()]
    miss = [n for n in want if n not in scale_ns]
    if miss:
        w("\n**Not measured in this run:** %s resources (time or failure; see run.log)." %
          ", ".join(str(n) for n in miss))
    w("")
    plot_scale()

ths = sorted({k[1] for k in conc if k[0] == "swarmfs"})
if ths:
    fs = list(conc.get(("fsync", 1, "fsync_us"), {}).values())
    one = conc.get(("swarmfs", 1, "writes_per_s"), {})
    w("## Group commit: concurrent durable writers, median (min–max)\n")
    w("Each writer runs `bench/bench-write` (open, write 500 B, close) on its own "
      "files for a few seconds; close() returns after the commit. One fdatasync of 500 B on "
      "this disk costs %s µs, so without group commit N writers could at best reach one "
      "writer's rate: N commits cost N × one writer's fsync.\n" % cell(fs))
    w("| writers | swarmfs writes/s | ÷ 1 writer (speed-up) | swarmfs close() p50 / p99, ms | "
      "raw SQLite writes/s | swarmfs ÷ SQLite | N × fsync cost ÷ swarmfs time for N writes |")
    w("|---" * 7 + "|")
    for t in ths:
        sw = conc.get(("swarmfs", t, "writes_per_s"), {})
        sq = conc.get(("sqlite", t, "writes_per_s"), {})
        fsr = conc.get(("fsync", 1, "fsync_us"), {})
        # time for N writes at the aggregate rate vs N sequential fsyncs
        gain = [(t * fsr[k] / 1e6) / (t / sw[k]) for k in sw if k in fsr and sw[k] and fsr[k]]
        w("| %d | %s | %s | %s / %s | %s | %s | %s |" % (
            t, cell(list(sw.values())),
            rcell([sw[k] / one[k] for k in sw if k in one and one[k] and sw[k]]),
            cell(list(conc.get(("swarmfs", t, "close_p50_us"), {}).values()), 1000),
            cell(list(conc.get(("swarmfs", t, "close_p99_us"), {}).values()), 1000),
            cell(list(sq.values())),
            rcell([sw[k] / sq[k] for k in sw if k in sq and sq[k] and sw[k]]), rcell(gain)))
    w("\nThe last column above 1 means N concurrent durable writes finished faster "
      "than N back-to-back fsyncs: commits are shared.\n")
    plot_conc(ths)

if repl:
    w("## Replication, median (min–max)\n")
    w("swarmfs: three nodes on 127.0.0.1 (`bench/run-replication.sh`, its full "
      "report follows). etcd: a three-member cluster on 127.0.0.1; puts paced at "
      "1,000/s on member 1 by 8 kept-open connections, a `/v3/watch` stream on "
      "member 2; latency = event received − put acknowledged (can be negative: a "
      "follower may apply before the leader's reply reaches the client), and from "
      "the put's start. nng: a 500 B pub/sub round trip at the same rate.\n")
    w("| measure | p50, ms | p99, ms | max, ms | ratio of p99 to swarmfs A→B |")
    w("|---|---|---|---|---|")
    sw99 = med(rv("swarmfs", "paced.repl_p99_us"))
    series = []

    def rrow(label, src, p50k, p99k, maxk, scale_ms=1000.0):
        p50, p99v, mx = rv(src, p50k), rv(src, p99k), rv(src, maxk)
        m99 = med(p99v)
        w("| %s | %s | %s | %s | %s |" % (label, cell(p50, scale_ms), cell(p99v, scale_ms),
                                          cell(mx, scale_ms),
                                          "%.2f" % (m99 / sw99) if m99 and sw99 else "n/a"))
        series.append((label, med(p50) / scale_ms if p50 else None,
                       m99 / scale_ms if m99 else None, med(mx) / scale_ms if mx else None))

    rrow("nng pub/sub one way (round trip ÷ 2)", "swarmfs", "nng.rtt_p50_us", "nng.rtt_p99_us",
         "nng.rtt_max_us", 2000.0)
    rrow("swarmfs, close() → readable on the same node", "swarmfs", "local.repl_p50_us",
         "local.repl_p99_us", "local.repl_max_us")
    rrow("**swarmfs, close() on A → readable through B's mount**", "swarmfs", "paced.repl_p50_us",
         "paced.repl_p99_us", "paced.repl_max_us")
    rrow("etcd, put acknowledged → watch event on another member", "etcd3", "repl_p50_us",
         "repl_p99_us", "repl_max_us")
    rrow("etcd, put sent → watch event on another member", "etcd3", "sent_p50_us",
         "sent_p99_us", "sent_max_us")
    w("")
    w("| measure | value |")
    w("|---|---|")
    w("| swarmfs achieved paced rate on A, writes/s | %s |" % cell(rv("swarmfs", "paced.writes_per_s")))
    w("| etcd achieved paced rate, puts/s | %s |" % cell(rv("etcd3", "writes_per_s")))
    w("| swarmfs sustained replicated writes/s (readable on B) | %s |" % cell(rv("swarmfs", "max.repl_per_s")))
    w("| swarmfs catch-up after missing the changes (from the log), s | %s |" % cell(catch))
    w("| the same after the peer compacted its log, s | %s |" % cell(rv("swarmfs", "compacted.catchup_s")))
    w("")
    plot_repl([s for s in series if "sent" not in s[0]])
    rmd = os.path.join(out, "replication.md")
    if os.path.exists(rmd) and os.path.getsize(rmd) > 0:
        text = open(rmd).read()
        text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)
        w("### Full output of bench/run-replication.sh\n")
        w(text)

if head_wl:
    plot_ops(head_wl, th1)

w("## Plots\n")
for p in plots:
    w("![%s](%s)\n" % (p[:-4], p))
w("## Files\n")
w("ops.csv, scale.csv, concurrency.csv, replication.csv (raw samples, one row per "
  "repetition), meta.csv (machine, load), replication.md, run.log, *.gp and *.dat "
  "(the gnuplot scripts and their data).")
with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(md) + "\n")
