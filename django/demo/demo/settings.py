# django/demo/demo/settings.py: settings of the demo shop, from the environment.
#
# Rules: every machine-specific value comes from an environment variable, so
# that the test (test/t/020_django.pl) and demo/run.sh point the same code at
# their throwaway PostgreSQL and Redis:
#   DEMO_DB_NAME, DEMO_DB_USER, DEMO_DB_HOST (host or socket directory), DEMO_DB_PORT
#   DUMPER_REDIS_URL       the Redis that dumper delivers to
#   DEMO_CACHE_DIR         Django's page cache (files: shared by gunicorn's workers)
#   DEMO_RENDER_LOG        when set, each page render appends a line there
#   DEMO_PAUSE_DIR         when set, a request with X-Demo-Pause: NAME pauses
#                          its view (after reading the database) until the
#                          file NAME.go appears there (see shop/views.py)
#   DEMO_SLOW_MS           how long the page /slow/ takes to render (default 300)
# DEBUG stays off: the demo is served as in production, by gunicorn.
"""Django settings for the dumper demo shop."""

import os
import tempfile

env = os.environ.get

SECRET_KEY = env("DEMO_SECRET_KEY", "demo-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = ["dumper_django", "shop"]

MIDDLEWARE = [
    "dumper_django.middleware.UpdateCacheMiddleware",       # first: sees the final response
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "dumper_django.middleware.FetchFromCacheMiddleware",    # last: just before the view
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.i18n"]},
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env("DEMO_DB_NAME", "demo"),
        "USER": env("DEMO_DB_USER", "web"),
        "HOST": env("DEMO_DB_HOST", ""),
        "PORT": env("DEMO_DB_PORT", ""),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# The page cache: files, so that every gunicorn worker process shares it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env("DEMO_CACHE_DIR", os.path.join(tempfile.gettempdir(), "dumper-demo-cache")),
        "OPTIONS": {"MAX_ENTRIES": 10000},
    }
}

# dumper_django (docs/django.md).
DUMPER_REDIS_URL = env("DUMPER_REDIS_URL", "redis://127.0.0.1:6379/0")
DUMPER_KEY_PREFIX = "dumper:"
DUMPER_IGNORE_PATHS = [r"^/admin/", r"^/live/"]
DUMPER_CACHE_SECONDS = 86400
DUMPER_BROWSER_MAX_AGE = 0
DUMPER_STATUS_HEADER = "X-Dumper-Cache"

# Two languages, chosen by Accept-Language: each is its own cached variant.
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "French")]
USE_TZ = True
TIME_ZONE = "UTC"

DEMO_RENDER_LOG = env("DEMO_RENDER_LOG")
DEMO_SLOW_MS = int(env("DEMO_SLOW_MS", "300"))
DEMO_PAUSE_DIR = env("DEMO_PAUSE_DIR")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"dumper_django": {"handlers": ["stderr"], "level": "INFO"}},
}
