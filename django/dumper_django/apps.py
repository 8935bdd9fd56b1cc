# dumper_django/apps.py: the Django application, so that its system checks
# and its management command (dumper_check) exist.
#
# Rules: add "dumper_django" to INSTALLED_APPS; ready() only registers the
# checks (importing them touches neither Redis nor the database: the checks
# run when Django runs its checks).
"""Application configuration of dumper_django."""

from django.apps import AppConfig


class DumperDjangoConfig(AppConfig):
    """dumper_django: page caching kept fresh by dumper; its checks and commands."""

    name = "dumper_django"
    verbose_name = "dumper"

    def ready(self):
        """Register the system checks (checks.py) with Django."""
        from . import checks  # noqa: F401  (registers on import)
