# django/demo/demo/settings_nowait.py: the demo's settings with dumper_django's
# read-your-writes wait turned off (DUMPER_WAIT_SECONDS = 0).
#
# Rules: everything else is demo/settings.py, unchanged; only the scenario
# test (test/t/025_freshness_scenarios.pl) serves it, on a second gunicorn,
# to measure what the wait adds to a POST and what it prevents.
"""Demo settings without the wait after unsafe requests."""

from .settings import *  # noqa: F401,F403  (the same site)

DUMPER_WAIT_SECONDS = 0
