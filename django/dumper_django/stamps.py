# dumper_django/stamps.py: the stamp protocol of dumper's Redis contract.
#
# For a path P the invalidation key is K = DUMPER_KEY_PREFIX + P, which
# dumper DELetes after every commit that changes P.  K holds a random stamp;
# a reader takes the stamp (creating it with SET K <random> NX EX <timeout>
# when missing, then GET K, since another request may have won) and keeps
# its pages under cache keys that contain the stamp.
#
# The stamp is trusted only while dumper's worker is alive: it keeps the
# liveness key prefix + "@live:" + <database> in this Redis (a few seconds'
# expiry, renewed while it is connected and caught up).  The stamp and the
# liveness key are read together, MGET K <live>: one round trip on a hit.
#
# Rules: one Stamps object per process, shared by its threads (redis-py's
# connection pool is thread-safe); every Redis call is bounded by
# DUMPER_REDIS_TIMEOUT; any Redis failure becomes RedisUnavailable and opens
# a short circuit (DUMPER_REDIS_RETRY_SECONDS) during which Redis is not
# asked at all, so that an outage costs requests nothing.  A missing
# liveness key becomes InvalidatorDown: logged when it starts, at most every
# LIVE_LOG_SECONDS while it lasts, and when it ends.
"""Read (and create) the stamps of paths in Redis."""

import hashlib
import logging
import secrets
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .conf import LIVE_LOG_SECONDS

log = logging.getLogger("dumper_django")


class RedisUnavailable(Exception):
    """Redis could not be asked; the caller serves the page uncached."""


class InvalidatorDown(Exception):
    """The liveness key is missing: no worker vouches that writes reach this
    Redis, so a stamp may be stale; the caller serves the page uncached."""


class Stamps:
    """The stamps of paths, read from the Redis that dumper writes to."""

    def __init__(self, config):
        """Set up a lazy connection pool to DUMPER_REDIS_URL (nothing is sent yet)."""
        self.config = config
        # One retry on a broken connection: after a Redis restart, the pool's
        # sockets are dead, and the first command on each would fail.
        self.client = redis.Redis.from_url(
            config.redis_url,
            socket_timeout=config.redis_timeout,
            socket_connect_timeout=config.redis_timeout,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.ConnectionError],
        )
        self._down_until = 0.0   # time.monotonic() before which Redis is skipped
        self._down = False       # whether the last attempt failed (for the log)
        self._live_key = config.liveness_key.encode("utf-8", "surrogateescape")
        self._dead_since = None  # time.monotonic() the liveness key went missing
        self._dead_logged = 0.0  # when that was last logged

    def key(self, path):
        """The invalidation key of PATH: the prefix and the path, as UTF-8 bytes."""
        return (self.config.key_prefix + path).encode("utf-8", "surrogateescape")

    def stamp(self, path):
        """A short token naming PATH's current stamp; raise RedisUnavailable
        or InvalidatorDown when the page must not be cached.

        The token is a digest of the stamp, so that any stamp another web
        tier wrote is safe inside a cache key.
        """
        self.check_circuit()
        key = self.key(path)
        try:
            raw, live = self.client.mget(key, self._live_key)
            if live is not None:
                raw = self._create_if_missing(key, raw)
        except redis.RedisError as e:
            self.failed(e)
            raise RedisUnavailable(str(e)) from e
        if self._down:
            self._down = False
            log.warning("dumper_django: Redis answers again at %s", self._where())
        self._note_liveness(live is not None)
        if live is None:
            raise InvalidatorDown(self.config.liveness_key)
        return hashlib.sha256(raw).hexdigest()[:32]

    def check_circuit(self):
        """Raise RedisUnavailable while the circuit opened by a failure is open."""
        if self._down and time.monotonic() < self._down_until:
            raise RedisUnavailable("Redis failed less than DUMPER_REDIS_RETRY_SECONDS ago")

    def _note_liveness(self, alive):
        """Log when the liveness key goes missing, every LIVE_LOG_SECONDS while
        it stays missing, and when it is back: the operator must know that
        pages are served uncached, and why."""
        if alive and self._dead_since is None:
            return      # the common case, without a clock read
        now = time.monotonic()
        if alive:
            if self._dead_since is not None:
                log.warning("dumper_django: liveness key %s is back in Redis at %s after %.0f s; "
                            "caching resumes", self.config.liveness_key, self._where(),
                            now - self._dead_since)
                self._dead_since = None
            return
        if self._dead_since is None:
            self._dead_since = self._dead_logged = now
            log.warning("dumper_django: liveness key %s is missing in Redis at %s: no dumper worker "
                        "delivers this database's invalidations there; serving pages uncached "
                        "(manage.py dumper_check names the broken link)",
                        self.config.liveness_key, self._where())
        elif now - self._dead_logged >= LIVE_LOG_SECONDS:
            self._dead_logged = now
            log.warning("dumper_django: liveness key %s still missing in Redis at %s (for %.0f s); "
                        "serving pages uncached", self.config.liveness_key, self._where(),
                        now - self._dead_since)

    def _create_if_missing(self, key, raw):
        """RAW, KEY's stamp as read; when missing, SET KEY <random> NX EX
        <timeout> then GET KEY in one round trip (another request may win)."""
        for _ in range(3):
            if raw is not None:
                return raw
            fresh = secrets.token_hex(16).encode("ascii")
            pipe = self.client.pipeline(transaction=False)
            pipe.set(key, fresh, nx=True, ex=self.config.cache_seconds)
            pipe.get(key)
            raw = pipe.execute()[1]
        # Deleted again right after each creation (a burst of writes): our
        # own stamp is a key no other reader will ask for, which is safe.
        return raw if raw is not None else fresh

    def failed(self, error):
        """Note a failure: skip Redis for DUMPER_REDIS_RETRY_SECONDS, log once."""
        self._down_until = time.monotonic() + self.config.redis_retry_seconds
        if not self._down:
            self._down = True
            log.warning("dumper_django: Redis at %s failed (%s); serving pages uncached",
                        self._where(), error)

    def _where(self):
        """Host and port (or socket) of the Redis server, without credentials."""
        kw = self.client.connection_pool.connection_kwargs
        if "path" in kw:
            return kw["path"]
        return f"{kw.get('host')}:{kw.get('port')}"
