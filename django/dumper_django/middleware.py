# dumper_django/middleware.py: whole-page caching kept fresh by dumper.
#
# Two middleware, placed like Django's own cache middleware pair:
#
#   MIDDLEWARE = [
#       "dumper_django.middleware.UpdateCacheMiddleware",     # first
#       ...                                                   # session, locale, common...
#       "dumper_django.middleware.FetchFromCacheMiddleware",  # last
#   ]
#
# FetchFromCache (innermost) reads the path's stamp from Redis *before* the
# view runs, and looks the page up under cache keys that contain the stamp
# (Django's own keys: full URL, the request headers the page's Vary names,
# language and time zone, with the stamp in the key prefix).  UpdateCache
# (outermost, so it sees every header the other middleware add) stores a
# miss under that same stamp.  A render that read data from before a commit
# and is stored after dumper deleted the stamp lands under a stamp no reader
# asks for any more: it is never served (docs/django.md).
#
# Rules:
# - Only GET and HEAD, only paths not in DUMPER_IGNORE_PATHS, only 200
#   responses that set no cookie, are not streamed, have no Vary: *, and
#   whose Cache-Control has none of private, no-store, no-cache, max-age=0.
# - Browsers: those responses get Cache-Control max-age=DUMPER_BROWSER_MAX_AGE
#   (or less, if the view asked for less) with must-revalidate, and, when
#   cached, a weak ETag derived from the stamp and the variant: a conditional
#   GET with the current ETag is answered 304 before any view runs.
# - Redis unreachable, or dumper's liveness key missing there (no worker
#   vouches for the stamps): pages are rendered every time and neither read
#   from nor written to the cache (a cached page cannot be checked); no ETag.
# - A miss renders under a lease (leases.py): one render per invalidation,
#   the other requests wait for it at most DUMPER_RENDER_WAIT_SECONDS.
# - After POST, PUT, PATCH or DELETE, UpdateCache waits (bounded) until the
#   request's writes are delivered (writes.py): the redirect shows them.
# - The middleware never raises because of Redis; cache backend errors are
#   Django's usual ones.
"""Cache middleware that serves whole pages and checks dumper's stamps in Redis."""

import functools
import hashlib
import logging

from django.apps import apps
from django.core.cache import caches
from django.http import HttpResponseNotModified
from django.utils.cache import (
    cc_delim_re,
    get_cache_key,
    get_conditional_response,
    learn_cache_key,
    patch_cache_control,
)
from django.utils.http import parse_etags

from . import conf
from .leases import Leases
from .stamps import InvalidatorDown, RedisUnavailable, Stamps
from .writes import UNSAFE_METHODS, wait_for_delivery

log = logging.getLogger("dumper_django")

HIT, MISS, UNCACHED, NOT_MODIFIED = "hit", "miss", "uncached", "not-modified"


class _State:
    """What FetchFromCache learned about a request, for UpdateCache."""

    __slots__ = ("status", "prefix", "lease")

    def __init__(self, status, prefix=None):
        """STATUS: hit, miss, uncached or not-modified; PREFIX: the stamped
        key prefix; LEASE: the render lease this request holds, if any."""
        self.status = status
        self.prefix = prefix
        self.lease = None


@functools.lru_cache(maxsize=None)
def _shared(config):
    """The Stamps and Leases of a configuration: one per process, shared by
    both middleware (and their threads)."""
    if not apps.is_installed("dumper_django"):
        log.warning('dumper_django: "dumper_django" is not in INSTALLED_APPS, so its system '
                    "checks do not run: add it")
    stamps = Stamps(config)
    return stamps, Leases(stamps)


def _key_prefix(config, stamp):
    """The prefix of Django's cache keys for pages of the stamp STAMP."""
    return f"{config.cache_key_prefix}.dumper.{stamp}"


def etag_for(cache_key):
    """The weak ETag of the page stored under CACHE_KEY (stamp and variant)."""
    return 'W/"%s"' % hashlib.sha256(cache_key.encode("utf-8")).hexdigest()[:32]


def _cache_control(response):
    """The response's Cache-Control directives, as a dict of lower-case names."""
    directives = {}
    for item in cc_delim_re.split(response.get("Cache-Control", "")):
        name, _, value = item.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"')
    return directives


def cacheable(response):
    """True when a response to GET/HEAD may be kept and shared (see the file header)."""
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if "*" in (v.strip() for v in cc_delim_re.split(response.get("Vary", ""))):
        return False
    cc = _cache_control(response)
    if {"private", "no-store", "no-cache"} & cc.keys():
        return False
    return cc.get("max-age", "1") != "0"


class _Base:
    """What both middleware share: settings, the cache, the stamps."""

    def __init__(self, get_response):
        """Read the settings once; connect to nothing yet."""
        self.get_response = get_response
        self.config = conf.load()
        self.cache = caches[self.config.cache_alias]
        self.stamps, self.leases = _shared(self.config)


class FetchFromCacheMiddleware(_Base):
    """Innermost: read the stamp, answer from the cache or with 304 when possible."""

    def __call__(self, request):
        """Serve a cached page, or let the view render one."""
        response = self.fetch(request)
        if response is None:
            response = self.get_response(request)
        return response

    def fetch(self, request):
        """The cached response (or a 304) for REQUEST, or None to render it."""
        if request.method not in ("GET", "HEAD") or self.config.ignored(request.path):
            return None
        try:
            stamp = self.stamps.stamp(request.path)
        except (RedisUnavailable, InvalidatorDown):
            request._dumper = _State(UNCACHED)
            return None
        state = request._dumper = _State(MISS, _key_prefix(self.config, stamp))
        response = self._lookup(request, state)
        if response is None and self.leases.enabled:
            response = self._lease_or_wait(request, state)
        return response

    def _lookup(self, request, state):
        """The page of REQUEST's variant under its stamp (or a 304), or None."""
        key = get_cache_key(request, state.prefix, "GET", self.cache)
        if key is None:
            return None     # no page of this stamp yet: render it
        etag = etag_for(key)
        response = self.cache.get(key)
        if response is None and request.method == "HEAD":
            response = self.cache.get(get_cache_key(request, state.prefix, "HEAD", self.cache))
        if response is None:
            if _matches_if_none_match(request, etag):
                # Evicted, but the browser's copy is of the current stamp.
                state.status = NOT_MODIFIED
                return self._not_modified(etag)
            return None
        response = get_conditional_response(request, etag=etag, response=response)
        state.status = NOT_MODIFIED if response.status_code == 304 else HIT
        return response

    def _lease_name(self, request, state):
        """What the render lease of REQUEST names: its page's cache key, or,
        while no variant list is known for the stamp, the stamped URL."""
        key = get_cache_key(request, state.prefix, "GET", self.cache)
        return key or f"{state.prefix}.url.{request.build_absolute_uri()}"

    def _lease_or_wait(self, request, state):
        """Take the page's render lease (then None: render), or wait for the
        request holding it and return its page (leases.py)."""
        try:
            lease = self.leases.take(self._lease_name(request, state))
            if lease is not None:
                response = self._lookup(request, state)   # stored since our lookup?
                if response is not None:
                    self.leases.release(lease)
                else:
                    state.lease = lease
                return response
            response, lease = self.leases.wait(lambda: self._lookup(request, state),
                                               lambda: self._lease_name(request, state))
        except RedisUnavailable:
            state.status = UNCACHED
            return None
        if lease is False:
            state.status = UNCACHED     # waited the whole bound: render, do not store
        else:
            state.lease = lease         # ours, or None: render and store all the same
        return response

    def _not_modified(self, etag):
        """A 304 carrying the validator and the browser policy."""
        response = HttpResponseNotModified()
        response["ETag"] = etag
        patch_cache_control(response, max_age=self.config.browser_max_age, must_revalidate=True)
        return response


def _matches_if_none_match(request, etag):
    """True when the request's If-None-Match names ETAG (weak comparison) or is *."""
    tags = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    return any(t == "*" or t.removeprefix("W/") == etag.removeprefix("W/") for t in tags)


class _DeferredSets:
    """A cache whose set() waits for flush(): learn_cache_key's write of the
    variant list, held back until the page itself is stored."""

    def __init__(self, cache):
        """CACHE: where flush() writes."""
        self.cache = cache
        self.sets = []

    def set(self, *args, **kwargs):
        """Remember a write."""
        self.sets.append((args, kwargs))

    def get(self, key, default=None):
        """What KEY holds, remembered writes first (get_cache_key reads it)."""
        for args, _ in reversed(self.sets):
            if args[0] == key:
                return args[1]
        return self.cache.get(key, default)

    def flush(self):
        """Do the remembered writes, in order."""
        for args, kwargs in self.sets:
            self.cache.set(*args, **kwargs)
        self.sets = []


class UpdateCacheMiddleware(_Base):
    """Outermost: store a rendered page under the stamp read before the view ran."""

    def __call__(self, request):
        """Let the request through, then store and label the response; after
        an unsafe request, wait for the delivery of its writes."""
        try:
            response = self.get_response(request)
            if request.method in UNSAFE_METHODS:
                wait_for_delivery(self.config)
            state = getattr(request, "_dumper", None)
            if state is None:
                return response     # not ours: another method, an ignored path
            if state.status == MISS and cacheable(response):
                self._browser_policy(response)
                response = self.store(request, response, state)
                if state.lease is not None:
                    lease, state.lease = state.lease, None
                    self.leases.release(lease)     # stored: the waiters have it
            elif state.status == UNCACHED and cacheable(response):
                self._browser_policy(response)
            if self.config.status_header:
                response[self.config.status_header] = (
                    NOT_MODIFIED if response.status_code == 304 else state.status)
            return response
        finally:
            state = getattr(request, "_dumper", None)
            if state is not None and state.lease is not None:
                # Not cacheable, or failed: the waiters render at once.
                self.leases.release(state.lease, stored=False)

    def _browser_policy(self, response):
        """Browsers may keep the page DUMPER_BROWSER_MAX_AGE seconds, then revalidate."""
        patch_cache_control(response, max_age=self.config.browser_max_age, must_revalidate=True)

    def store(self, request, response, state):
        """Keep RESPONSE under the request's stamp; return it (or a 304 for it).

        The page is stored before the stamp's variant list: a request that
        finds the list (and so the page's key) then finds the page too, and
        does not take a lease on a page about to appear (leases.py).
        """
        timeout = self.config.cache_seconds
        variants = _DeferredSets(self.cache)
        key = learn_cache_key(request, response, timeout, state.prefix, variants)
        etag_key = key
        if request.method == "HEAD":
            etag_key = get_cache_key(request, state.prefix, "GET", variants) or key
        etag = etag_for(etag_key)
        response["ETag"] = etag
        if hasattr(response, "render") and callable(response.render) and not response.is_rendered:
            lease, state.lease = state.lease, None     # released once stored

            def store_rendered(rendered):
                """Store the page once rendered, then let the waiters have it."""
                self.cache.set(key, rendered, timeout)
                variants.flush()
                if lease is not None:
                    self.leases.release(lease)
            response.add_post_render_callback(store_rendered)
        else:
            self.cache.set(key, response, timeout)
            variants.flush()
        return get_conditional_response(request, etag=etag, response=response)
