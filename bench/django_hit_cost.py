#!/usr/bin/python3
"""bench/django_hit_cost.py: the CPU cost of one cache hit through dumper_django,
the reader of an older commit against the repository's, measured in one
process each, interleaved.

Why: bench/django_hits.sh measures hit throughput over HTTP (wrk, gunicorn),
where a 2-core machine running wrk, gunicorn, Redis and PostgreSQL together
swings 10 % from run to run.  Here one process serves hits through Django's
test client (the whole middleware chain, a real Redis round trip, a file
page cache) and counts the time per hit: what the reader costs, without the
HTTP server.

Method: a throwaway Redis on a free loopback port; the older reader
(BENCH_HIT_OLD, default 4c0165b, the last before the liveness key) taken
with `git archive`; ROUNDS rounds, each running one child process per
variant, in an order reversed every other round.  A child configures Django
in-process (the two middleware around one view, a FileBasedCache, the
stamp's Redis), fetches the page until it is a hit, then times N more GETs,
each checked to be a hit, and prints microseconds per hit.  The newer reader
needs its database's liveness key, which is set here (no worker runs).
Prints each round's figures, the ratio new/old per round, and the median.

Usage: /usr/bin/python3 bench/django_hit_cost.py [ROUNDS [N]]   (default 7 5000)
Measurement only: nothing here is a test.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OLD = os.environ.get("BENCH_HIT_OLD", "4c0165b")


def free_port():
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child(pythonpath, port, cache_dir, n):
    """Microseconds per hit of the dumper_django found on PYTHONPATH (in a child)."""
    code = CHILD % {"port": port, "cache": cache_dir, "n": n}
    env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


# The child: Django configured in-process, one view, the two middleware.
CHILD = r'''
import time
import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

def page(request):
    """A small page, as a detail view would render it."""
    return HttpResponse("<html><body>" + "vanilla " * 200 + "</body></html>")

urlpatterns = [path("icecream/vanilla/", page)]
settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="bench",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "bench"}},
    MIDDLEWARE=["dumper_django.middleware.UpdateCacheMiddleware",
                "django.middleware.common.CommonMiddleware",
                "dumper_django.middleware.FetchFromCacheMiddleware"],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                        "LOCATION": "%(cache)s"}},
    DUMPER_REDIS_URL="redis://127.0.0.1:%(port)d/0",
    DUMPER_STATUS_HEADER="X-Dumper-Cache",
    LOGGING_CONFIG=None)
django.setup()
from django.test import Client
c = Client()
for _ in range(50):
    if c.get("/icecream/vanilla/").get("X-Dumper-Cache") == "hit":
        break
else:
    raise SystemExit("the page never became a hit")
n = %(n)d
t0 = time.perf_counter()
for _ in range(n):
    r = c.get("/icecream/vanilla/")
    if r.get("X-Dumper-Cache") != "hit":
        raise SystemExit("not a hit: %%s" %% r.get("X-Dumper-Cache"))
print((time.perf_counter() - t0) / n * 1e6)
'''


def main():
    """Start Redis, take the old reader, run the interleaved rounds, report."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    tmp = tempfile.mkdtemp(prefix="dumper_hit_cost_")
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp],
                             stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "PING"],
                              capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        # The newer reader caches only under its database's liveness key.
        subprocess.run(["redis-cli", "-p", str(port), "SET", "dumper:@live:bench", "bench"],
                       check=True, capture_output=True)
        old = os.path.join(tmp, "old")
        os.makedirs(old)
        archive = subprocess.run(["git", "-C", REPO, "archive", OLD, "django/dumper_django"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
        variants = {"old": os.path.join(old, "django"), "new": os.path.join(REPO, "django")}
        results = {"old": [], "new": []}
        for r in range(rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for v in order:
                us = child(variants[v], port, os.path.join(tmp, "cache-" + v), n)
                results[v].append(us)
            print(f"round {r + 1}/{rounds}: old {results['old'][-1]:.1f} us/hit, "
                  f"new {results['new'][-1]:.1f} us/hit", flush=True)
        ratios = [o / w for o, w in zip(results["old"], results["new"])]
        print("time per hit, median: old %.1f us, new %.1f us"
              % (statistics.median(results["old"]), statistics.median(results["new"])))
        print("throughput ratio new/old per round (old time / new time): "
              + " ".join(f"{x:.3f}" for x in ratios)
              + f"   median {statistics.median(ratios):.3f}")
    finally:
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    main()
