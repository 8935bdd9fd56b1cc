# shellcheck shell=bash
# bench/bulk.sh: one UPDATE of 1,000,000 rows (time and backend memory), and
# delivery throughput; sourced by bench/run.sh.
#
# Time: UPDATE icecream_bulk SET price = price + 1 (all 1,000,000 rows, in
# autocommit, so dumper's pre-commit flush is inside the time), variants
# no trigger / SQL function / templates interleaved (rotated as in
# bench/pgbench.sh), BENCH_BULK_ROUNDS rounds, after one untimed warm-up so that
# every timed run finds the same table layout.  Before each: VACUUM, queue
# drained, CHECKPOINT, quiet CPUs (bench_wait_quiet).
#
# Memory (bench/backend_run.py --memory explains the figure): the same
# UPDATE with no trigger, with a no-op PL/pgSQL AFTER ROW trigger (PostgreSQL
# queues an after-trigger event per row, ~16 bytes, whoever the trigger is),
# with templates giving 1 distinct path ('/icecreams/'), and with templates
# giving 1,000,000 ('/icecream/{slug}/').
#
# Delivery: the last memory run is made with dumper.redis_url on a closed
# port, so its 1,000,000 paths stay queued, and Redis holds each of their
# keys (loaded with redis-cli --pipe).  bench/drain.py then points the
# worker at Redis and times the queue until empty; afterwards the keys must
# be gone.  Next to it, redis-benchmark's pipelined DEL (-P 100, 50
# clients, 1,000,000 random keys, mostly absent) on the same Redis.
# Result lines: bulk.<variant>.<round> seconds, mem.<variant> kB,
# drain "paths seconds delivered", redis.del requests/s.

# Prepare icecream_bulk for VARIANT [TEMPLATES, an SQL array expression].
bench_bulk_prepare() {
	bench_psql -c "SELECT bench_use('icecream_bulk', 'none')" -c 'VACUUM icecream_bulk' >/dev/null
	bench_wait_drained
	if [ $# -gt 1 ]; then
		bench_psql -c "SELECT bench_use('icecream_bulk', '$1', $2)" >/dev/null
	else
		bench_psql -c "SELECT bench_use('icecream_bulk', '$1')" >/dev/null
	fi
	bench_psql -c CHECKPOINT
	bench_wait_quiet
}

# Time the 1,000,000-row UPDATE under the three variants, interleaved.
bench_bulk_time() {
	local r i v s line
	local upd='UPDATE icecream_bulk SET price = price + 1'
	bench_bulk_prepare none
	"$BENCH_PY" "$BENCH_DIR/backend_run.py" "$upd" >/dev/null
	local variants=(none sql templates)
	for ((r = 1; r <= BENCH_BULK_ROUNDS; r++)); do
		line=""
		for ((i = 0; i < 3; i++)); do
			v=${variants[(r - 1 + i) % 3]}
			bench_bulk_prepare "$v"
			s=$("$BENCH_PY" "$BENCH_DIR/backend_run.py" "$upd")
			bench_put "bulk.$v.$r" "$s"
			line+=" $v $s"
		done
		bench_log "UPDATE of 1,000,000 rows round $r/$BENCH_BULK_ROUNDS (s):$line"
	done
}

# Peak backend memory of the UPDATE, then delivery of its 1,000,000 paths.
bench_bulk_memory_delivery() {
	local upd='UPDATE icecream_bulk SET price = price + 1' out none dead n
	bench_bulk_prepare none
	none=$("$BENCH_PY" "$BENCH_DIR/backend_run.py" --memory "$upd")
	bench_put mem.none "${none#* }"
	bench_bulk_prepare noop
	out=$("$BENCH_PY" "$BENCH_DIR/backend_run.py" --memory "$upd")
	bench_put mem.noop "${out#* }"
	bench_bulk_prepare templates "ARRAY['/icecreams/']"
	out=$("$BENCH_PY" "$BENCH_DIR/backend_run.py" --memory "$upd")
	bench_put mem.one "${out#* }"
	bench_log "peak memory growth: no trigger ${none#* } kB, no-op trigger $(sed -n 's/^mem.noop //p' "$BENCH_RESULTS") kB, 1 distinct path ${out#* } kB"

	# The worker cannot deliver: a port nobody listens on.
	dt_free_port dead
	bench_psql -c "ALTER SYSTEM SET dumper.redis_url = 'redis://127.0.0.1:$dead/0'" \
		-c 'SELECT pg_reload_conf()' >/dev/null
	bench_bulk_prepare templates "ARRAY['/icecream/{slug}/']"
	out=$("$BENCH_PY" "$BENCH_DIR/backend_run.py" --memory "$upd")
	bench_put mem.million "${out#* }"
	n=$(bench_value 'SELECT coalesce(sum(cardinality(paths)), 0) FROM dumper.queue')
	bench_log "peak memory growth: 1,000,000 distinct paths ${out#* } kB; $n paths queued, loading their keys into Redis"
	redis-cli -h 127.0.0.1 -p "$BENCH_REDIS_PORT" flushall >/dev/null
	awk 'BEGIN { for (i = 1; i <= 1000000; i++) {
		k = "dumper:/icecream/flavour-" i "/"
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n", length(k), k } }' |
		redis-cli -h 127.0.0.1 -p "$BENCH_REDIS_PORT" --pipe >/dev/null
	out=$("$BENCH_PY" "$BENCH_DIR/drain.py" "redis://127.0.0.1:$BENCH_REDIS_PORT/0")
	bench_put drain "$out"
	n=$(redis-cli -h 127.0.0.1 -p "$BENCH_REDIS_PORT" dbsize)
	bench_log "delivery: paths seconds delivered = $out; keys left in Redis: $n"
	if [ "$n" != 0 ]; then
		dt_err "$n keys were not deleted by the worker"
		return 1
	fi
	out=$(redis-benchmark -h 127.0.0.1 -p "$BENCH_REDIS_PORT" -P 100 -n 1000000 -r 1000000 \
		--csv DEL 'key:__rand_int__' | awk -F'"' 'NR == 2 {print $4}')
	bench_put redis.del "$out"
	redis-cli -h 127.0.0.1 -p "$BENCH_REDIS_PORT" flushall >/dev/null
	bench_log "redis-benchmark -P 100 DEL: $out requests/s"
}
