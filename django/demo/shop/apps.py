# django/demo/shop/apps.py: the shop application's configuration.
"""Application configuration of the demo shop."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The demo shop: ice creams, sizes, and their pages."""

    name = "shop"
    default_auto_field = "django.db.models.AutoField"
