#!/usr/bin/env bash
# bench/pgbench_update.sh: single-row UPDATE throughput with dumper versus no
# trigger at all, measured side by side on throwaway servers.
#
# Variants: no trigger (baseline), dumper with a SQL paths function, dumper
# with C path templates.  Workload (as in MEASUREMENTS.md): pgbench -c 4 -j 2 -M prepared, one random
# single-row UPDATE on a 100,000-row table whose paths function returns two
# paths.  Variants are interleaved (baseline, dumper, baseline, dumper, ...)
# and the ratio of medians is printed.  The background worker runs and
# delivers to a real Redis during the dumper rounds: its CPU is part of the
# cost.  Settings: "cpu" (fsync = off, synchronous_commit = off; the harshest
# case for a trigger) or "durable" (PostgreSQL's defaults).
#
# Usage: bash bench/pgbench_update.sh [cpu|durable] [seconds per run] [rounds]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/lib.sh
source "$repo/test/lib.sh"

mode=${1:-cpu}
secs=${2:-15}
rounds=${3:-3}

dt_install_packages
dt_make_tmp
dt_build_install "$repo" >"$DT_TMP/build.log" 2>&1 || { cat "$DT_TMP/build.log"; exit 1; }

dt_free_port redis_port
dt_free_port pg_port
while [ "$pg_port" = "$redis_port" ]; do dt_free_port pg_port; done
dt_redis_start "$DT_TMP/redis" "$redis_port"
conf=("shared_preload_libraries = 'dumper'"
	"dumper.redis_url = 'redis://127.0.0.1:$redis_port/0'"
	"dumper.database = 'bench'"
	"shared_buffers = '256MB'"
	"max_wal_size = '4GB'")
if [ "$mode" = cpu ]; then
	conf+=("fsync = off" "synchronous_commit = off" "full_page_writes = off")
fi
dt_pg_start "$DT_TMP/pgdata" "$pg_port" "${conf[@]}"

psql_() { (cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
	-h "$DT_TMP" -p "$pg_port" -U postgres "$@"); }
psql_ -d postgres -c 'CREATE DATABASE bench'
psql_ -d bench <<'SQL'
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price int NOT NULL);
INSERT INTO icecream SELECT g, 'flavour-' || g, 1 FROM generate_series(1, 100000) g;
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
VACUUM ANALYZE icecream;
SQL
cat >"$DT_TMP/update.sql" <<'SQL'
\set id random(1, 100000)
UPDATE icecream SET price = price + 1 WHERE id = :id;
SQL
chmod a+r "$DT_TMP/update.sql"

# Run pgbench once; print its tps.
run() {
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/pgbench" -n -c 4 -j 2 -M prepared -T "$secs" \
		-f "$DT_TMP/update.sql" -h "$DT_TMP" -p "$pg_port" -U postgres bench) |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

base=() dump=() tmpl=()
for ((r = 1; r <= rounds; r++)); do
	psql_ -d bench -c "SELECT dumper_unregister('icecream')" >/dev/null 2>&1 || true
	psql_ -d bench -c 'CHECKPOINT' >/dev/null
	base+=("$(run)")
	psql_ -d bench -c "SELECT dumper_register('icecream')" >/dev/null
	psql_ -d bench -c 'CHECKPOINT' >/dev/null
	dump+=("$(run)")
	psql_ -d bench -c "SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/', '/icecreams/'])" >/dev/null
	psql_ -d bench -c 'CHECKPOINT' >/dev/null
	tmpl+=("$(run)")
	printf 'round %d: baseline %s tps, SQL function %s tps, templates %s tps\n' \
		"$r" "${base[-1]}" "${dump[-1]}" "${tmpl[-1]}"
done
mb=$(printf '%s\n' "${base[@]}" | median)
md=$(printf '%s\n' "${dump[@]}" | median)
mt=$(printf '%s\n' "${tmpl[@]}" | median)
pending=$(psql_ -d bench -Atc 'SELECT count(*) FROM dumper_pending')
printf '\n%-10s %-28s %12s %8s\n' settings variant "median tps" ratio
printf '%-10s %-28s %12.0f %8.3f\n' "$mode" "no trigger (baseline)" "$mb" 1
printf '%-10s %-28s %12.0f %8.3f\n' "$mode" "dumper, SQL paths function" "$md" "$(awk -v a="$md" -v b="$mb" 'BEGIN {print a / b}')"
printf '%-10s %-28s %12.0f %8.3f\n' "$mode" "dumper, C path templates" "$mt" "$(awk -v a="$mt" -v b="$mb" 'BEGIN {print a / b}')"
printf 'pending after the last run: %s paths\n' "$pending"
