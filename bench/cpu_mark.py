#!/usr/bin/python3
"""bench/cpu_mark.py: how much CPU processes outside the benchmark used.

The benchmark's CPU is the PostgreSQL cluster (the postmaster's own time,
the time of its children it has reaped, and of those alive now), Redis, and
whatever the suite's shell ran and reaped (pgbench, psql, the helpers).
Everything else the machine did in the meantime (/proc/stat: user, nice,
system, irq, softirq, steal), less kernel threads (the journal and the
writeback work for everyone, us included), is another engineer's test run,
a cron job, another VM: a run that shared the CPUs has lower tps for
reasons that have nothing to do with the variant.

Kernel threads are reaped by nobody, so their time is taken per thread:
the growth of those alive at both marks, all the time of those born since;
one that ended in between is left out (it would otherwise take its whole
history with it), which can only overstate the others a little.

Usage: cpu_mark.py POSTMASTER_PID REDIS_PID SHELL_PID start FILE
       cpu_mark.py POSTMASTER_PID REDIS_PID SHELL_PID since FILE
       cpu_mark.py POSTMASTER_PID REDIS_PID SHELL_PID quiet SECONDS
"start" saves a mark in FILE; "since" prints the others' share of the
machine since that mark, in percent of all CPUs; "quiet" waits, at most
SECONDS, until the others took under 5 % during 0.3 s, and prints how long
it waited.
"""
import json
import os
import sys
import time


def stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name (field 3 first)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def proc_ticks(pid, children=False):
    """utime+stime (with reaped children's cutime+cstime if asked) of a pid."""
    try:
        f = stat_fields(pid)
    except OSError:
        return 0
    t = int(f[11]) + int(f[12])
    if children:
        t += int(f[13]) + int(f[14])
    return t


def processes():
    """{pid: (ppid, starttime, utime+stime)} of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                f = stat_fields(int(name))
            except OSError:
                continue
            out[int(name)] = (int(f[1]), f[19], int(f[11]) + int(f[12]))
    return out


def busy_ticks():
    """Busy ticks of all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def mark(pm, redis, shell):
    """The current counters: wall, busy, ours (kernel threads apart)."""
    procs = processes()
    ours = proc_ticks(pm, True) + proc_ticks(redis) + proc_ticks(shell, True)
    ours += sum(t for pp, _, t in procs.values() if pp == pm)
    kthreads = {str(p): [st, t] for p, (pp, st, t) in procs.items() if pp == 2 or p == 2}
    return {"wall": time.monotonic(), "busy": busy_ticks(), "ours": ours, "kthreads": kthreads}


def others_share(then, now):
    """Percentage of all CPUs the others took between two marks."""
    kernel = 0
    for p, (st, t) in now["kthreads"].items():
        old = then["kthreads"].get(p)
        kernel += t - old[1] if old and old[0] == st else t
    capacity = (now["wall"] - then["wall"]) * os.sysconf("SC_CLK_TCK") * os.cpu_count()
    others = (now["busy"] - then["busy"]) - (now["ours"] - then["ours"]) - kernel
    return max(0.0, 100.0 * others / capacity)


def main():
    """Save a mark, print the others' share since one, or wait for quiet."""
    pm, redis, shell = (int(a) for a in sys.argv[1:4])
    action, arg = sys.argv[4], sys.argv[5]
    now = mark(pm, redis, shell)
    if action == "start":
        with open(arg, "w") as f:
            json.dump(now, f)
    elif action == "since":
        with open(arg) as f:
            print("%.1f" % others_share(json.load(f), now))
    else:
        t0 = time.monotonic()
        while True:
            then = mark(pm, redis, shell)
            time.sleep(0.3)
            if (others_share(then, mark(pm, redis, shell)) < 5
                    or time.monotonic() - t0 >= float(arg)):
                break
        print("%.1f" % (time.monotonic() - t0 - 0.3))


if __name__ == "__main__":
    main()
