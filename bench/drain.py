#!/usr/bin/python3
"""bench/drain.py: delivery throughput of the worker.

Called with paths waiting in dumper.queue and dumper.redis_url pointing at
a closed port (the worker cannot deliver).  Points dumper.redis_url at the
live Redis, reloads (which ends the worker's back-off), and polls every
2 ms, on one connection, until dumper.queue holds no row.  The time runs
from the reload to the first empty look.

Usage: drain.py REDIS_URL
Prints: paths seconds delivered (delivered: dumper_stats.paths_delivered
growth, which should equal paths)
"""
import sys
import time

import psycopg2


def one(cur, sql):
    """The single value of a query."""
    cur.execute(sql)
    return cur.fetchone()[0]


def main():
    """Release the queue to the worker and time its delivery."""
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    paths = one(cur, "SELECT coalesce(sum(cardinality(paths)), 0) FROM dumper.queue")
    delivered0 = one(cur, "SELECT paths_delivered FROM dumper_stats")
    cur.execute("ALTER SYSTEM SET dumper.redis_url = %s", (sys.argv[1],))
    t0 = time.monotonic()
    cur.execute("SELECT pg_reload_conf()")
    while one(cur, "SELECT EXISTS (SELECT FROM dumper.queue)"):
        if time.monotonic() - t0 > 300:
            sys.exit("dumper.queue not empty after 300 s")
        time.sleep(0.002)
    seconds = time.monotonic() - t0
    delivered = one(cur, "SELECT paths_delivered FROM dumper_stats") - delivered0
    print("%d %.3f %d" % (paths, seconds, delivered))


if __name__ == "__main__":
    main()
