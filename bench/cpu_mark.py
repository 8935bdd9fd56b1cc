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

Usage: cpu_mark.py POSTMASTER_PID REDIS_PID SHELL_PID [MARK]
Without MARK prints a mark "wall busy ours" (seconds, ticks, ticks; "ours"
includes kernel threads); with
the MARK of an earlier call prints the others' share of the machine since
then, in percent of all CPUs.
"""
import os
import sys
import time


def proc_ticks(pid, children=False):
    """utime+stime (with reaped children's cutime+cstime if asked) of a pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # fields[0] is the state (field 3); utime is field 14
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t


def children_of(*ppids):
    """Pids whose parent is one of ppids."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) in ppids:
                        out.append(int(name))
            except OSError:
                pass
    return out


def busy_ticks():
    """Busy ticks of all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def main():
    """Print a mark, or the others' share since a mark."""
    pm, redis, shell = (int(a) for a in sys.argv[1:4])
    ours = proc_ticks(pm, True) + sum(proc_ticks(c) for c in children_of(pm))
    ours += proc_ticks(redis) + proc_ticks(shell, True)
    # kernel threads: kthreadd (pid 2) and its children
    ours += proc_ticks(2) + sum(proc_ticks(k) for k in children_of(2))
    now = (time.monotonic(), busy_ticks(), ours)
    if len(sys.argv) < 5:
        print("%.3f %d %d" % now)
        return
    wall0, busy0, ours0 = sys.argv[4].split()
    hz = os.sysconf("SC_CLK_TCK")
    capacity = (now[0] - float(wall0)) * hz * os.cpu_count()
    others = (now[1] - int(busy0)) - (now[2] - int(ours0))
    print("%.1f" % max(0.0, 100.0 * others / capacity))


if __name__ == "__main__":
    main()
