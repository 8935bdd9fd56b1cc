# dumper_django/writes.py: read-your-writes after an unsafe request.
#
# A POST that changes a row and redirects (303) is followed at once by a GET
# of the changed page; dumper deletes the page's stamp a few milliseconds
# after the commit, so that GET could still be served the old page.  The
# outermost middleware therefore waits, before answering an unsafe request,
# until dumper has delivered what this request's session committed:
# SELECT dumper_wait(<ms>) (extension 1.2).
#
# Rules: only on the DUMPER_DATABASE connection, only when it is open (a
# request that never connected wrote nothing) and not inside an atomic block
# (its writes are not committed yet); at most DUMPER_WAIT_SECONDS; a
# database error is logged, never turned into an error page: the write
# itself succeeded.  dumper_wait returns at once when nothing was queued.
"""Wait for the delivery of a request's writes before answering it."""

import logging

from django.db import DatabaseError, connections

log = logging.getLogger("dumper_django")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def wait_for_delivery(config):
    """After an unsafe request: wait (bounded) until its committed writes'
    invalidations reached Redis, so that the next page shows them."""
    if config.wait_seconds <= 0:
        return
    connection = connections[config.database]
    if connection.connection is None or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT dumper_wait(%s)", [max(1, int(config.wait_seconds * 1000))])
            delivered = cursor.fetchone()[0]
    except DatabaseError as e:
        log.warning("dumper_django: SELECT dumper_wait() failed on database %r (%s); "
                    "the next page may not show this request's writes yet", config.database, e)
        return
    if not delivered:
        log.warning("dumper_django: the writes of a request were not delivered to Redis within "
                    "DUMPER_WAIT_SECONDS (%s s) on database %r; the next page may not show them",
                    config.wait_seconds, config.database)
