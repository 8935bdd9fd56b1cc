#!/usr/bin/env bash
# demo/run.sh: the demo.  Usage: bash demo/run.sh [--serve]
#
# Installs what it needs (test/lib.sh: PostgreSQL 15, Redis, Django 3.2,
# gunicorn, all from Debian), builds and installs dumper, and starts, in a
# temporary directory removed at exit, a throwaway PostgreSQL 15 with
# dumper's background worker, a Redis, and the Django demo shop
# (django/demo) served by gunicorn, all on free loopback ports.  Then it
# shows what a person would see: a page fetched twice (the second time from
# the cache, no view, no SQL), a row changed with psql, the same page
# changed on the next fetch, and a browser's conditional GET.
#
# Non-interactive by default; with --serve it leaves everything running and
# prints the URL until Ctrl-C.  Servers run as user postgres when started
# by root.  Every wait is a bounded poll.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

serve=0
case "${1:-}" in
--serve) serve=1 ;;
"") ;;
*) echo "usage: bash demo/run.sh [--serve]" >&2; exit 2 ;;
esac

pg_port=""      # chosen by dt_free_port below
redis_port=""
web_port=""
web_pid=""      # gunicorn's master process, stopped at exit
web_job=""      # the background job that runs it
python=/usr/bin/python3

# Narration.
say() { printf '%s\n' "$*"; }
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
[ -t 1 ] || step() { printf '\n%s\n' "$*"; }

# Show a statement, then run it in the demo database (as USER, default the
# superuser postgres) and show its result.
sql() {
	local user=${2:-postgres}
	printf '\n'
	printf '%s\n' "$1" | sed '1s/^/  demo=# /; 2,$s/^/  demo-# /'
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/psql" -X -q -h "$DT_TMP" -p "$pg_port" -U "$user" \
		-d demo -v ON_ERROR_STOP=1 -P pager=off -c "$1") | sed '${/^$/d}; s/^/  /'
}

# Run SQL silently in database DB as the superuser.
sql_quiet() {
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/psql" -X -q -h "$DT_TMP" -p "$pg_port" -U postgres \
		-d "$1" -v ON_ERROR_STOP=1 -c "$2" >/dev/null)
}

# Show a Redis command, then run it and show its reply.
redis() {
	printf '\n  redis> %s\n' "$*"
	redis-cli -h 127.0.0.1 -p "$redis_port" "$@" | sed 's/^/  /'
}

# Run CMD... as the run user in the demo app's directory and environment
# (settings: django/demo/demo/settings.py).
app() {
	(cd "$DT_TMP/django/demo" && dt_as_user env PYTHONDONTWRITEBYTECODE=1 \
		DJANGO_SETTINGS_MODULE=demo.settings PYTHONPATH="$DT_TMP/django:$DT_TMP/django/demo" \
		DEMO_DB_NAME=demo DEMO_DB_USER=web DEMO_DB_HOST="$DT_TMP" DEMO_DB_PORT="$pg_port" \
		DUMPER_REDIS_URL="redis://127.0.0.1:$redis_port/0" DEMO_CACHE_DIR="$DT_TMP/page-cache" \
		"$@")
}

# Run manage.py COMMAND... as the run user.
manage() { app "$python" manage.py "$@"; }

# GET a path of the demo site like a browser would, showing the status, the
# caching headers and the page's price lines.  Extra arguments are request
# headers ("If-None-Match: ...").  The ETag lands in $DT_TMP/etag.
fetch() {
	local path=$1
	shift
	printf '\n  $ GET http://127.0.0.1:%s%s%s\n' "$web_port" "$path" "${1:+  ($*)}"
	perl -MHTTP::Tiny -e '
		my ($url, $etagfile, @h) = @ARGV;
		my %h = map { split /:\s*/, $_, 2 } @h;
		my $r = HTTP::Tiny->new(timeout => 10)->get($url, { headers => \%h });
		print "  $r->{status} $r->{reason}\n";
		for my $name ("x-dumper-cache", "etag", "cache-control") {
			print "  $name: $r->{headers}{$name}\n" if defined $r->{headers}{$name};
		}
		for (split /\n/, $r->{content}) {
			s/<[^>]*>//g;
			print "  | $_\n" if /Price|^\S.*cents/;
		}
		if (open my $f, ">", $etagfile) { print $f $r->{headers}{etag} // ""; }
		exit($r->{status} == 599);
	' "http://127.0.0.1:$web_port$path" "$DT_TMP/etag" "$@"
}

# True when the demo site answers on its health URL.
web_up() {
	perl -MHTTP::Tiny -e 'exit !HTTP::Tiny->new(timeout => 2)->get($ARGV[0])->{success}' \
		"http://127.0.0.1:$web_port/healthz/"
}

# True when Redis holds no key KEY.
key_gone() {
	[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" EXISTS "$1")" = 0 ]
}

# True when Redis holds the key KEY.
key_there() {
	[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" EXISTS "$1")" = 1 ]
}

# Called by test/lib.sh's EXIT trap after PostgreSQL and Redis are stopped.
# shellcheck disable=SC2317  # called from the EXIT trap
dt_after_cleanup() {
	if [ -n "$web_pid" ] && kill -0 "$web_pid" 2>/dev/null; then
		kill -TERM "$web_pid" 2>/dev/null || true
		dt_poll 10 dt_gone "$web_pid" || kill -KILL "$web_pid" 2>/dev/null || true
	fi
	return "$1"
}

step "dumper demo: a Django site whose cached pages follow every committed write"

dt_install_packages
dt_make_tmp
say "Building and installing the extension ..."
if ! dt_build_install "$repo" >"$DT_TMP/build.log" 2>&1; then
	cat "$DT_TMP/build.log"
	dt_err "the build failed"
	exit 1
fi
# The run user (postgres when we are root) must read the app.
cp -r "$repo/django" "$DT_TMP/django"
mkdir -p "$DT_TMP/page-cache"
dt_give "$DT_TMP/django" "$DT_TMP/page-cache"

dt_free_port redis_port
dt_free_port pg_port
while [ "$pg_port" = "$redis_port" ]; do dt_free_port pg_port; done
dt_free_port web_port
while [ "$web_port" = "$redis_port" ] || [ "$web_port" = "$pg_port" ]; do dt_free_port web_port; done
dt_redis_start "$DT_TMP/redis" "$redis_port"
dt_pg_start "$DT_TMP/pgdata" "$pg_port" \
	"shared_preload_libraries = 'dumper'" \
	"dumper.redis_url = 'redis://127.0.0.1:$redis_port/0'"
sql_quiet postgres "CREATE ROLE web LOGIN"
sql_quiet postgres "CREATE DATABASE demo OWNER web"
# The superuser creates the extension; the app's role "web" owns its tables
# and registers them in its migrations.
sql_quiet demo "CREATE EXTENSION dumper"
# The worker serves one database: point it at the app's and restart.
echo "dumper.database = 'demo'" >>"$DT_TMP/pgdata/postgresql.conf"
(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/pg_ctl" -D "$DT_TMP/pgdata" -l "$DT_TMP/pgdata.log" \
	-w -t 60 restart >/dev/null)
say "Started PostgreSQL 15 on 127.0.0.1:$pg_port (dumper preloaded, its worker serving"
say "database demo) and Redis on 127.0.0.1:$redis_port. Both go away at the end."

step "1. The Django app adopts dumper through its migrations"
say "django/demo is the seed's shop: IceCream and Size, many-to-many. Its"
say "migration 0002 creates SQL functions dependent_paths(row) that return the"
say "paths of the pages showing a row, and registers both tables with dumper."
manage migrate --no-input | sed 's/^/  /'
manage demo_data | sed 's/^/  /'
sql "SELECT table_name, paths_function, join_tables FROM dumper_registrations ORDER BY 1;"

step "2. Serve it with gunicorn"
app /usr/bin/gunicorn --bind "127.0.0.1:$web_port" --workers 2 --threads 4 \
	--pid "$DT_TMP/gunicorn.pid" \
	demo.wsgi:application </dev/null >>"$DT_TMP/gunicorn.log" 2>&1 &
web_job=$!
if dt_poll 30 test -s "$DT_TMP/gunicorn.pid"; then
	web_pid=$(cat "$DT_TMP/gunicorn.pid")
fi
if [ -z "$web_pid" ] || ! dt_poll 30 web_up; then
	dt_err "gunicorn did not answer within 30 s; its log:"
	cat "$DT_TMP/gunicorn.log" >&2
	exit 1
fi
say "gunicorn serves the demo on http://127.0.0.1:$web_port/ with dumper_django's"
say "middleware: pages are cached whole, under the path's stamp kept in Redis,"
say "while dumper's worker keeps its liveness key there (connected, caught up):"
if ! dt_poll 30 key_there dumper:@live:demo; then
	dt_err "the worker's liveness key dumper:@live:demo did not appear within 30 s"
	exit 1
fi
redis EXISTS dumper:@live:demo

step "3. A person looks at vanilla's page, twice"
say "The first GET renders the page (a miss) and stores it; the second is served"
say "from the cache: no view runs, no SQL reaches PostgreSQL. The list too."
fetch /icecream/vanilla/
fetch /icecream/vanilla/
fetch /icecreams/
say ""
say "Each page's key in Redis holds the stamp its cached copies are filed under:"
redis GET dumper:/icecream/vanilla/
redis EXISTS dumper:/icecream/vanilla/ dumper:/icecreams/

step "4. Someone changes the price with psql, not through Django"
sql "UPDATE shop_icecream SET price = 275 WHERE slug = 'vanilla';"
if ! dt_poll 10 key_gone dumper:/icecream/vanilla/; then
	dt_err "the invalidation was not delivered within 10 s"
	exit 1
fi
say ""
say "At commit, dumper's worker deleted the keys of the pages showing the row:"
redis EXISTS dumper:/icecream/vanilla/ dumper:/icecreams/

step "5. The person reloads the page: it changed"
fetch /icecream/vanilla/
fetch /icecream/vanilla/
say ""
say "A browser revalidates with the ETag it has: 304 Not Modified, no view run,"
say "for as long as the page is unchanged."
fetch /icecream/vanilla/ "If-None-Match: $(cat "$DT_TMP/etag")"

if [ "$serve" -eq 1 ]; then
	step "Serving http://127.0.0.1:$web_port/icecreams/ until Ctrl-C"
	say "Change rows with:"
	say "  psql -h $DT_TMP -p $pg_port -U postgres demo -c \"UPDATE shop_icecream SET price = 199\""
	say "and reload the page.  Ctrl-C stops everything and removes $DT_TMP."
	wait "$web_job" || true
fi

step "Done. Stopping gunicorn, PostgreSQL and Redis, and removing $DT_TMP."
