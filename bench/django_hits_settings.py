# bench/django_hits_settings.py: the demo's settings with Django's own cache
# middleware (django.middleware.cache.*) instead of dumper_django's, for the
# reference line of bench/django_hits.sh.
#
# Rules: same site, same cache backend and timeout as the dumper variants;
# only the two middleware at the ends change (any dumper_django middleware
# is removed, whatever the demo's settings hold).
"""Demo settings served with Django's cache middleware."""

from demo.settings import *  # noqa: F401,F403  (the same site)
from demo.settings import MIDDLEWARE as _DEMO_MIDDLEWARE

MIDDLEWARE = (
    ["django.middleware.cache.UpdateCacheMiddleware"]
    + [m for m in _DEMO_MIDDLEWARE if not m.startswith("dumper_django.")]
    + ["django.middleware.cache.FetchFromCacheMiddleware"]
)
CACHE_MIDDLEWARE_SECONDS = 86400
