# shellcheck shell=bash
# bench/pgbench.sh: single-row write throughput, sourced by bench/run.sh.
#
# Workloads (pgbench -c 4 -j 2 -M prepared, as in MEASUREMENTS.md), each one
# statement per transaction:
#   update  UPDATE icecream SET price = price + 1 WHERE id = <random of 100,000>
#   insert  INSERT of a new row into icecream_ins (emptied before each run)
#   delete  DELETE of an existing row of icecream_del (refilled before each run)
# INSERT and DELETE use a per-client counter (pgbench variables live as long
# as the client), so every transaction writes exactly one row; the DELETE
# run checks that afterwards.
#
# Every round runs the variants of BENCH_VARIANTS (bench/setup.sql) in turn,
# each round starting one variant later (A B C D E, B C D E A, ...), so that
# with as many rounds as variants each takes each position once; before each
# run the table is vacuumed, the queue drained and a checkpoint taken, and
# the suite waits for other processes to leave the CPUs (bench_wait_quiet).
# Throughput on 2 cores swings +/-10 % from one second to the next, so
# short interleaved runs and medians are the way to a usable ratio.  The
# worker delivers to Redis during dumper's runs: its CPU is part of the
# cost (except in variant "paused", which shows the writers' share).  The
# peers' consumers are not run.
# Result lines: "tps.<settings>.<workload>.<variant>.<round> tps" and
# "others.<...>.<round> percent": the CPU share other processes on the
# machine took during that run (bench/cpu_mark.py); "deliv.<...>.<round>
# worker_s redis_s transactions": CPU seconds dumper's worker and Redis used
# during the run, for the cost of delivery per transaction; "machine.<...>.
# <round> busy idle iowait wal_bytes wal_syncs wal_sync_ms transactions":
# the whole machine's CPU ticks (/proc/stat) and the cluster's WAL written
# and flushed (pg_stat_wal) during the run, which show whether a series is
# bound by the CPUs or by waiting for the disk.

BENCH_VARIANTS=(none sql templates notify queue)

# Write the pgbench scripts into $DT_TMP.
bench_pgbench_scripts() {
	cat >"$DT_TMP/update.sql" <<'SQL'
\set id random(1, 100000)
UPDATE icecream SET price = price + 1 WHERE id = :id;
SQL
	cat >"$DT_TMP/insert.sql" <<'SQL'
\set n :n + 1
\set id :client_id * 10000000 + :n
INSERT INTO icecream_ins VALUES (:id, 'flavour-' || (:id)::text, 1);
SQL
	cat >"$DT_TMP/delete.sql" <<'SQL'
\set n :n + 1
DELETE FROM icecream_del WHERE id = :client_id * 10000000 + :n;
SQL
}

# Rows per client in icecream_del for a run of BENCH_SECS: room for 30,000
# transactions/s per client (4 clients), above this machine's rate (80,000
# in all); checked after each run anyway.
bench__del_cap() {
	echo $((30000 * BENCH_SECS))
}

# Make the table of WORKLOAD ready for a run of VARIANT.
bench_pgbench_prepare() {
	local workload=$1 variant=$2 tbl=icecream
	case $workload in
	insert) tbl=icecream_ins ;;
	delete) tbl=icecream_del ;;
	esac
	# Unregistered first: TRUNCATE of a registered table invalidates its rows.
	bench_psql -c "SELECT bench_use('$tbl', 'none')" >/dev/null
	case $workload in
	insert) bench_psql -c 'TRUNCATE icecream_ins' ;;
	delete) bench_psql -c 'TRUNCATE icecream_del' -c "INSERT INTO icecream_del
		SELECT c * 10000000 + g, 'flavour-' || (c * 10000000 + g), 1
		FROM generate_series(0, 3) c, generate_series(1, $(bench__del_cap)) g" ;;
	esac
	bench_psql -c 'TRUNCATE bench_path_queue' -c "VACUUM ANALYZE $tbl" \
		-c "SELECT bench_use('$tbl', '$variant')" >/dev/null
	bench_wait_drained
	bench_psql -c CHECKPOINT
}

# Run pgbench once with a script; print "tps transactions".
bench_pgbench_run() {
	local out
	out=$("$DT_PG_BIN/pgbench" -n -c 4 -j 2 -M prepared -T "$BENCH_SECS" -D n=0 \
		-f "$DT_TMP/$1.sql" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
	printf '%s %s\n' "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")" \
		"$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")"
}

# The pid of dumper's worker (0 when none runs).
bench__worker_pid() {
	bench_value 'SELECT coalesce(worker_pid, 0) FROM dumper_stats'
}

# CPU clock ticks used so far by dumper's worker and by Redis: "worker redis".
bench__delivery_ticks() {
	printf '%s %s\n' "$(bench__proc_ticks "$(bench__worker_pid)")" \
		"$(bench__proc_ticks "$(cat "$DT_TMP/redis/redis.pid")")"
}

# Send SIGNAL (STOP, CONT) to dumper's worker.
bench__worker_signal() {
	local pid
	pid=$(bench__worker_pid)
	[ "$pid" -gt 0 ] || { dt_err "no dumper worker to send SIG$1"; return 1; }
	kill "-$1" "$pid"
}

# Variant "paused": stop the worker for the run, so that the writers' cost
# shows alone.  The queue then grows by a run's worth of rows: the queue
# size sampler (bench/queue_size.py) skips samples while the flag file
# exists, until the worker has drained the queue and rotated it back to its
# usual size (rotated, under 1 MB; bounded wait).
bench__worker_stop() {
	touch "$DT_TMP/queue_sampler_off"
	bench__worker_signal STOP
}

# Resume the worker after a "paused" run (see bench__worker_stop).
bench__worker_resume() {
	bench__worker_signal CONT
	bench_wait_drained
	dt_poll 60 bench__queue_small || dt_err "dumper.queue still 1 MB or more 60 s after a paused run"
	rm -f "$DT_TMP/queue_sampler_off"
}

# True when dumper.queue's heap is under 1 MB: rotated, if it had grown
# (rotate.c rotates it from 1 MB on; nothing else shrinks it so far).
bench__queue_small() {
	[ "$(bench_value "SELECT pg_relation_size('dumper.queue') < 1024 * 1024")" = t ]
}

# utime + stime of a process, in clock ticks (0 when there is none).
bench__proc_ticks() {
	if [ "$1" -gt 0 ] && [ -r "/proc/$1/stat" ]; then
		sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
	else
		echo 0
	fi
}

# The machine's CPU ticks since boot: "busy idle iowait" (busy: user, nice,
# system, irq, softirq; the time a hypervisor stole is in none of them, and
# shows in the "others" share).
bench__machine_ticks() {
	awk 'NR == 1 {print $2 + $3 + $4 + $7 + $8, $5, $6}' /proc/stat
}

# The cluster's WAL so far: "bytes syncs sync_ms" (bytes: the insert
# position; sync_ms counts only while track_wal_io_timing is on: the
# durable settings).
bench__wal_mark() {
	bench_value "SELECT pg_current_wal_insert_lsn() - '0/0', wal_sync, wal_sync_time
		FROM pg_stat_wal" | tr '|' ' '
}

# What the machine and the cluster did between two marks (bench__machine_ticks
# then bench__wal_mark, each pair on one line): "busy idle iowait wal_bytes
# wal_syncs wal_sync_ms".
bench__machine_since() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), y[i] - x[i]
		print ""
	}'
}

# The growth between two bench__delivery_ticks outputs, in seconds: "worker redis".
bench__ticks_since() {
	local hz
	hz=$(getconf CLK_TCK)
	# shellcheck disable=SC2086  # two numbers each
	set -- $1 $2
	awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v hz="$hz" \
		'BEGIN {printf "%.3f %.3f", (c - a) / hz, (d - b) / hz}'
}

# Interleaved rounds of BENCH_VARIANTS for one workload under SETTINGS.
bench_pgbench_series() {
	local settings=$1 workload=$2 r i v tps n left line out others ticks0 ticks1 m0 m1
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		line=""
		for ((i = 0; i < ${#BENCH_VARIANTS[@]}; i++)); do
			v=${BENCH_VARIANTS[(r - 1 + i) % ${#BENCH_VARIANTS[@]}]}
			bench_pgbench_prepare "$workload" "$v"
			bench_wait_quiet
			bench_mark run
			ticks0=$(bench__delivery_ticks)
			m0="$(bench__machine_ticks) $(bench__wal_mark)"
			[ "$v" != paused ] || bench__worker_stop
			out=$(bench_pgbench_run "$workload")
			m1="$(bench__machine_ticks) $(bench__wal_mark)"
			ticks1=$(bench__delivery_ticks)
			[ "$v" != paused ] || bench__worker_resume
			others=$(bench_others run)
			read -r tps n <<<"$out"
			if [ "$workload" = delete ]; then
				left=$(bench_value 'SELECT count(*) FROM icecream_del')
				if [ $((4 * $(bench__del_cap) - left)) -ne "$n" ]; then
					dt_err "delete/$v: $n transactions but $((4 * $(bench__del_cap) - left)) rows deleted"
					return 1
				fi
			fi
			bench_put "tps.$settings.$workload.$v.$r" "$tps"
			bench_put "others.$settings.$workload.$v.$r" "$others"
			bench_put "deliv.$settings.$workload.$v.$r" "$(bench__ticks_since "$ticks0" "$ticks1")" "$n"
			bench_put "machine.$settings.$workload.$v.$r" "$(bench__machine_since "$m0" "$m1")" "$n"
			line+=" $v ${tps%.*}"
			[ "${others%.*}" -lt 5 ] || line+=" (others $others%)"
		done
		bench_log "$settings $workload round $r/$BENCH_ROUNDS (tps):$line"
	done
}
