# django/demo/demo/wsgi.py: the WSGI application gunicorn serves.
# Rules: settings from demo.settings unless DJANGO_SETTINGS_MODULE says
# otherwise; the dumper_django package is found next to the demo directory.
"""WSGI entry point: gunicorn demo.wsgi:application."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after the path)

application = get_wsgi_application()
