#!/usr/bin/python3
"""bench/backend_run.py: run one SQL statement on a connection of its own, in
autocommit (so its time includes the commit, where dumper flushes the
transaction's paths to its queue); print the wall time in seconds and, with
--memory, the backend's peak private memory growth in kB.

Memory: the backend's pid is known before the statement starts, and another
thread reads /proc/<pid>/smaps_rollup every 5 ms while it runs.  The figure
is "Anonymous": private anonymous pages, i.e. what palloc got from malloc
(brk and mmap'ed blocks), the only place the gathered paths can live.
VmRSS/VmHWM would also count every shared buffer the backend touched (a
1,000,000-row UPDATE touches most of shared_buffers), and the shared memory
is not anonymous, so Anonymous leaves it out.  pg_backend_memory_contexts
cannot be read from another session in PostgreSQL 15, and the statement
cannot be paused to look.  The growth is peak minus the value just before
the statement; a peak shorter than 5 ms could be missed, so it is a lower
bound, but the path set only grows until the commit frees it.

Usage: backend_run.py [--memory] SQL
Prints: seconds [peak_growth_kB]
"""
import sys
import threading
import time

import psycopg2


def anonymous_kb(pid):
    """The Anonymous: field of /proc/<pid>/smaps_rollup, in kB."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1])
    raise RuntimeError("no Anonymous: line for pid %d" % pid)


def main():
    """Run the statement, sampling memory from this thread if asked."""
    memory = sys.argv[1] == "--memory"
    sql = sys.argv[-1]
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    pid = conn.get_backend_pid()
    before = anonymous_kb(pid) if memory else 0
    result = {}

    def run():
        """Run the statement (psycopg2 releases the GIL while it waits)."""
        t0 = time.monotonic()
        try:
            cur.execute(sql)
        except Exception as e:  # reported by the main thread
            result["error"] = e
        result["seconds"] = time.monotonic() - t0

    worker = threading.Thread(target=run)
    worker.start()
    peak = before
    while worker.is_alive():
        if memory:
            peak = max(peak, anonymous_kb(pid))
        worker.join(0.005)
    if "error" in result:
        sys.exit("statement failed: %s" % result["error"])
    if memory:
        print("%.3f %d" % (result["seconds"], peak - before))
    else:
        print("%.3f" % result["seconds"])


if __name__ == "__main__":
    main()
