#!/usr/bin/env bash
# bench/django_hits.sh: hit throughput of a cached page, the old dumper_django
# against the new one (issue 25: "not lower than before by more than 5 %"),
# with Django's own cache middleware as a reference line.
#
# Stands up a throwaway Redis and PostgreSQL 15 (dumper's worker serving the
# demo's database, so the new reader finds its liveness key), migrates the
# demo shop, and serves it with three gunicorns (BENCH_HITS_WORKERS
# processes, default 1, of BENCH_HITS_THREADS threads, default 4; same
# settings, same file cache backend, same Redis).  One process by default:
# wrk's keep-alive connections stay with the process that accepted them,
# and with two an uneven split (all eight on one, say) halved a run's rate
# at random; one process measures the reader's cost per request, with the
# other CPU left to wrk, Redis and PostgreSQL.  The variants:
#   old     dumper_django as of commit BENCH_HITS_OLD (default 4c0165b, the
#           last before issue 25), extracted with git archive
#   new     the repository's django/dumper_django
#   django  django.middleware.cache.* (bench/django_hits_settings.py)
# Then BENCH_HITS_ROUNDS rounds (default 5), each running wrk for
# BENCH_HITS_SECS seconds (default 5, BENCH_HITS_CONNS connections, default
# 8) against each variant in turn, the order reversed every other round, so
# that drift of the machine falls on every variant alike.  Every run is
# checked to be hits only: the page is a hit before it (X-Dumper-Cache for
# the dumper variants) and the demo's render log does not grow during it.
#
# Prints requests/s per variant and round with the CPU share processes
# outside the benchmark took meanwhile (bench/django_hits_cpu.py; another
# session's build on the same CPUs shows there), then the ratio new/old per
# round (each from the same round), its median and spread, the verdict
# against 0.95, and the median over the quiet rounds alone.  Measurement only: nothing here is a test.  Needs wrk (installed
# from Debian like the test packages).  About 2 minutes with the defaults.
# DUMPER_KEEP_TMP=1 keeps the directory (logs) afterwards.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=test/lib.sh
source "$repo/test/lib.sh"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

ROUNDS=${BENCH_HITS_ROUNDS:-5}
SECS=${BENCH_HITS_SECS:-5}
CONNS=${BENCH_HITS_CONNS:-8}
WORKERS=${BENCH_HITS_WORKERS:-1}
THREADS=${BENCH_HITS_THREADS:-4}
OLD=${BENCH_HITS_OLD:-4c0165b}
PAGE=/icecream/vanilla/
VARIANTS=(old new django)
declare -A PORT PID
GUNICORN_PIDS=()

# Stop the gunicorns this script started (by pid); called at exit too.
hits_stop_servers() {
	local p
	for p in "${GUNICORN_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${GUNICORN_PIDS[@]}"; do
		dt_poll 10 dt_gone "$p" || kill -KILL "$p" 2>/dev/null || true
	done
	GUNICORN_PIDS=()
}

# Called by test/lib.sh's exit trap after the servers are stopped.
# shellcheck disable=SC2317  # called from the EXIT trap
dt_after_cleanup() {
	hits_stop_servers
	return "$1"
}

# The environment of the demo for variant V (settings module, reader dir).
hits_env() {
	local v=$1 reader=$repo/django settings=demo.settings
	[ "$v" = old ] && reader=$DT_TMP/old/django
	[ "$v" = django ] && settings=django_hits_settings
	printf '%s\n' \
		"DJANGO_SETTINGS_MODULE=$settings" \
		"BENCH_READER_DIR=$reader" \
		"PYTHONPATH=$reader:$repo/django/demo:$BENCH_DIR" \
		"PYTHONDONTWRITEBYTECODE=1" \
		"DEMO_DB_NAME=demo" "DEMO_DB_USER=postgres" \
		"DEMO_DB_HOST=$DT_TMP" "DEMO_DB_PORT=$BENCH_PG_PORT" \
		"DUMPER_REDIS_URL=redis://127.0.0.1:$BENCH_REDIS_PORT/0" \
		"DEMO_CACHE_DIR=$DT_TMP/cache-$v" \
		"DEMO_RENDER_LOG=$DT_TMP/renders-$v.log"
}

# Run CMD... in the demo's environment for variant V.
hits_run() {
	local v=$1
	shift
	local -a envs
	mapfile -t envs < <(hits_env "$v")
	env "${envs[@]}" "$@"
}

# Replace the current (background) subshell by CMD... in the demo's
# environment for variant V, so that $! is CMD's own pid (a gunicorn master,
# stopped by that pid).
hits_exec() {
	local v=$1
	shift
	local -a envs
	mapfile -t envs < <(hits_env "$v")
	exec env "${envs[@]}" "$@"
}

# True when variant V's gunicorn answers /healthz/.
hits_up() {
	curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$1]}/healthz/" 2>/dev/null
}

# The number of lines of variant V's render log (0 when it does not exist).
hits_renders() {
	local f=$DT_TMP/renders-$1.log
	[ -f "$f" ] && wc -l <"$f" || echo 0
}

# The X-Dumper-Cache header of a GET of the page on variant V.
hits_status() {
	curl -fsS -D - -o /dev/null "http://127.0.0.1:${PORT[$1]}$PAGE" |
		tr -d '\r' | sed -n 's/^[Xx]-[Dd]umper-[Cc]ache: //p'
}

# True when the page is a hit on variant V: for the dumper variants the
# header says so; for Django's middleware, a GET leaves the render log alone.
hits_is_hit() {
	local v=$1 n
	if [ "$v" = django ]; then
		n=$(hits_renders "$v")
		curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$v]}$PAGE" || return 1
		[ "$(hits_renders "$v")" = "$n" ]
	else
		[ "$(hits_status "$v")" = hit ]
	fi
}

# django_hits_cpu.py ACTION FILE with the roots of our process trees.
hits_cpu() {
	"$BENCH_PY" "$BENCH_DIR/django_hits_cpu.py" "$1" "$2" $$ \
		"$(head -1 "$DT_TMP/pgdata/postmaster.pid")" "$(cat "$DT_TMP/redis/redis.pid")" \
		"${GUNICORN_PIDS[@]}"
}

# True when other processes took under 5 % of the CPUs during 0.3 s.
hits__quiet() {
	hits_cpu start "$DT_TMP/quiet.mark"
	sleep 0.3    # the sampling window of the check, not a wait for a result
	[ "$(hits_cpu since "$DT_TMP/quiet.mark" | cut -d. -f1)" -lt 5 ]
}

# Wait until other processes leave the CPUs alone: at most 20 s per call and
# QUIET_LEFT seconds (60) in all, so a busy machine delays the run by a
# minute at most; the share they took during each run is printed anyway.
QUIET_LEFT=60
hits_wait_quiet() {
	local t0=$SECONDS max=20
	[ "$QUIET_LEFT" -ge "$max" ] || max=$QUIET_LEFT
	[ "$max" -gt 0 ] || return 0
	# A loop on the clock, not dt_poll: each check takes about half a second.
	while [ $((SECONDS - t0)) -lt "$max" ] && ! hits__quiet; do :; done
	QUIET_LEFT=$((QUIET_LEFT - (SECONDS - t0)))
}

# One wrk run of SECS seconds against variant V; prints "requests/s
# others%" (the CPU share of processes outside the benchmark meanwhile), or
# fails when the run was not hits only (renders, errors).
hits_measure() {
	local v=$1 secs=$2 before out rps bad others
	dt_poll 20 hits_is_hit "$v" || { dt_err "$v: the page is not a cache hit"; return 1; }
	hits_wait_quiet
	before=$(hits_renders "$v")
	hits_cpu start "$DT_TMP/run.mark"
	out=$(wrk -t1 -c"$CONNS" -d"${secs}s" "http://127.0.0.1:${PORT[$v]}$PAGE")
	others=$(hits_cpu since "$DT_TMP/run.mark")
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
	bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
	if [ -n "$bad" ] || [ "$(hits_renders "$v")" != "$before" ] || [ -z "$rps" ]; then
		dt_err "$v: the run was not hits only (non-2xx: ${bad:-0}, renders: $before -> $(hits_renders "$v")):"
		printf '%s\n' "$out" >&2
		return 1
	fi
	echo "$rps $others"
}

DT_PACKAGES+=(wrk curl)
dt_install_packages >&2
dt_make_tmp
bench_log "building dumper"
dt_build_install "$repo" >"$DT_TMP/build.log" 2>&1 || { cat "$DT_TMP/build.log" >&2; exit 1; }
mkdir -p "$DT_TMP/old"
git -C "$repo" archive "$OLD" django/dumper_django | tar -C "$DT_TMP/old" -xf - ||
	{ dt_err "cannot extract django/dumper_django of $OLD from git"; exit 1; }
dt_free_port BENCH_REDIS_PORT
dt_free_port BENCH_PG_PORT
while [ "$BENCH_PG_PORT" = "$BENCH_REDIS_PORT" ]; do dt_free_port BENCH_PG_PORT; done
dt_redis_start "$DT_TMP/redis" "$BENCH_REDIS_PORT"
dt_pg_start "$DT_TMP/pgdata" "$BENCH_PG_PORT" \
	"shared_preload_libraries = 'dumper'" \
	"dumper.redis_url = 'redis://127.0.0.1:$BENCH_REDIS_PORT/0'" \
	"dumper.database = 'demo'"
export PGHOST=$DT_TMP PGPORT=$BENCH_PG_PORT PGUSER=postgres PGDATABASE=demo
bench_psql -d postgres -c 'CREATE DATABASE demo'
bench_psql -c 'CREATE EXTENSION dumper'
bench_log "migrating the demo"
hits_run new "$BENCH_PY" "$repo/django/demo/manage.py" migrate --no-input >"$DT_TMP/migrate.log" 2>&1 ||
	{ cat "$DT_TMP/migrate.log" >&2; exit 1; }
hits_run new "$BENCH_PY" "$repo/django/demo/manage.py" demo_data >>"$DT_TMP/migrate.log" 2>&1 ||
	{ cat "$DT_TMP/migrate.log" >&2; exit 1; }
dt_poll 30 bench__drained || { dt_err 'the sample data was not delivered in 30 s'; exit 1; }

used=" $BENCH_REDIS_PORT $BENCH_PG_PORT "
for v in "${VARIANTS[@]}"; do
	dt_free_port "PORT[$v]"
	while [[ $used == *" ${PORT[$v]} "* ]]; do dt_free_port "PORT[$v]"; done
	used+="${PORT[$v]} "
	hits_exec "$v" gunicorn --chdir "$repo/django/demo" --bind "127.0.0.1:${PORT[$v]}" \
		--workers "$WORKERS" --threads "$THREADS" django_hits_wsgi:application >"$DT_TMP/gunicorn-$v.log" 2>&1 &
	PID[$v]=$!
	GUNICORN_PIDS+=("${PID[$v]}")
done
for v in "${VARIANTS[@]}"; do
	dt_poll 30 hits_up "$v" || { dt_err "gunicorn $v did not start:"; cat "$DT_TMP/gunicorn-$v.log" >&2; exit 1; }
done
bench_log "warming up each variant (2 s)"
for v in "${VARIANTS[@]}"; do
	hits_measure "$v" 2 >/dev/null
done

declare -A RPS OTHERS
for ((r = 1; r <= ROUNDS; r++)); do
	order=("${VARIANTS[@]}")
	[ $((r % 2)) -eq 0 ] && order=(django new old)
	for v in "${order[@]}"; do
		res=$(hits_measure "$v" "$SECS")
		read -r "RPS[$v.$r]" "OTHERS[$v.$r]" <<<"$res"
		bench_log "round $r/$ROUNDS: $v ${RPS[$v.$r]} requests/s (others ${OTHERS[$v.$r]} % CPU)"
	done
done
hits_stop_servers

# The report: per variant and round, then the ratios.
{
	echo "hit throughput of $PAGE (cached), gunicorn ${WORKERS}x$THREADS per variant, wrk -c$CONNS, $ROUNDS rounds x ${SECS} s, interleaved"
	echo "commit $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown), old reader from $OLD, $(nproc) CPUs"
	for v in "${VARIANTS[@]}"; do
		line="  $(printf '%-7s' "$v") requests/s:"
		vals=()
		for ((r = 1; r <= ROUNDS; r++)); do
			line+=" ${RPS[$v.$r]}"
			vals+=("${RPS[$v.$r]}")
		done
		med=$(printf '%s\n' "${vals[@]}" | bench_median)
		echo "$line   median $med"
		line="          others' CPU %:"
		for ((r = 1; r <= ROUNDS; r++)); do line+=" ${OTHERS[$v.$r]}"; done
		echo "$line"
	done
	for pair in new:old django:old; do
		a=${pair%%:*}
		b=${pair##*:}
		ratios=()
		for ((r = 1; r <= ROUNDS; r++)); do
			ratios+=("$(awk -v x="${RPS[$a.$r]}" -v y="${RPS[$b.$r]}" 'BEGIN {printf "%.3f", x / y}')")
		done
		med=$(printf '%s\n' "${ratios[@]}" | bench_median)
		lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)
		hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
		verdict=""
		if [ "$a" = new ]; then
			verdict=$(awk -v m="$med" 'BEGIN {print (m >= 0.95) ? "met (>= 0.95)" : "MISSED (< 0.95)"}')
		fi
		echo "  ratio $a/$b per round: ${ratios[*]}   median $med, spread $lo-$hi  $verdict"
		# The same over the quiet rounds: others under 10 % in both runs.
		quiet=()
		for ((r = 1; r <= ROUNDS; r++)); do
			if awk -v x="${OTHERS[$a.$r]}" -v y="${OTHERS[$b.$r]}" 'BEGIN {exit !(x < 10 && y < 10)}'; then
				quiet+=("${ratios[r - 1]}")
			fi
		done
		if [ ${#quiet[@]} -gt 0 ]; then
			echo "    quiet rounds only (others < 10 % CPU in both): ${quiet[*]}   median $(printf '%s\n' "${quiet[@]}" | bench_median)"
		else
			echo "    no quiet round (others < 10 % CPU in both): the ratios above are the machine's noise as much as the readers'"
		fi
	done
} | tee "$DT_TMP/report.txt"
