# dumper_django/leases.py: one render per invalidation.
#
# After an invalidation every request for the page misses at once; without
# a lease each would render it.  A request that misses takes the page's
# lease, SET <prefix>@lease:<digest> <token> NX PX <bound>: the winner
# renders and stores the page, then releases the lease; the others wait for
# the page in Django's cache, at most DUMPER_RENDER_WAIT_SECONDS (the bound).
#
# Rules:
# - The lease names the page's cache key (stamp and variant), or, while no
#   variant list is learned for the stamp, Django's key of the URL; so it
#   dies with the stamp, and requests of other variants do not queue long.
# - Its expiry is the bound: a leader that crashed blocks no one past it.
# - Release acts only while the key still holds the leader's token (a short
#   Lua script, atomic in Redis): a leader slower than the bound has lost
#   its lease to another request, whose lease a plain DEL would delete,
#   letting a third request render too.  A leader whose page was stored
#   deletes the lease; one whose response could not be cached leaves the
#   mark "-" for the rest of the bound, so that the requests waiting, and
#   those arriving, render at once instead of one after another.
# - The leader stores the page before the stamp's variant list (middleware),
#   so a request that finds the list finds the page too.
# - A waiter polls with short growing sleeps (5 ms doubling to 50 ms).  It
#   watches the lease it started waiting on and the one its page's key now
#   names (they differ once the variant list is learned).  When the page
#   appears it is served; on the mark "-" it renders; when no lease is held
#   and no page came (the leader crashed and its lease expired) it tries to
#   take the lease and renders if it won, else waits for the winner; at the
#   bound it renders without storing.  No request waits longer than the
#   bound.
# - Redis failures become RedisUnavailable, through the stamps' circuit.
# - Hits never touch a lease: only misses pay these round trips.
"""Leases on page renders, kept in the Redis of the stamps."""

import hashlib
import secrets
import time

import redis

from .stamps import RedisUnavailable

FIRST_SLEEP, LAST_SLEEP = 0.005, 0.05

# The mark of a lease whose leader's response could not be cached.
UNCACHEABLE = b"-"

# While KEYS[1] holds ARGV[1] (the leader's token): delete it, or, when
# ARGV[2] is a lifetime in ms, replace it with the mark for that long.
_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('del', KEYS[1]) end
redis.call('set', KEYS[1], '-', 'PX', ARGV[2])
return 1
"""


class Lease:
    """A lease held by this request: its key and token, to release it."""

    __slots__ = ("key", "token")

    def __init__(self, key, token):
        """KEY: the Redis key; TOKEN: the value only this request wrote there."""
        self.key = key
        self.token = token


class Leases:
    """Take, wait for and release leases on renders (see the file header)."""

    def __init__(self, stamps):
        """Use the Redis client, prefix and failure circuit of STAMPS."""
        self.stamps = stamps
        self.client = stamps.client
        self.bound = stamps.config.render_wait_seconds
        self._release = self.client.register_script(_RELEASE)

    @property
    def enabled(self):
        """False when DUMPER_RENDER_WAIT_SECONDS is 0: every miss renders."""
        return self.bound > 0

    def key(self, name):
        """The Redis key of the lease on cache key NAME (a digest: any length)."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
        return f"{self.stamps.config.key_prefix}@lease:{digest}".encode("ascii", "surrogateescape")

    def take(self, name):
        """A Lease on cache key NAME when this request won it, else None."""
        lease = Lease(self.key(name), secrets.token_hex(16))
        won = self._call(self.client.set, lease.key, lease.token, nx=True,
                         px=max(1, int(self.bound * 1000)))
        return lease if won else None

    def holders(self, *names):
        """The values of the leases on cache keys NAMES (None: not held), in
        one round trip."""
        return self._call(self.client.mget, [self.key(n) for n in names])

    def release(self, lease, stored=True):
        """Give LEASE back, unless it expired and another request holds it now:
        deleted when the page was STORED, else marked uncacheable for the
        rest of the bound.

        Never raises: a lease not released expires by itself within the bound.
        """
        try:
            self.stamps.check_circuit()
            self._release(keys=[lease.key],
                          args=[lease.token, "" if stored else str(max(1, int(self.bound * 1000)))])
        except (redis.RedisError, RedisUnavailable):
            pass

    def wait(self, lookup, name):
        """Wait for another request's render of a page, at most the bound.

        LOOKUP() returns the cached response or None; NAME() the page's cache
        key now.  Returns (response, None) when the page appeared, (None,
        lease or None) when the lease went away without a page (render, and
        store when the lease is ours), or (None, False) at the bound (render,
        do not store).
        """
        deadline = time.monotonic() + self.bound
        sleep = FIRST_SLEEP
        first = name()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, False
            time.sleep(min(sleep, left))
            sleep = min(sleep * 2, LAST_SLEEP)
            response = lookup()
            if response is not None:
                return response, None
            now = name()
            values = self.holders(first, now)
            if UNCACHEABLE in values:
                return None, None
            if any(v is not None for v in values):
                continue
            # Stored and released between the lookup and here?
            response = lookup()
            if response is not None:
                return response, None
            lease = self.take(now)
            if lease is not None:
                return None, lease
            first = now     # another waiter won it: wait for its render

    def _call(self, command, *args, **kwargs):
        """Run a Redis command; a failure opens the stamps' circuit and
        becomes RedisUnavailable (the page is then rendered uncached)."""
        self.stamps.check_circuit()
        try:
            return command(*args, **kwargs)
        except redis.RedisError as e:
            self.stamps.failed(e)
            raise RedisUnavailable(str(e)) from e
