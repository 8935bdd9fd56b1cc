#!/usr/bin/python3
"""bench/django_hits_cpu.py: the CPU share processes outside bench/django_hits.sh took.

Ours: every process in the trees under the ROOT pids (the script's shell,
the postmaster, Redis, each gunicorn master): its own time plus what it
has reaped (wrk, psql, curl, ended backends).  Others:
the machine's busy time (/proc/stat) less ours, less kernel threads (see
bench/cpu_mark.py, whose method this follows for trees it cannot see: it
counts only the postmaster's direct children and a shell's reaped ones,
while gunicorn's workers stay alive through a run).

Usage: django_hits_cpu.py start FILE ROOT...   save a mark in FILE
       django_hits_cpu.py since FILE ROOT...   print the others' share since
                                               the mark, in % of all CPUs
Rules: reads /proc only; an exited process simply stops counting (a small
overstatement of the others, never an understatement).
"""
import json
import os
import sys
import time

from cpu_mark import busy_ticks, others_share


def _stat(pid):
    """(ppid, starttime, own ticks, reaped children's ticks) of PID, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[1]), fields[19], int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]))


def mark(roots):
    """The counters now: wall clock, busy ticks, our ticks, kernel threads' ticks."""
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s:
                procs[int(name)] = s
    children = {}
    for pid, (ppid, _, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    # Each process of our trees: its own time and that of the children it
    # reaped (wrk, psql, curl, ended backends), which were ours too.
    ours, seen, todo = 0, set(), [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        ours += procs[pid][2] + procs[pid][3]
        todo.extend(children.get(pid, []))
    kthreads = {str(p): [st, t] for p, (pp, st, t, _) in procs.items() if pp == 2 or p == 2}
    return {"wall": time.monotonic(), "busy": busy_ticks(), "ours": ours, "kthreads": kthreads}


def main():
    """start FILE ROOT... or since FILE ROOT... (see the module's docstring)."""
    action, path = sys.argv[1], sys.argv[2]
    roots = [int(a) for a in sys.argv[3:]]
    now = mark(roots)
    if action == "start":
        with open(path, "w") as f:
            json.dump(now, f)
    else:
        with open(path) as f:
            print("%.1f" % others_share(json.load(f), now))


if __name__ == "__main__":
    main()
