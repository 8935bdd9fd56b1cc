# dumper_django/management/commands: manage.py dumper_check.
