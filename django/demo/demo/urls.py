# django/demo/demo/urls.py: the demo's URLs.  Rules: every page path here is
# one that the SQL paths functions (shop/migrations/0002_dumper.py) return,
# so that writes invalidate it; except /scen/ (shop/urls_scenarios.py), the
# scenario views of test/t/025_freshness_scenarios.pl, which say why.
"""URL patterns of the demo shop."""

from django.urls import include, path

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("icecreams/", views.icecream_list, name="icecream-list"),
    path("icecream/<slug:slug>/", views.icecream_detail, name="icecream-detail"),
    path("icecream/<slug:slug>/rename/", views.icecream_rename, name="icecream-rename"),
    path("size/<slug:slug>/", views.size_detail, name="size-detail"),
    path("slow/", views.slow, name="slow"),
    path("visit/", views.visit, name="visit"),
    path("live/", views.live, name="live"),
    path("healthz/", views.healthz, name="healthz"),
    path("scen/", include("shop.urls_scenarios")),     # test/t/025_freshness_scenarios.pl
]
