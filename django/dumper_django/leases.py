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
# - Release deletes the key only while it still holds the leader's token
#   (a two-line Lua script, atomic in Redis): a leader slower than the bound
#   has lost its lease to another request, whose lease a plain DEL would
#   delete, letting a third request render too.
# - A waiter polls with short growing sleeps (5 ms doubling to 50 ms).  When
#   the page appears it is served; when the lease is gone without a page
#   (the leader's response was not cacheable, or its lease expired) the
#   waiter tries to take the lease and renders, leader or not; at the bound
#   it renders without storing.  No request waits longer than the bound.
# - Redis failures become RedisUnavailable, through the stamps' circuit.
# - Hits never touch a lease: only misses pay these round trips.
"""Leases on page renders, kept in the Redis of the stamps."""

import hashlib
import secrets
import time

import redis

from .stamps import RedisUnavailable

FIRST_SLEEP, LAST_SLEEP = 0.005, 0.05

# Delete KEYS[1] only if it still holds ARGV[1].
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
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

    def held(self, name):
        """True while someone holds the lease on cache key NAME."""
        return bool(self._call(self.client.exists, self.key(name)))

    def release(self, lease):
        """Give LEASE back, unless it expired and another request holds it now.

        Never raises: a lease not released expires by itself within the bound.
        """
        try:
            self.stamps.check_circuit()
            self._release(keys=[lease.key], args=[lease.token])
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
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, False
            time.sleep(min(sleep, left))
            sleep = min(sleep * 2, LAST_SLEEP)
            response = lookup()
            if response is not None:
                return response, None
            if not self.held(name()):
                # Stored and released between the lookup and here?
                response = lookup()
                if response is not None:
                    return response, None
                return None, self.take(name())

    def _call(self, command, *args, **kwargs):
        """Run a Redis command; a failure opens the stamps' circuit and
        becomes RedisUnavailable (the page is then rendered uncached)."""
        self.stamps.check_circuit()
        try:
            return command(*args, **kwargs)
        except redis.RedisError as e:
            self.stamps.failed(e)
            raise RedisUnavailable(str(e)) from e
