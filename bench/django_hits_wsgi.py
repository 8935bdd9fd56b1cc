# bench/django_hits_wsgi.py: the demo's WSGI application for bench/django_hits.sh,
# with the dumper_django package taken from BENCH_READER_DIR.
#
# Rules: BENCH_READER_DIR (a directory holding dumper_django/) goes first on
# sys.path, so the old reader (extracted from git) and the new one (the
# repository's django/) are served by the same demo; demo/wsgi.py is not
# imported, since it puts the repository's django/ first.  DJANGO_SETTINGS_MODULE
# comes from the environment (demo.settings, or django_hits_settings).
"""WSGI entry point of the hit-throughput benchmark."""

import os
import sys

sys.path.insert(0, os.environ["BENCH_READER_DIR"])

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after the path)

application = get_wsgi_application()
