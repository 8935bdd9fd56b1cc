# django/demo/shop/views_scenarios.py: the views that the acceptance
# scenarios of issue 25 (test/t/025_freshness_scenarios.pl) drive.
#
# Rules: like shop/views.py, they know nothing about caching (the middleware
# does it) and count each render in DEMO_RENDER_LOG when that is set, here
# with the render's wall-clock time as a fourth field, so the test can tell
# which invalidation a render followed.  Writes go through the ORM only.
# DEMO_SLOW_MS (environment, default 0) is how long the slow page's render
# sleeps after reading the database, capped at SLOW_LIMIT_MS.
"""The editor's POST (save, 303 to the page) and a slow page, for the scenarios."""

import os
import time

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import translation

from .models import IceCream

SLOW_LIMIT_MS = 10000   # the slow page never sleeps longer than this


def _count_render(request):
    """Append "path, language, pid, unix time" to DEMO_RENDER_LOG, when it is set."""
    log = settings.DEMO_RENDER_LOG
    if not log:
        return
    line = f"{request.path}\t{translation.get_language()}\t{os.getpid()}\t{time.time():.6f}\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def _slow_ms():
    """DEMO_SLOW_MS as milliseconds (0 when unset or not a number), at most SLOW_LIMIT_MS."""
    try:
        ms = int(os.environ.get("DEMO_SLOW_MS", "0"))
    except ValueError:
        return 0
    return max(0, min(ms, SLOW_LIMIT_MS))


def set_price(request, slug):
    """POST price=N: save the ice cream's price through the ORM, then 303 to its page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        price = int(request.POST["price"])
    except (KeyError, ValueError):
        return HttpResponseBadRequest("price: an integer is required\n")
    icecream = get_object_or_404(IceCream, slug=slug)
    icecream.price = price
    icecream.save(update_fields=["price"])
    response = HttpResponseRedirect(icecream.get_absolute_url())
    response.status_code = 303     # See Other: the browser GETs the page
    return response


def slow_detail(request, slug):
    """The ice cream's page, rendered after sleeping DEMO_SLOW_MS: a costly hot page."""
    icecream = get_object_or_404(IceCream, slug=slug)
    sizes = list(icecream.sizes.all())
    _count_render(request)
    time.sleep(_slow_ms() / 1000.0)
    return render(request, "shop/icecream_detail.html", {"icecream": icecream, "sizes": sizes})
