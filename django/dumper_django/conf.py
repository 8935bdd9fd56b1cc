# dumper_django/conf.py: the DUMPER_* settings, read once per middleware.
#
# Rules: every setting has a default that works against a local Redis and
# dumper's defaults; a bad value fails loudly at start-up (ImproperlyConfigured,
# and the system check dumper_django.E001), never at request time.  Nothing
# here talks to Redis or the database.
"""The settings of dumper_django, with their defaults."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # Where dumper deletes its keys: the same server and database as
    # dumper.redis_url in postgresql.conf.
    "DUMPER_REDIS_URL": "redis://127.0.0.1:6379/0",
    # dumper.redis_prefix: the invalidation key of path P is prefix + P.
    "DUMPER_KEY_PREFIX": "dumper:",
    # Regular expressions (re.match on request.path) of paths never cached.
    "DUMPER_IGNORE_PATHS": [r"^/admin/"],
    # How long a page (and its path's stamp) is kept server-side, seconds.
    # Pages stay fresh through invalidation, so this can be long.
    "DUMPER_CACHE_SECONDS": 86400,
    # How long a browser may use its copy without asking; 0: ask every time
    # (it gets 304 Not Modified while the page is unchanged).
    "DUMPER_BROWSER_MAX_AGE": 0,
    # Seconds to wait for Redis (connect, and each command).
    "DUMPER_REDIS_TIMEOUT": 0.5,
    # After Redis failed, serve uncached for this many seconds before trying
    # it again, so that an outage costs no timeout per request.
    "DUMPER_REDIS_RETRY_SECONDS": 1.0,
    # Response header telling how the page was served (hit, miss, uncached,
    # not-modified), or None for none.
    "DUMPER_STATUS_HEADER": None,
    # The Django database alias whose PostgreSQL database dumper serves: its
    # NAME names the worker's liveness key, and read-your-writes waits on it.
    "DUMPER_DATABASE": "default",
    # The liveness key, when the database's real name differs from its
    # settings NAME (a connection pooler's alias); None: derived from NAME.
    "DUMPER_LIVENESS_KEY": None,
    # How long a request waits for another one that renders the same page
    # (the lease), seconds; 0: no lease, every miss renders.
    "DUMPER_RENDER_WAIT_SECONDS": 2.0,
    # After an unsafe request (POST...), how long to wait for the delivery of
    # its writes (dumper_wait), seconds; 0: do not wait.
    "DUMPER_WAIT_SECONDS": 2.0,
}

# Seconds between two warnings while the liveness key stays missing.
LIVE_LOG_SECONDS = 60.0


@dataclass(frozen=True)
class Config:
    """The resolved settings: see DEFAULTS for the meaning of each."""

    redis_url: str
    key_prefix: str
    ignore_paths: tuple
    cache_alias: str
    cache_key_prefix: str
    cache_seconds: int
    browser_max_age: int
    redis_timeout: float
    redis_retry_seconds: float
    status_header: object
    database: str
    liveness_key: str
    render_wait_seconds: float
    wait_seconds: float

    def ignored(self, path):
        """True when the path matches one of DUMPER_IGNORE_PATHS."""
        return any(rx.match(path) for rx in self.ignore_paths)


def _get(name):
    """The value of setting NAME, or its default."""
    return getattr(settings, name, DEFAULTS[name])


def _number(name, kind, minimum):
    """Setting NAME as int or float, at least MINIMUM, else ImproperlyConfigured."""
    value = _get(name)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value!r}")
    return value


def _database(alias):
    """The settings NAME of database alias ALIAS (DUMPER_DATABASE), else ImproperlyConfigured."""
    if alias not in settings.DATABASES:
        raise ImproperlyConfigured(
            f"DUMPER_DATABASE names the database alias {alias!r}, which is not in DATABASES")
    name = settings.DATABASES[alias].get("NAME")
    if not name or not isinstance(name, str):
        raise ImproperlyConfigured(f"DATABASES[{alias!r}] has no NAME, so DUMPER_DATABASE cannot name "
                                   "the database whose liveness key to read")
    return name


def load():
    """Read and check the settings; raise ImproperlyConfigured when one is wrong."""
    patterns = _get("DUMPER_IGNORE_PATHS")
    if isinstance(patterns, str):
        raise ImproperlyConfigured("DUMPER_IGNORE_PATHS must be a list of regular expressions")
    try:
        compiled = tuple(re.compile(p) for p in patterns)
    except re.error as e:
        raise ImproperlyConfigured(f"DUMPER_IGNORE_PATHS: {e}") from None
    prefix = _get("DUMPER_KEY_PREFIX")
    if not isinstance(prefix, str):
        raise ImproperlyConfigured("DUMPER_KEY_PREFIX must be a string")
    alias = _get("DUMPER_DATABASE")
    liveness_key = _get("DUMPER_LIVENESS_KEY")
    if liveness_key is None:
        liveness_key = f"{prefix}@live:{_database(alias)}"
    elif not isinstance(liveness_key, str) or not liveness_key:
        raise ImproperlyConfigured("DUMPER_LIVENESS_KEY must be a non-empty string or None")
    else:
        _database(alias)
    return Config(
        redis_url=_get("DUMPER_REDIS_URL"),
        key_prefix=prefix,
        ignore_paths=compiled,
        cache_alias=settings.CACHE_MIDDLEWARE_ALIAS,
        cache_key_prefix=settings.CACHE_MIDDLEWARE_KEY_PREFIX,
        cache_seconds=_number("DUMPER_CACHE_SECONDS", int, 1),
        browser_max_age=_number("DUMPER_BROWSER_MAX_AGE", int, 0),
        redis_timeout=_number("DUMPER_REDIS_TIMEOUT", float, 0.001),
        redis_retry_seconds=_number("DUMPER_REDIS_RETRY_SECONDS", float, 0),
        status_header=_get("DUMPER_STATUS_HEADER"),
        database=alias,
        liveness_key=liveness_key,
        render_wait_seconds=_number("DUMPER_RENDER_WAIT_SECONDS", float, 0),
        wait_seconds=_number("DUMPER_WAIT_SECONDS", float, 0),
    )
