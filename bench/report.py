#!/usr/bin/python3
"""bench/report.py: the table of bench/run.sh, from its result lines.

Input: lines "key value..." (see bench/*.sh for the keys).  Output: one
table.  A throughput ratio is the variant's median tps over the baseline's
median tps; "min-max" shows the lowest and highest per-round ratio (each
against the baseline of the same round), a view of the noise.  Targets are
docs/benchmarks.md's; "met"/"missed" compares the median.

Usage: report.py RESULTS_FILE
"""
import os
import statistics
import sys

VARIANTS = [
    ("none", "no trigger (baseline)"),
    ("sql", "dumper, SQL paths function"),
    ("sqlexpr", "dumper, SQL paths function not run as templates"),
    ("templates", "dumper, C path templates"),
    ("cnoop", "no-op C AFTER ROW trigger (the floor)"),
    ("paused", "dumper, templates, worker stopped (writers' share)"),
    ("notify", "PL/pgSQL, pg_notify per path"),
    ("queue", "PL/pgSQL, queue INSERT per path"),
]
# Minimum ratios (docs/benchmarks.md), single-row UPDATE, by settings, variant.
UPDATE_TARGETS = {("cpu", "sql"): 0.85, ("cpu", "templates"): 0.93,
                  ("durable", "sql"): 0.97, ("durable", "templates"): 0.97}
ROWS = []
OTHERS = []  # share of the CPU other processes took, per timed run or phase


def load(path):
    """Result lines as a dict: key -> list of fields."""
    res = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts:
                res[parts[0]] = parts[1:]
    return res


def rounds(res, prefix):
    """Values of keys prefix.1, prefix.2, ... as floats, in round order."""
    out = []
    r = 1
    while "%s.%d" % (prefix, r) in res:
        out.append(float(res["%s.%d" % (prefix, r)][0]))
        r += 1
    return out


def row(what, value="", ratio="", spread="", target="", verdict=""):
    """Add one line to the table."""
    ROWS.append((what, value, ratio, spread, target, verdict))


def verdict(ok):
    """'met' or 'missed'."""
    return "met" if ok else "missed"


def throughput(res, settings, workload):
    """The rows of one pgbench series; dumper's rows are checked against the
    minimum (UPDATE only) and against both peers ("> peers")."""
    variants = [(v, label) for v, label in VARIANTS
                if rounds(res, "tps.%s.%s.%s" % (settings, workload, v))]
    tps = {v: rounds(res, "tps.%s.%s.%s" % (settings, workload, v)) for v, _ in variants}
    if "none" not in tps:
        return
    base = tps["none"]
    ratio = {v: statistics.median(t) / statistics.median(base) for v, t in tps.items()}
    peers = max(ratio["notify"], ratio["queue"])
    for v, label in variants:
        per_round = [t / b for t, b in zip(tps[v], base)]
        spread = "%.2f-%.2f" % (min(per_round), max(per_round)) if v != "none" else ""
        target = ok = ""
        if v in ("sql", "templates"):
            minimum = UPDATE_TARGETS.get((settings, v)) if workload == "update" else None
            target = (">= %.2f, " % minimum if minimum else "") + "> peers"
            ok = verdict(ratio[v] > peers and (minimum is None or ratio[v] >= minimum))
        row("%-7s %-6s %s" % (settings, workload.upper(), label),
            "%.0f tps" % statistics.median(tps[v]), "%.3f" % ratio[v], spread, target, ok)
    for v, label in variants:
        if v in ("sql", "templates"):
            delivery_cpu(res, settings, workload, v, label)
    if workload == "update":
        machine(res, settings, workload, variants)
    others = [float(res[k][0]) for k in res if k.startswith("others.%s.%s." % (settings, workload))]
    if others:
        row("  CPU taken by other processes, mean (max run)",
            "%.1f%% (%.0f%%)" % (statistics.mean(others), max(others)))
        OTHERS.extend(others)


def delivery_cpu(res, settings, workload, variant, label):
    """A row of the CPU dumper's worker and Redis used per transaction of a
    variant's runs (medians of the per-run values)."""
    prefix = "deliv.%s.%s.%s." % (settings, workload, variant)
    runs = [[float(x) for x in res[k]] for k in res if k.startswith(prefix)]
    runs = [r for r in runs if r[2] > 0]
    if not runs:
        return
    worker = statistics.median(r[0] / r[2] * 1e6 for r in runs)
    redis = statistics.median(r[1] / r[2] * 1e6 for r in runs)
    row("  delivery CPU per transaction, worker + Redis (%s)" % label.split(", ")[1],
        "%.1f + %.1f us" % (worker, redis))


def machine(res, settings, workload, variants):
    """Rows of what the whole machine spent per transaction in a series'
    runs: CPU time (busy ticks over transactions), the CPUs' busy and
    iowait shares, WAL bytes written and WAL flushes (with the mean time of
    one, when timed), medians of the per-run values.  CPUs near busy with
    little iowait mean the series is bound by the CPUs, whatever the
    settings: the ratios then follow the CPU per transaction."""
    hz = float(os.sysconf("SC_CLK_TCK"))
    lines = []
    for v, label in variants:
        if v in ("notify", "queue"):
            continue
        prefix = "machine.%s.%s.%s." % (settings, workload, v)
        runs = [[float(x) for x in res[k]] for k in res if k.startswith(prefix)]
        runs = [r for r in runs if r[6] > 0 and sum(r[:3]) > 0]
        if not runs:
            continue
        med = lambda f: statistics.median(f(r) for r in runs)
        cpu = med(lambda r: r[0] / hz / r[6] * 1e6)
        busy = med(lambda r: 100.0 * r[0] / sum(r[:3]))
        iowait = med(lambda r: 100.0 * r[2] / sum(r[:3]))
        wal = med(lambda r: r[3] / r[6])
        syncs = med(lambda r: r[4] / r[6])
        flush = (", %.2f flushes" % syncs) if syncs > 0 else ", no flush"
        if syncs > 0 and med(lambda r: r[5]) > 0:
            flush += " of %.2f ms" % med(lambda r: r[5] / r[4] if r[4] else 0)
        lines.append(("    %s: busy %.0f%%, iowait %.0f%%, WAL %.0f B%s" % (
            label.split(" (")[0], busy, iowait, wal, flush), "%.1f us" % cpu))
    if lines:
        row("  whole machine per transaction (CPU time, CPUs busy, WAL written)")
        for what, value in lines:
            row(what, value)


def instructions(res):
    """Rows of the instructions one backend executes per UPDATE transaction
    (bench/instructions.sh), with the baseline's count over the variant's:
    exact and repeatable, but the backend's work only, so every trigger's
    share is larger here than in the throughput ratios."""
    if "instr.update.none" not in res:
        return
    base = float(res["instr.update.none"][0])
    row("cpu     UPDATE instructions per transaction, one backend (callgrind)")
    for v, label in VARIANTS:
        if "instr.update." + v in res:
            n = float(res["instr.update." + v][0])
            extra = " (+%.1fk)" % ((n - base) / 1000) if v != "none" else ""
            row("  %s%s" % (label, extra), "%.1fk" % (n / 1000), "%.3f" % (base / n))


def bulk(res):
    """The rows of the 1,000,000-row UPDATE: time, then memory."""
    base = rounds(res, "bulk.none")
    if not base:
        return
    mbase = statistics.median(base)
    for v, label in [(v, label) for v, label in VARIANTS if v in ("none", "sql", "templates")]:
        secs = rounds(res, "bulk.%s" % v)
        m = statistics.median(secs)
        spread = ("%.2f-%.2f" % (min(s / b for s, b in zip(secs, base)),
                                 max(s / b for s, b in zip(secs, base)))) if v != "none" else ""
        row("UPDATE 1,000,000 rows, %s" % label, "%.2f s" % m, "%.3f" % (m / mbase), spread,
            "<= 1.50" if v != "none" else "", verdict(m / mbase <= 1.5) if v != "none" else "")
    mem = [("none", "no trigger"), ("noop", "no-op PL/pgSQL AFTER ROW trigger"),
           ("one", "dumper, 1 distinct path"),
           ("million", "dumper, 1,000,000 distinct paths")]
    for key, label in mem:
        if "mem." + key in res:
            kb = int(res["mem." + key][0])
            row("  peak backend private memory, %s" % label, "%.1f MB" % (kb / 1024.0), "", "",
                "<= 64 MB" if key in ("one", "million") else "",
                verdict(kb <= 65536) if key in ("one", "million") else "")


def others_row(res, phase):
    """The CPU share other processes took during a phase, as a row."""
    if "others." + phase in res:
        share = float(res["others." + phase][0])
        row("  CPU taken by other processes during this phase", "%.1f%%" % share)
        OTHERS.append(share)


def delivery(res):
    """Delivery throughput, the redis-benchmark ceiling, latency, queue size."""
    others_row(res, "bulk")
    if "drain" in res:
        paths, secs, delivered = res["drain"]
        rate = int(paths) / float(secs)
        row("delivery, one worker, %s paths queue -> Redis" % paths, "%.0f paths/s" % rate,
            "", "", ">= 200000", verdict(rate >= 200000))
    if "redis.del" in res:
        row("  redis-benchmark -P 100 DEL (ceiling)", "%.0f DEL/s" % float(res["redis.del"][0]))
    if "lat.summary" in res:
        n, p50, p99, mx = res["lat.summary"]
        what = "commit -> DEL at %s tps (asked %s), %s samples" % (
            "%.0f" % float(res["lat.tps"][0]), res["lat.rate"][0], n)
        row(what + ", p50", "%s ms" % p50, "", "", "<= 2 ms", verdict(float(p50) <= 2))
        row("  p99", "%s ms" % p99, "", "", "<= 20 ms", verdict(float(p99) <= 20))
        row("  max", "%s ms" % mx)
        others_row(res, "latency")
    if "queue.pgbench" in res:
        peak, last = res["queue.pgbench"]
        row("dumper.queue size, peak during the CPU-bound pgbench runs", "%.0f kB" % (int(peak) / 1024.0))
    if "queue.after" in res:
        peak, last = res["queue.after"]
        row("  peak / end of the %s s latency run" % res["meta.lat_secs"][0],
            "%.0f / %.0f kB" % (int(peak) / 1024.0, int(last) / 1024.0))


def main():
    """Print the header and the table."""
    res = load(sys.argv[1])
    meta = lambda k: " ".join(res.get("meta." + k, ["?"]))
    print("dumper benchmark, %s, commit %s, PostgreSQL %s, Redis %s, %s CPUs" % (
        meta("date"), meta("commit"), meta("postgres"), meta("redis"), meta("cpus")))
    print("pgbench -c 4 -j 2 -M prepared, %s s per run, %s rounds interleaved (INSERT, "
          "DELETE: %s of %s s; the 1,000,000-row UPDATE: %s), medians; cpu = fsync, "
          "synchronous_commit, full_page_writes off; durable = defaults" % (
              meta("secs"), meta("rounds"), meta("minor_rounds"), meta("minor_secs"),
              meta("bulk_rounds")))
    print()
    for settings, workload in (("cpu", "update"), ("cpu", "insert"), ("cpu", "delete"),
                               ("durable", "update")):
        throughput(res, settings, workload)
    instructions(res)
    bulk(res)
    delivery(res)
    head = ("measurement", "value", "ratio", "min-max", "target", "")
    widths = [max(len(r[i]) for r in ROWS + [head]) for i in range(6)]
    fmt = "%%-%ds  %%%ds  %%%ds  %%%ds  %%-%ds  %%s" % tuple(widths[:5])
    print((fmt % head).rstrip())
    print(fmt % (tuple("-" * w for w in widths[:5]) + ("------",)))
    for r in ROWS:
        print((fmt % r).rstrip())
    busy = [o for o in OTHERS if o >= 5]
    if busy:
        print("\nnote: other processes took 5 %% or more of the CPU during %d of %d timed "
              "runs and phases (at most %.0f %%): a median of rounds shrugs off one such "
              "run; if several share a series, re-run on a quiet machine" % (
                  len(busy), len(OTHERS), max(busy)))


if __name__ == "__main__":
    main()
