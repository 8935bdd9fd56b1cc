#!/usr/bin/python3
"""bench/queue_size.py: sample pg_total_relation_size('dumper.queue') once a
second until killed, rewriting OUTFILE each time with "peak last" (bytes).

One small query a second on one connection: negligible next to pgbench, and
the same for every variant.  Connection from the PG* environment variables.

While the file queue_sampler_off exists next to OUTFILE (bench/pgbench.sh
stops dumper's worker for a run then), no sample is taken.

Usage: queue_size.py OUTFILE
"""
import os
import signal
import sys
import time

import psycopg2


def main():
    """Sample until SIGTERM; the file always holds the latest figures."""
    out = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    peak = 0
    off = os.path.join(os.path.dirname(os.path.abspath(out)), "queue_sampler_off")
    while True:
        if os.path.exists(off):
            time.sleep(0.2)
            continue
        cur.execute("SELECT pg_total_relation_size('dumper.queue')")
        size = cur.fetchone()[0]
        peak = max(peak, size)
        with open(out + ".tmp", "w") as f:
            f.write("%d %d\n" % (peak, size))
        # rename: a reader never sees a half-written file
        os.replace(out + ".tmp", out)
        time.sleep(1)


if __name__ == "__main__":
    main()
