#!/usr/bin/python3
"""bench/latency.py: commit -> DEL latencies from a Redis MONITOR log.

The latency workload (bench/latency.sh) sets icecream_lat.tag to the
UPDATE's clock_timestamp() in microseconds, and the table's path templates
include '/lat/{tag}/'.  So every transaction invalidates one key naming the
moment it wrote, and MONITOR prints each DEL with the time Redis executed it
(the same wall clock, same machine).  Latency = DEL time - tag: from the
write, a few microseconds before its commit record, to the key's deletion
in Redis; an upper bound of commit -> DEL by the length of the commit.

An UPDATE also invalidates the old row's paths, i.e. the previous tag of
that row: only the first DEL of each tag counts (the later one belongs to a
later transaction).  Tags older than START (microseconds) are ignored.

Usage: latency.py MONITOR_LOG START_US
Prints: count p50_ms p99_ms max_ms
"""
import math
import re
import sys

LINE = re.compile(r'^(\d+)\.(\d+) ')
TAG = re.compile(r'"dumper:/lat/(\d+)/"')


def percentile(sorted_values, p):
    """The p-th percentile (nearest rank) of a sorted list."""
    k = math.ceil(p / 100.0 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def main():
    """Read the log, print the summary."""
    start = int(sys.argv[2])
    seen = set()
    lat = []
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            at = int(m.group(1)) * 1000000 + int(m.group(2).ljust(6, "0")[:6])
            for tag in TAG.findall(line):
                t = int(tag)
                if t < start or t in seen:
                    continue
                seen.add(t)
                lat.append((at - t) / 1000.0)
    if not lat:
        print("0 nan nan nan")
        return
    lat.sort()
    print("%d %.3f %.3f %.3f" % (len(lat), percentile(lat, 50), percentile(lat, 99), lat[-1]))


if __name__ == "__main__":
    main()
