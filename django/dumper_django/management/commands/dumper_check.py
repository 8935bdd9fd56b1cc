# dumper_django/management/commands/dumper_check.py: manage.py dumper_check.
#
# Proves, end to end, that a committed write deletes a key in the Redis this
# site reads, and names the first broken link:
#   1. settings     DUMPER_* valid
#   2. redis        DUMPER_REDIS_URL answers PING
#   3. database     DUMPER_DATABASE reachable, extension dumper (1.2+) installed
#   4. worker       dumper_stats shows a worker serving this database
#   5. delivery     a probe: BEGIN; SELECT dumper_probe() -> path; SET
#                   prefix+path in Redis; COMMIT; the key must be gone within
#                   --timeout (dumper_wait tells "not delivered" from
#                   "delivered, but to another Redis or prefix")
#   6. liveness     the worker's liveness key is in Redis (else pages are
#                   served uncached)
#
# Rules: every wait is bounded by --timeout (default 5 s); a failure is a
# CommandError (exit status 1) whose message names the link, what was seen
# and what to change; nothing is left behind in Redis (the probe key is
# deleted) or in the database (dumper_probe queues a path only).
"""manage.py dumper_check: prove the chain from a commit to a deleted Redis key."""

import time
from urllib.parse import urlsplit

import redis
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections, transaction

from dumper_django import conf
from dumper_django.checks import where


def _fail(link, message, hint):
    """The CommandError of a broken LINK: what is wrong, and what to do."""
    return CommandError(f"{link}: {message}\n  hint: {hint}")


def _redacted(url):
    """URL without its credentials, to show in messages."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


class Command(BaseCommand):
    """Check Redis, the database, the worker, delivery and liveness, in order."""

    help = ("Prove that a committed write deletes a key in the Redis this site reads "
            "(a probe through dumper's worker); name the first broken link.")
    requires_system_checks = []   # the checks' warnings are links of this chain

    def add_arguments(self, parser):
        """--timeout: the bound of the probe's delivery and of the liveness key."""
        parser.add_argument("--timeout", type=float, default=5.0,
                            help="seconds to wait for the probe's delivery (default 5)")

    def handle(self, *args, **options):
        """Run the links in order; stop at the first broken one."""
        self.timeout = options["timeout"]
        try:
            self.config = conf.load()
        except ImproperlyConfigured as e:
            raise _fail("settings", str(e), "fix the setting named (docs/django.md, Settings, lists them)")
        self.redis = redis.Redis.from_url(self.config.redis_url,
                                          socket_timeout=self.config.redis_timeout,
                                          socket_connect_timeout=self.config.redis_timeout)
        self.where = where(self.redis)
        self.check_redis()
        self.db_name = self.check_database()
        self.check_worker()
        self.check_delivery()
        self.check_liveness()
        self.stdout.write("dumper_check: every link works; pages are cached and kept fresh")

    def ok(self, link, message):
        """Report a working link."""
        self.stdout.write(f"ok  {link}: {message}")

    def redis_call(self, command, *args, **kwargs):
        """A Redis command; a failure is the redis link's."""
        try:
            return command(*args, **kwargs)
        except (redis.RedisError, OSError) as e:
            raise _fail("redis", f"Redis at DUMPER_REDIS_URL ({self.where}) failed: {e}",
                        "start Redis, or set DUMPER_REDIS_URL to the Redis of dumper.redis_url")

    def check_redis(self):
        """Link 2: Redis answers PING within DUMPER_REDIS_TIMEOUT."""
        self.redis_call(self.redis.ping)
        self.ok("redis", f"Redis at {self.where} answers")

    def query(self, sql, params=()):
        """The first row of SQL on the DUMPER_DATABASE connection (autocommit)."""
        with connections[self.config.database].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def check_database(self):
        """Link 3: the database answers and has dumper 1.2 or later; its name."""
        alias = self.config.database
        try:
            name, version, probe = self.query(
                "SELECT current_database(), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'dumper'), "
                "to_regprocedure('dumper_probe()') IS NOT NULL")
        except DatabaseError as e:
            raise _fail("database", f"cannot query database alias {alias!r} (DUMPER_DATABASE): "
                        f"{str(e).strip()}", "check DATABASES and that PostgreSQL runs")
        if version is None:
            raise _fail("database", f'the extension "dumper" is not installed in database "{name}"',
                        f"a superuser runs CREATE EXTENSION dumper; in database {name}")
        if not probe:
            raise _fail("database", f'the extension "dumper" in database "{name}" is version '
                        f"{version}, without dumper_probe() and dumper_wait()",
                        f"a superuser runs ALTER EXTENSION dumper UPDATE; in database {name}")
        self.ok("database", f'database "{name}" has the extension dumper {version}')
        return name

    def stats(self):
        """The worker's row of dumper_stats, as a dict."""
        with connections[self.config.database].cursor() as cursor:
            cursor.execute("SELECT worker_pid, connection, last_error, worker_database, "
                           "serves_this_database FROM dumper_stats")
            names = [c[0] for c in cursor.description]
            return dict(zip(names, cursor.fetchone()))

    def check_worker(self):
        """Link 4: a dumper worker runs and serves this database."""
        s = self.stats()
        if s["worker_database"] is None:
            raise _fail("worker", "no dumper worker is running (dumper_stats.worker_database is "
                        "NULL)", "shared_preload_libraries = 'dumper' in postgresql.conf, then "
                        "restart PostgreSQL")
        if not s["serves_this_database"]:
            raise _fail("worker", f'the dumper worker serves database "{s["worker_database"]}", '
                        f'not "{self.db_name}": writes here are never delivered',
                        f"dumper.database = '{self.db_name}' in postgresql.conf, then reload")
        self.ok("worker", f'worker (pid {s["worker_pid"]}) serves database "{self.db_name}", '
                f'Redis connection: {s["connection"]}')

    def check_delivery(self):
        """Link 5: a probe's committed invalidation deletes its key in this Redis."""
        alias = self.config.database
        with transaction.atomic(using=alias):
            path = self.query("SELECT dumper_probe()")[0]
            key = self.config.key_prefix + path
            self.redis_call(self.redis.set, key, "dumper_check", ex=60)
        try:
            delivered = self.query("SELECT dumper_wait(%s)", [max(1, int(self.timeout * 1000))])[0]
            gone = self.wait_until(lambda: not self.redis_call(self.redis.exists, key),
                                   self.timeout if delivered else 0.5)
        finally:
            self.redis_call(self.redis.delete, key)
        if gone:
            self.ok("delivery", f"a committed probe deleted {key} in Redis at {self.where}")
            return
        if not delivered:
            s = self.stats()
            raise _fail("delivery", f"the worker did not deliver the probe within {self.timeout} s "
                        f"(Redis connection: {s['connection']}; last error: "
                        f"{s['last_error'] or 'none'})",
                        "the worker cannot reach its Redis (dumper.redis_url): see "
                        "dumper_stats and PostgreSQL's log")
        raise _fail("delivery", f"the worker delivered the probe, but {key} is still in the "
                    f"Redis at DUMPER_REDIS_URL ({self.where}): it delivers to another Redis "
                    f"or prefix{self.elsewhere()}",
                    "make dumper.redis_url and dumper.redis_prefix (postgresql.conf) and "
                    "DUMPER_REDIS_URL and DUMPER_KEY_PREFIX name the same Redis and prefix")

    def elsewhere(self):
        """What differs between the worker's Redis settings and the site's,
        as far as this role may read them."""
        notes = []
        prefix = self.setting("dumper.redis_prefix")
        if prefix is not None and prefix != self.config.key_prefix:
            notes.append(f"dumper.redis_prefix is {prefix!r} but DUMPER_KEY_PREFIX is "
                         f"{self.config.key_prefix!r}")
        url = self.setting("dumper.redis_url")
        if url and _redacted(url) != _redacted(self.config.redis_url):
            notes.append(f"dumper.redis_url is {_redacted(url)} but DUMPER_REDIS_URL is "
                         f"{_redacted(self.config.redis_url)}")
        elif url is None:
            notes.append("dumper.redis_url is readable by superusers only: compare it with "
                         f"DUMPER_REDIS_URL ({_redacted(self.config.redis_url)})")
        return ": " + "; ".join(notes) if notes else ""

    def setting(self, name):
        """The server's value of setting NAME, or None when this role may not read it.

        pg_settings leaves out, without an error, the superuser-only
        settings (dumper.redis_url) a role may not read.
        """
        try:
            with transaction.atomic(using=self.config.database):
                row = self.query("SELECT setting FROM pg_catalog.pg_settings WHERE name = %s", [name])
        except DatabaseError:
            return None
        return row[0] if row else None

    def check_liveness(self):
        """Link 6: the worker's liveness key is in Redis (pages are cached)."""
        key = self.config.liveness_key
        if self.wait_until(lambda: self.redis_call(self.redis.exists, key), self.timeout):
            self.ok("liveness", f"liveness key {key} is in Redis: pages are cached")
            return
        actual = f"{self.config.key_prefix}@live:{self.db_name}"
        if key != actual and self.redis_call(self.redis.exists, actual):
            raise _fail("liveness", f"the liveness key is {actual}, but this site reads {key}",
                        f"set DUMPER_LIVENESS_KEY = {actual!r} (or remove it)")
        raise _fail("liveness", f"the liveness key {key} did not appear in Redis at {self.where} "
                    f"within {self.timeout} s: pages are served uncached",
                    "the worker writes it while connected and caught up; see dumper_stats "
                    "and PostgreSQL's log")

    @staticmethod
    def wait_until(condition, timeout):
        """Poll CONDITION (10 ms, growing to 100 ms) until true or TIMEOUT passed."""
        deadline = time.monotonic() + timeout
        sleep = 0.01
        while True:
            if condition():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.1)
