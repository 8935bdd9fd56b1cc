# django/demo/shop/views.py: the demo's pages.
#
# Rules: page views read the database, then (test hooks, off unless the
# settings name a file or directory) count the render in DEMO_RENDER_LOG and
# pause on request (X-Demo-Pause) *after* reading, so a test can hold a
# render that has read a row while that row is changed.  Every wait is
# bounded.  The views know nothing about caching: the middleware does it.
"""Pages of the demo shop."""

import os
import re
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .models import IceCream, Size

PAUSE_LIMIT = 60.0  # seconds a paused view waits at most


def _count_render(request):
    """Append "path, language, pid" to DEMO_RENDER_LOG, when it is set."""
    log = settings.DEMO_RENDER_LOG
    if not log:
        return
    line = f"{request.path}\t{translation.get_language()}\t{os.getpid()}\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def _pause_if_asked(request):
    """With X-Demo-Pause: NAME and DEMO_PAUSE_DIR set, create NAME.paused there
    and wait (at most PAUSE_LIMIT seconds) until NAME.go exists."""
    name = request.headers.get("X-Demo-Pause")
    folder = settings.DEMO_PAUSE_DIR
    if not name or not folder or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        return
    with open(os.path.join(folder, name + ".paused"), "w"):
        pass
    go = os.path.join(folder, name + ".go")
    deadline = time.monotonic() + PAUSE_LIMIT
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)


def home(request):
    """The home page: the list of ice creams."""
    return redirect("icecream-list")


def icecream_list(request):
    """Every ice cream, its price."""
    icecreams = list(IceCream.objects.all())
    _count_render(request)
    _pause_if_asked(request)
    return render(request, "shop/icecream_list.html", {"icecreams": icecreams})


def icecream_detail(request, slug):
    """One ice cream, its price and its sizes."""
    icecream = get_object_or_404(IceCream, slug=slug)
    sizes = list(icecream.sizes.all())
    _count_render(request)
    _pause_if_asked(request)
    return render(request, "shop/icecream_detail.html", {"icecream": icecream, "sizes": sizes})


@require_POST
def icecream_rename(request, slug):
    """POST name=...: rename an ice cream through the ORM, then 303 to its page
    (which must show the new name: read-your-writes)."""
    icecream = get_object_or_404(IceCream, slug=slug)
    icecream.name = request.POST.get("name", "").strip()[:100] or icecream.name
    icecream.save(update_fields=["name"])
    response = HttpResponseRedirect(icecream.get_absolute_url())
    response.status_code = 303     # See Other: the browser GETs the page
    return response


def slow(request):
    """A page that takes DEMO_SLOW_MS to render: many requests at once after
    an invalidation show whether it is rendered once (the render lease)."""
    count = IceCream.objects.count()
    _count_render(request)
    _pause_if_asked(request)
    time.sleep(settings.DEMO_SLOW_MS / 1000)
    return HttpResponse(f"{count} ice creams, slowly\n", content_type="text/plain")


def size_detail(request, slug):
    """One size and the ice creams that come in it."""
    size = get_object_or_404(Size, slug=slug)
    icecreams = list(size.ice_creams.all())
    _count_render(request)
    _pause_if_asked(request)
    return render(request, "shop/size_detail.html", {"size": size, "icecreams": icecreams})


def visit(request):
    """A page that sets a cookie: never cached (it would hand the cookie to everyone)."""
    _count_render(request)
    response = HttpResponse("Welcome back.\n", content_type="text/plain")
    response.set_cookie("visited", "1")
    return response


def live(request):
    """A page under an ignored path (DUMPER_IGNORE_PATHS): rendered every time."""
    _count_render(request)
    return HttpResponse(f"{IceCream.objects.count()} ice creams\n", content_type="text/plain")


@never_cache
def healthz(request):
    """Liveness, without database: never cached (Cache-Control: private, max-age=0)."""
    return HttpResponse("ok\n", content_type="text/plain")
