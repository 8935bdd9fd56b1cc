# shellcheck shell=bash
# bench/latency.sh: commit -> DEL latency at half the maximum write rate,
# and dumper.queue's size after that sustained run; sourced by bench/run.sh.
#
# Method: icecream_lat, registered with the templates of the throughput runs
# plus '/lat/{tag}/', takes the same single-row UPDATE as the update
# workload, which also sets tag to clock_timestamp() in microseconds.
# pgbench --rate runs it at half the median tps that dumper with templates
# reached in the CPU-bound update runs; `redis-cli MONITOR` logs every DEL
# with Redis's own time of execution; bench/latency.py subtracts each tag
# from the time of the first DEL of its key.  Same machine, same wall clock.
# (MONITOR costs Redis some throughput; at this rate Redis is mostly idle.)
# Result lines: lat.rate, lat.tps, lat.summary "count p50 p99 max",
# queue.after "peak last" (bytes, sampled every second during the run).

# Run the latency measurement for BENCH_LAT_SECS seconds at RATE tps.
bench_latency_phase() {
	local rate=$1 start_us mon qs out tps
	cat >"$DT_TMP/latency.sql" <<'SQL'
\set id random(1, 100000)
UPDATE icecream_lat SET price = price + 1,
    tag = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint WHERE id = :id;
SQL
	bench_psql -c "SELECT bench_use('icecream_lat', 'templates',
		ARRAY['/icecream/{slug}/', '/icecreams/', '/lat/{tag}/'])" \
		-c 'VACUUM icecream_lat' -c CHECKPOINT >/dev/null
	bench_wait_drained
	bench_wait_quiet
	bench_bg "$DT_TMP/monitor.log" redis-cli -h 127.0.0.1 -p "$BENCH_REDIS_PORT" monitor
	mon=$BENCH_BG_PID
	bench_bg "$DT_TMP/queue_size.err" "$BENCH_PY" "$BENCH_DIR/queue_size.py" "$DT_TMP/queue_after"
	qs=$BENCH_BG_PID
	start_us=$(date +%s%6N)
	bench_log "latency: ${BENCH_LAT_SECS} s of UPDATE at $rate tps (half the max), Redis MONITOR on"
	out=$("$DT_PG_BIN/pgbench" -n -c 4 -j 2 -M prepared -T "$BENCH_LAT_SECS" -R "$rate" \
		-f "$DT_TMP/latency.sql" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
	bench_wait_drained
	bench_bg_stop "$qs"
	bench_bg_stop "$mon"
	bench_put lat.rate "$rate"
	bench_put lat.tps "$tps"
	bench_put lat.summary "$("$BENCH_PY" "$BENCH_DIR/latency.py" "$DT_TMP/monitor.log" "$start_us")"
	bench_put queue.after "$(cat "$DT_TMP/queue_after")"
	rm -f "$DT_TMP/monitor.log"
}
