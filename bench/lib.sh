# shellcheck shell=bash
# bench/lib.sh: shell functions of the benchmark suite (bench/run.sh), on top
# of test/lib.sh.  Names: functions bench_*, variables BENCH_*.
#
# Results are lines "key value..." appended to $BENCH_RESULTS; bench/report.py
# turns them into the table.  Progress goes to stderr, with the time since
# the start, so that stdout holds the table only.

BENCH_PY=/usr/bin/python3       # Debian's python3, which has psycopg2
BENCH_T0=$SECONDS
BENCH_RESULTS=""                # set by bench_start
BENCH_REDIS_PORT=""
BENCH_PG_PORT=""
BENCH_BG_PID=""                 # pid of the last bench_bg
BENCH_QUIET_LEFT=60             # seconds bench_wait_quiet may still wait

# Print a progress line on stderr.
bench_log() {
	printf '[%3d s] %s\n' $((SECONDS - BENCH_T0)) "$*" >&2
}

# Record a result: bench_put KEY VALUE...
bench_put() {
	printf '%s\n' "$*" >>"$BENCH_RESULTS"
}

# psql on the bench database (connection from PG* variables set by bench_start).
bench_psql() {
	"$DT_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# One value from a query.
bench_value() {
	bench_psql -Atc "$1"
}

# Median of the numbers on stdin.
bench_median() {
	sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# Install packages, build and install dumper, start Redis and PostgreSQL with
# the CPU-bound settings, create the bench database; export PG* for clients.
bench_start() {
	local repo=$1
	dt_install_packages >&2
	dt_make_tmp
	BENCH_RESULTS=$DT_TMP/results.txt
	: >"$BENCH_RESULTS"
	bench_log "building dumper"
	dt_build_install "$repo" >"$DT_TMP/build.log" 2>&1 || { cat "$DT_TMP/build.log" >&2; return 1; }
	dt_build_install "$repo/bench/noop" >>"$DT_TMP/build.log" 2>&1 || { cat "$DT_TMP/build.log" >&2; return 1; }
	dt_free_port BENCH_REDIS_PORT
	dt_free_port BENCH_PG_PORT
	while [ "$BENCH_PG_PORT" = "$BENCH_REDIS_PORT" ]; do dt_free_port BENCH_PG_PORT; done
	dt_redis_start "$DT_TMP/redis" "$BENCH_REDIS_PORT"
	dt_pg_start "$DT_TMP/pgdata" "$BENCH_PG_PORT" \
		"shared_preload_libraries = 'dumper'" \
		"dumper.redis_url = 'redis://127.0.0.1:$BENCH_REDIS_PORT/0'" \
		"dumper.database = 'bench'" \
		"shared_buffers = '256MB'" \
		"max_wal_size = '4GB'" \
		"fsync = off" "synchronous_commit = off" "full_page_writes = off"
	export PGHOST=$DT_TMP PGPORT=$BENCH_PG_PORT PGUSER=postgres PGDATABASE=bench
	export PGOPTIONS='-c client_min_messages=warning'
	bench_psql -d postgres -c 'CREATE DATABASE bench'
	bench_log "loading tables (1,100,000 rows)"
	bench_psql -f "$repo/bench/setup.sql" >/dev/null
	bench_put meta.commit "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
	bench_put meta.postgres "$(bench_value 'SHOW server_version')"
	bench_put meta.redis "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
	bench_put meta.cpus "$(nproc)"
	bench_put meta.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
}

# Switch to "cpu" (fsync, synchronous_commit, full_page_writes off) or
# "durable" (PostgreSQL's defaults) settings: all three take a reload.
# track_wal_io_timing goes on with durable, for the time a WAL flush takes
# (pg_stat_wal.wal_sync_time); with fsync off there is none to time.
bench_settings() {
	local v=off
	[ "$1" = durable ] && v=on
	bench_psql -c "ALTER SYSTEM SET fsync = $v" -c "ALTER SYSTEM SET synchronous_commit = $v" \
		-c "ALTER SYSTEM SET full_page_writes = $v" -c "ALTER SYSTEM SET track_wal_io_timing = $v" \
		-c 'SELECT pg_reload_conf()' >/dev/null
	dt_poll 10 bench__setting_is fsync "$v"
	bench_psql -c CHECKPOINT
}

# True when a new session sees setting NAME = VALUE.
bench__setting_is() {
	[ "$(bench_value "SHOW $1")" = "$2" ]
}

# True when nothing is pending in dumper.queue.
bench__drained() {
	[ "$(bench_value 'SELECT NOT EXISTS (SELECT FROM dumper.queue)')" = t ]
}

# Wait (at most 120 s) until the worker has delivered everything queued.
bench_wait_drained() {
	dt_poll 120 bench__drained || { dt_err "dumper.queue not drained after 120 s"; return 1; }
}

# Save a CPU mark named NAME (bench/cpu_mark.py).
bench_mark() {
	bench__cpu_mark start "$DT_TMP/cpu_mark.$1"
}

# Print the percentage of the machine's CPU that processes outside the
# benchmark used since the mark NAME.
bench_others() {
	bench__cpu_mark since "$DT_TMP/cpu_mark.$1"
}

# Wait until processes outside the benchmark leave the CPUs alone (under 5 %
# for 0.3 s): at most 20 s per call and BENCH_QUIET_LEFT seconds (60) in
# all, so a busy machine delays the suite by a minute at most; the share
# they take during each run is reported anyway.
bench_wait_quiet() {
	local max=20 waited
	[ "$BENCH_QUIET_LEFT" -ge "$max" ] || max=$BENCH_QUIET_LEFT
	[ "$max" -gt 0 ] || return 0
	waited=$(bench__cpu_mark quiet "$max")
	if [ "${waited%.*}" -gt 0 ]; then
		bench_log "waited $waited s for other processes to leave the CPUs"
		BENCH_QUIET_LEFT=$((BENCH_QUIET_LEFT - ${waited%.*}))
	fi
}

# Run bench/cpu_mark.py: ACTION NAME (quiet: ACTION SECONDS).
bench__cpu_mark() {
	"$BENCH_PY" "$BENCH_DIR/cpu_mark.py" "$(head -1 "$DT_TMP/pgdata/postmaster.pid")" \
		"$(cat "$DT_TMP/redis/redis.pid")" $$ "$1" "$2"
}

# Start something in the background, as the current user; its pid is in
# BENCH_BG_PID.  Usage: bench_bg OUTFILE CMD...
bench_bg() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	# shellcheck disable=SC2034  # read by the callers
	BENCH_BG_PID=$!
}

# Stop a process started by bench_bg (by its pid) and wait for it.
bench_bg_stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
