#!/usr/bin/env bash
# demo/run.sh: the demo.  Usage: bash demo/run.sh
#
# Installs what it needs, builds and installs dumper, starts a throwaway
# PostgreSQL 15 and Redis on free loopback ports in a temporary directory
# (removed at exit), and walks through what dumper does: a registered table,
# committed writes queued as paths, the web tier's keys in Redis, and
# dumper_deliver() deleting the keys of the pages that changed.
#
# The background worker is left off (no shared_preload_libraries), so the
# queue stays visible until the demo delivers it by hand.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

pg_port=""      # chosen by dt_free_port below
redis_port=""

# Narration.
say() { printf '%s\n' "$*"; }
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
[ -t 1 ] || step() { printf '\n%s\n' "$*"; }

# Show a statement, then run it in the demo database and show its result.
sql() {
	printf '\n'
	printf '%s\n' "$1" | sed '1s/^/  demo=# /; 2,$s/^/  demo-# /'
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/psql" -X -q -h "$DT_TMP" -p "$pg_port" -U postgres \
		-d demo -v ON_ERROR_STOP=1 -P pager=off -c "$1") | sed '${/^$/d}; s/^/  /'
}

# Show a Redis command, then run it and show its reply.
redis() {
	printf '\n  redis> %s\n' "$*"
	redis-cli -h 127.0.0.1 -p "$redis_port" "$@" | sed 's/^/  /'
}

# List the dumper:* keys in Redis, sorted.
show_keys() {
	local keys
	printf '\n  redis> KEYS dumper:*\n'
	keys=$(redis-cli -h 127.0.0.1 -p "$redis_port" KEYS 'dumper:*' | LC_ALL=C sort)
	if [ -n "$keys" ]; then
		printf '%s\n' "$keys" | sed 's/^/  /'
	else
		echo "  (no keys)"
	fi
}

step "dumper demo: committed writes invalidate cached web pages in Redis"

dt_install_packages
dt_make_tmp
say "Building and installing the extension ..."
if ! dt_build_install "$repo" >"$DT_TMP/build.log" 2>&1; then
	cat "$DT_TMP/build.log"
	dt_err "the build failed"
	exit 1
fi

dt_free_port redis_port
dt_free_port pg_port
while [ "$pg_port" = "$redis_port" ]; do dt_free_port pg_port; done
dt_redis_start "$DT_TMP/redis" "$redis_port"
dt_pg_start "$DT_TMP/pgdata" "$pg_port" \
	"dumper.redis_url = 'redis://127.0.0.1:$redis_port/0'"
(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/psql" -X -q -h "$DT_TMP" -p "$pg_port" -U postgres \
	-d postgres -v ON_ERROR_STOP=1 -c 'CREATE DATABASE demo')
say "Started PostgreSQL 15 on 127.0.0.1:$pg_port and Redis on 127.0.0.1:$redis_port,"
say "with dumper.redis_url = 'redis://127.0.0.1:$redis_port/0'. Both go away at the end."

step "1. Register a table"
say "A table tells dumper which URL paths show each row through a function,"
say "dependent_paths(row). An ice cream is shown on its own page and on the list."
sql "CREATE EXTENSION dumper;"
sql "CREATE TABLE icecream (id serial PRIMARY KEY, slug text, price int);"
sql "$(cat <<'SQL'
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql
AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
SQL
)"
sql "SELECT dumper_register('icecream');"

step "2. Write, and see what is queued"
say "Each committed write queues the paths of the rows it touched, in the same"
say "transaction: dumper_pending shows what waits for delivery to Redis."
sql "INSERT INTO icecream (slug, price) VALUES ('vanilla', 3), ('chocolate', 4);"
sql "SELECT * FROM dumper_pending ORDER BY path;"
say ""
say "Nothing is cached yet, so delivering now deletes nothing; it empties the queue."
sql "SELECT dumper_deliver();"

step "3. The web tier caches pages"
say "For each path P the web tier keeps a key 'dumper:' || P in Redis (here a"
say "random stamp that is part of its cache keys). While the key stays, the"
say "cached page is served; once dumper deletes it, the page is rendered afresh."
for path in /icecream/vanilla/ /icecream/chocolate/ /icecreams/; do
	redis SET "dumper:$path" "stamp-$(printf '%04x%04x' $RANDOM $RANDOM)"
done
show_keys

step "4. A rolled-back write invalidates nothing"
sql "BEGIN; UPDATE icecream SET price = 1; ROLLBACK;"
sql "SELECT count(*) AS pending FROM dumper_pending;"

step "5. Rename vanilla"
say "The UPDATE changes a slug: the old page, the new page and the list are"
say "invalidated. The writer never talks to Redis: the paths wait in the queue."
sql "UPDATE icecream SET slug = 'vanilla-bean' WHERE slug = 'vanilla';"
sql "SELECT * FROM dumper_pending ORDER BY path;"
show_keys

step "6. Deliver"
say "dumper_deliver() sends DEL for each pending path (the background worker"
say "does this on its own when dumper is in shared_preload_libraries)."
sql "SELECT dumper_deliver();"
show_keys
say ""
say "The vanilla page and the list will be rendered afresh; chocolate's cached"
say "page is still good and stays. The queue is empty again:"
sql "SELECT count(*) AS pending FROM dumper_pending;"

step "Done. Stopping PostgreSQL and Redis and removing $DT_TMP."
