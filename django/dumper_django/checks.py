# dumper_django/checks.py: system checks (manage.py check, and every command
# that runs checks) for the mistakes that make pages silently uncached,
# mixed between visitors, or never shared.
#
# Rules: each message has an id (dumper_django.E... for what breaks
# correctness or caching outright, dumper_django.W... for what costs
# caching), names the setting or object at fault and carries a hint.  The
# only network call is one PING to Redis, bounded by DUMPER_REDIS_TIMEOUT;
# Redis unreachable is a warning, since the site still works (uncached) and
# migrate must still run.  The end-to-end proof is manage.py dumper_check.
"""System checks of dumper_django's settings, middleware order, cache and Redis."""

import redis
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import conf

UPDATE = "dumper_django.middleware.UpdateCacheMiddleware"
FETCH = "dumper_django.middleware.FetchFromCacheMiddleware"

# Middleware that add to the Vary header: they must run inside
# UpdateCache, or the variants they name are not part of the page's key.
VARYING = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.gzip.GZipMiddleware",
)
# Middleware whose request phase a cached page depends on (session, user,
# language, redirects): they must run before FetchFromCache answers.
BEFORE_FETCH = VARYING + (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.common.CommonMiddleware",
)
# Page caches that are not shared by the site's processes.
UNSHARED = {
    "django.core.cache.backends.locmem.LocMemCache":
        "keeps pages per process: each process renders its own copy, and render leases "
        "wait in vain for pages another process stored",
    "django.core.cache.backends.dummy.DummyCache":
        "stores nothing: every page is rendered every time",
}


@checks.register(checks.Tags.caches)
def check_dumper(app_configs, **kwargs):
    """Every dumper_django check: settings, middleware order, page cache, Redis."""
    try:
        config = conf.load()
    except ImproperlyConfigured as e:
        return [checks.Error(f"dumper_django settings: {e}",
                             hint="Fix the setting named; docs/django.md, Settings, lists them.",
                             id="dumper_django.E001")]
    problems = check_middleware(list(settings.MIDDLEWARE))
    if any(p.id == "dumper_django.W001" for p in problems):
        return problems
    problems += check_cache(config)
    problems += check_redis(config)
    return problems


def check_middleware(middleware):
    """Both middleware present, UpdateCache outside every middleware that
    varies the response, FetchFromCache after the ones a page depends on."""
    if UPDATE not in middleware and FETCH not in middleware:
        return [checks.Warning(
            '"dumper_django" is installed but neither of its middleware is in MIDDLEWARE: '
            "no page is cached",
            hint=f"Put {UPDATE} first in MIDDLEWARE and {FETCH} last.",
            id="dumper_django.W001")]
    for present, missing, where in ((UPDATE, FETCH, "last"), (FETCH, UPDATE, "first")):
        if present in middleware and missing not in middleware:
            return [checks.Error(
                f"MIDDLEWARE has {present} but not {missing}: the two work as a pair",
                hint=f"Add {missing} {where} in MIDDLEWARE.",
                id="dumper_django.E002")]
    update, fetch = middleware.index(UPDATE), middleware.index(FETCH)
    if fetch < update:
        return [checks.Error(
            f"MIDDLEWARE has {FETCH} before {UPDATE}: pages would be looked up "
            "after they are stored, and stored without their variants",
            hint=f"Put {UPDATE} first in MIDDLEWARE and {FETCH} last.",
            id="dumper_django.E003")]
    problems = []
    for name in middleware[:update]:
        if name in VARYING:
            problems.append(checks.Error(
                f"MIDDLEWARE has {name} before {UPDATE}: the Vary header it adds is not part "
                "of the cached page's key, so one visitor's variant is served to others",
                hint=f"Put {UPDATE} first in MIDDLEWARE.",
                id="dumper_django.E004"))
    for name in middleware[fetch + 1:]:
        if name in BEFORE_FETCH:
            problems.append(checks.Error(
                f"MIDDLEWARE has {name} after {FETCH}: a cached page is served before it "
                "runs (no session, user, language or redirect of its own)",
                hint=f"Put {FETCH} last in MIDDLEWARE.",
                id="dumper_django.E005"))
    return problems


def check_cache(config):
    """The page cache (CACHE_MIDDLEWARE_ALIAS) is shared by the site's processes."""
    backend = settings.CACHES.get(config.cache_alias, {}).get("BACKEND", "")
    if backend not in UNSHARED:
        return []
    return [checks.Warning(
        f'The page cache CACHES["{config.cache_alias}"] ({backend}) {UNSHARED[backend]}',
        hint="Use a cache every process of the site shares: Memcached, Redis, files, database.",
        id="dumper_django.W002")]


def check_redis(config):
    """Redis at DUMPER_REDIS_URL answers PING within DUMPER_REDIS_TIMEOUT."""
    client = redis.Redis.from_url(config.redis_url, socket_timeout=config.redis_timeout,
                                  socket_connect_timeout=config.redis_timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as e:
        return [checks.Warning(
            f"Redis at DUMPER_REDIS_URL ({where(client)}) does not answer PING within "
            f"DUMPER_REDIS_TIMEOUT ({config.redis_timeout} s): {e}; pages are served uncached",
            hint="Start Redis, or set DUMPER_REDIS_URL to the Redis of dumper.redis_url; "
                 "manage.py dumper_check proves the whole chain.",
            id="dumper_django.W003")]
    finally:
        client.close()
    return []


def where(client):
    """Host and port (or socket) of CLIENT's Redis, without credentials."""
    kw = client.connection_pool.connection_kwargs
    if "path" in kw:
        return kw["path"]
    return f"{kw.get('host')}:{kw.get('port')}"
