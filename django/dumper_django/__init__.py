# dumper_django: Django's side of dumper's Redis contract (docs/django.md
# and docs/redis-contract.md).  Rules: importing this package touches neither
# Redis nor the database; everything happens in the middleware.
"""Whole-page caching for Django, invalidated by the dumper PostgreSQL extension."""

__version__ = "1.0"
