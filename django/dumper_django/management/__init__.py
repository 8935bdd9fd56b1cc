# dumper_django/management: the package of dumper_django's manage.py commands.
