# django/demo/shop/urls_scenarios.py: URLs of the scenario views, under /scen/
# (demo/urls.py includes them).  Rules: /scen/slow/<slug>/ is invalidated by
# the tests with dumper_invalidate(), not by a paths function: no row shows
# there as far as dumper knows.
"""URL patterns of the scenario views (shop/views_scenarios.py)."""

from django.urls import path

from . import views_scenarios

urlpatterns = [
    path("price/<slug:slug>/", views_scenarios.set_price, name="scen-set-price"),
    path("slow/<slug:slug>/", views_scenarios.slow_detail, name="scen-slow"),
]
