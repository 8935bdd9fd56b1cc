#!/usr/bin/env python3
# django/demo/manage.py: Django's command-line utility for the demo project.
# Rules: settings come from demo.settings (environment variables, see there);
# the dumper_django package is found next to this directory.
"""Run a Django management command for the demo project."""

import os
import sys


def main():
    """Put ../ (the dumper_django package) on the path and run the command."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
