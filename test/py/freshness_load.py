# test/py/freshness_load.py: the HTTP load of issue 25's acceptance scenarios,
# driven by test/t/025_freshness_scenarios.pl against the demo under gunicorn.
#
# Usage (each prints one JSON object on stdout, for the .pl to check):
#   freshness_load.py window   --base URL --path P --dsn DSN --sql SQL --price N
#   freshness_load.py ryw      --base URL --base-nowait URL --slug S --slug-nowait S2 --rounds N
#   freshness_load.py stampede --base URL --path P --dsn DSN --render-log FILE
#                              --clients 32 --invalidations 100 --interval 0.3
#
# Rules: measurement only, no verdict (the .pl asserts); real HTTP over
# loopback (http.client, one keep-alive connection per client thread), real
# SQL through psycopg2 in autocommit mode, so "commit" is the moment
# execute() returns.  Every loop is bounded by a deadline or a count; the
# only sleeps pace requests or invalidations at a fixed rate, none waits for
# an asynchronous result.  Times are time.monotonic() except where they are
# compared with the render log's, which are time.time() of the gunicorn
# processes (same clock: same machine).
"""Load generator and stopwatch for the freshness scenarios (issue 25)."""

import argparse
import bisect
import http.client
import json
import re
import statistics
import sys
import threading
import time
import urllib.parse

import psycopg2

PRICE_RE = re.compile(rb'Price: <span class="price">(\d+)</span>')


class Client:
    """One keep-alive HTTP connection to BASE, reopened after any failure."""

    def __init__(self, base, timeout=30.0):
        """Remember host and port of BASE (http://host:port); connect lazily."""
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = url.hostname, url.port, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """Send one request; return (status, headers dict lower-cased, body bytes).

        A connection the server closed while idle is reopened and the request
        sent once more (every request of the scenarios is idempotent).
        """
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def price_of(body):
    """The price a detail page shows, or -1 when the body has none."""
    m = PRICE_RE.search(body)
    return int(m.group(1)) if m else -1


def percentile(values, q):
    """The Q-th percentile (0-100, nearest rank) of VALUES; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))     # ceil, at least 1
    return ordered[int(rank) - 1]


def sql_connection(dsn):
    """A psycopg2 connection to DSN in autocommit mode (each statement commits)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    return conn


def cmd_window(args):
    """Commit ARGS.sql, then GET ARGS.path every ARGS.interval s until it shows ARGS.price.

    Reports the stale window (commit to first fresh response) and how many
    stale responses were served meanwhile, and how (X-Dumper-Cache).
    """
    client = Client(args.base)
    conn = sql_connection(args.dsn)
    with conn.cursor() as cur:
        cur.execute(args.sql)
    t_commit = time.monotonic()
    conn.close()
    deadline = t_commit + args.timeout
    stale, stale_by, polls, fresh_at, fresh_how = 0, {}, 0, None, None
    tick = t_commit
    while time.monotonic() < deadline:
        status, headers, body = client.request("GET", args.path)
        polls += 1
        how = headers.get("x-dumper-cache", "")
        if status == 200 and price_of(body) == args.price:
            fresh_at, fresh_how = time.monotonic(), how
            break
        stale += 1
        key = f"{status} {how}".strip()
        stale_by[key] = stale_by.get(key, 0) + 1
        tick += args.interval
        pause = tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)        # pacing: one poll per interval
    return {
        "fresh": fresh_at is not None,
        "stale_window_s": None if fresh_at is None else round(fresh_at - t_commit, 4),
        "stale_responses": stale,
        "stale_by": stale_by,
        "first_fresh_how": fresh_how,
        "polls": polls,
    }


def cmd_ryw(args):
    """ARGS.rounds rounds of POST price, GET of the 303's target, on two servers in turn.

    The wait server (ARGS.base) and the no-wait one (ARGS.base_nowait) each
    edit their own ice cream; which goes first alternates every round.  A
    stale page is a GET that does not show the price just posted.
    """
    variants = {
        "wait": {"client": Client(args.base), "slug": args.slug},
        "nowait": {"client": Client(args.base_nowait), "slug": args.slug_nowait},
    }
    for v in variants.values():
        v.update(stale=0, post_ms=[], bad=[], stale_how={})
        v["client"].request("GET", f"/icecream/{v['slug']}/")      # cache the page first
    for i in range(args.rounds):
        order = ("wait", "nowait") if i % 2 == 0 else ("nowait", "wait")
        for name in order:
            v = variants[name]
            price = args.start_price + i
            t0 = time.monotonic()
            status, headers, _ = v["client"].request(
                "POST", f"/scen/price/{v['slug']}/", body=f"price={price}")
            v["post_ms"].append((time.monotonic() - t0) * 1000.0)
            target = headers.get("location", "")
            if status != 303 or target != f"/icecream/{v['slug']}/":
                v["bad"].append(f"round {i}: POST answered {status} location {target!r}")
                continue
            status, headers, body = v["client"].request("GET", target)
            if status != 200 or price_of(body) != price:
                v["stale"] += 1
                how = f"{status} {headers.get('x-dumper-cache', '')}".strip()
                v["stale_how"][how] = v["stale_how"].get(how, 0) + 1
    out = {}
    for name, v in variants.items():
        ms = v["post_ms"]
        out[name] = {
            "rounds": args.rounds,
            "stale": v["stale"],
            "stale_how": v["stale_how"],
            "bad_posts": len(v["bad"]),
            "bad_examples": v["bad"][:3],
            "post_p50_ms": round(percentile(ms, 50), 2),
            "post_p99_ms": round(percentile(ms, 99), 2),
            "post_mean_ms": round(statistics.fmean(ms), 2),
        }
    return out


def _hammer(base, path, lang, stop, results):
    """One client: GET PATH in language LANG back to back until STOP is set.

    Appends (start time.time(), seconds taken, status, X-Dumper-Cache) per
    request to RESULTS; an exception is recorded as status 0.
    """
    client = Client(base)
    headers = {"Accept-Language": lang}
    while not stop.is_set():
        t0 = time.time()
        try:
            status, hdrs, _ = client.request("GET", path, headers=headers)
            how = hdrs.get("x-dumper-cache", "")
        except (http.client.HTTPException, OSError) as e:
            status, how = 0, type(e).__name__
        results.append((t0, time.time() - t0, status, how))


class _Tail:
    """The lines appended to the render log since the last read (path, language, time)."""

    def __init__(self, path):
        """Follow the render log PATH (it may not exist yet)."""
        self.path, self.offset = path, 0

    def read(self):
        """The complete lines added since the last call, parsed."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].decode("utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) >= 4:
                out.append((fields[0], fields[1], float(fields[3])))
        return out


def _renders(render_log, path):
    """(language, unix time) of each render of PATH in the render log."""
    out = []
    with open(render_log, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 4 and fields[0] == path:
                out.append((fields[1], float(fields[3])))
    return out


def cmd_stampede(args):
    """ARGS.clients clients on one page while it is invalidated ARGS.invalidations times.

    Clients are spread over the languages of ARGS.langs (one page variant
    each).  After each invalidation the next waits until every variant was
    rendered again (bounded by ARGS.render_timeout; "not_rerendered" counts
    the misses) and at least ARGS.interval; renders are attributed to the
    last invalidation committed before they started.  Reported per
    language: median and max renders per invalidation; also the longest
    request, and the statuses seen.
    """
    langs = args.langs.split(",")
    stop = threading.Event()
    per_client = [[] for _ in range(args.clients)]
    threads = [threading.Thread(target=_hammer, daemon=True,
                                args=(args.base, args.path, langs[k % len(langs)], stop, per_client[k]))
               for k in range(args.clients)]
    for t in threads:
        t.start()
    # Warm-up (bounded): every variant served from the cache at least once.
    deadline = time.monotonic() + args.warmup_timeout
    warm = False
    while time.monotonic() < deadline and not warm:
        seen = {r[3] for c in per_client for r in c[-5:]}
        warm = "hit" in seen and all(per_client)
        if not warm:
            time.sleep(0.05)     # pacing of this check only
    conn = sql_connection(args.dsn)
    marks, late = [], 0
    tail = _Tail(args.render_log)
    tail.read()                          # renders before the first invalidation
    with conn.cursor() as cur:
        for _ in range(args.invalidations):
            mark = time.time()
            marks.append(mark)
            cur.execute("SELECT dumper_invalidate(%s)", [args.path])
            # Bounded poll: every variant rendered again after this
            # invalidation, so that its renders fall in its own window.
            waiting = set(langs)
            deadline = mark + args.render_timeout
            while waiting and time.time() < deadline:
                waiting -= {lang for p, lang, ts in tail.read() if p == args.path and ts >= mark}
                if waiting:
                    time.sleep(0.005)    # pacing of this check only
            late += bool(waiting)
            pause = mark + args.interval - time.time()
            if pause > 0:
                time.sleep(pause)        # pacing: at most one invalidation per interval
    conn.close()
    t_end = time.time()
    stop.set()
    for t in threads:
        t.join(60)
    requests = [r for c in per_client for r in c]
    counts = {lang: [0] * len(marks) for lang in langs}
    outside = 0
    for lang, ts in _renders(args.render_log, args.path):
        i = bisect.bisect_right(marks, ts) - 1
        if i < 0 or ts >= t_end or lang not in counts:
            outside += 1
            continue
        counts[lang][i] += 1
    during = [r for r in requests if r[0] >= marks[0]]
    longest = max(during, key=lambda r: r[1]) if during else (0, 0, 0, "")
    statuses = {}
    for r in during:
        key = f"{r[2]} {r[3]}".strip()
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "warm": warm,
        "clients": args.clients,
        "invalidations": len(marks),
        "renders": {lang: {"median": statistics.median(c), "max": max(c), "min": min(c),
                           "total": sum(c), "zero": c.count(0)}
                    for lang, c in counts.items()},
        "renders_outside": outside,
        "not_rerendered": late,
        "requests": len(during),
        "statuses": statuses,
        "errors": sum(1 for r in during if r[2] != 200),
        "longest_s": round(longest[1], 4),
        "longest_how": f"{longest[2]} {longest[3]}".strip(),
        "p50_ms": round(1000 * percentile([r[1] for r in during], 50), 2) if during else None,
        "p99_ms": round(1000 * percentile([r[1] for r in during], 99), 2) if during else None,
    }


def main():
    """Parse the command line, run the scenario, print its JSON."""
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("window")
    w.add_argument("--base", required=True)
    w.add_argument("--path", required=True)
    w.add_argument("--dsn", required=True)
    w.add_argument("--sql", required=True)
    w.add_argument("--price", type=int, required=True)
    w.add_argument("--interval", type=float, default=0.01)
    w.add_argument("--timeout", type=float, default=45.0)
    r = sub.add_parser("ryw")
    r.add_argument("--base", required=True)
    r.add_argument("--base-nowait", required=True)
    r.add_argument("--slug", required=True)
    r.add_argument("--slug-nowait", required=True)
    r.add_argument("--rounds", type=int, default=1000)
    r.add_argument("--start-price", type=int, default=1000)
    s = sub.add_parser("stampede")
    s.add_argument("--base", required=True)
    s.add_argument("--path", required=True)
    s.add_argument("--dsn", required=True)
    s.add_argument("--render-log", required=True)
    s.add_argument("--clients", type=int, default=32)
    s.add_argument("--invalidations", type=int, default=100)
    s.add_argument("--interval", type=float, default=0.3)
    s.add_argument("--langs", default="en,fr")
    s.add_argument("--warmup-timeout", type=float, default=30.0)
    s.add_argument("--render-timeout", type=float, default=5.0)
    args = p.parse_args()
    run = {"window": cmd_window, "ryw": cmd_ryw, "stampede": cmd_stampede}[args.cmd]
    json.dump(run(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
