# dumper_django/conf.py: the DUMPER_* settings, read once per middleware.
#
# Rules: every setting has a default that works against a local Redis and
# dumper's defaults; a bad value fails loudly at start-up (ImproperlyConfigured),
# never at request time.  Nothing here talks to Redis.
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
}


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
    )
