#!/usr/bin/env bash
# bench/run.sh: dumper's benchmark suite (`make bench`).  Measurement only.
#
# Stands up a throwaway PostgreSQL 15 (dumper's worker running) and Redis,
# measures every target (docs/benchmarks.md) in one run here, and prints one
# table of ratios with the targets next to them: stdout gets the table only
# (also written to bench/results/latest.txt), stderr the progress.
#
#   1. pgbench UPDATE, INSERT, DELETE, CPU-bound settings, five variants
#      interleaved (bench/pgbench.sh), UPDATE also with a no-op C row
#      trigger (bench/noop, the floor) and with dumper's worker stopped
#      (what its writers alone pay); dumper.queue's size sampled meanwhile
#   2. commit -> DEL latency at half the max rate (bench/latency.sh)
#   3. one UPDATE of 1,000,000 rows: time, backend memory; delivery
#      throughput against redis-benchmark (bench/bulk.sh)
#   4. pgbench UPDATE again under PostgreSQL's durable defaults, with a
#      no-op C row trigger (bench/noop) as a sixth variant: the floor;
#      both UPDATE series also record the machine's CPU and the cluster's
#      WAL per transaction, which show what bounds them
#   5. instructions per UPDATE transaction in one backend, under callgrind
#      (bench/instructions.sh): the noise-free view of the writers' cost
#
# Environment: BENCH_SECS (seconds per pgbench run, default 5),
# BENCH_ROUNDS (default 5; the INSERT and DELETE series, whose only target
# is to be ahead of the peers, take BENCH_MINOR_ROUNDS of BENCH_MINOR_SECS,
# default 3 of 3 s), BENCH_BULK_ROUNDS (the 1,000,000-row UPDATE, default
# 3), BENCH_LAT_SECS (default 20); DUMPER_KEEP_TMP=1 keeps the servers'
# directory (logs, raw results) for a look afterwards.
# About 12 minutes with the defaults on 2 slow cores, packages installed.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=test/lib.sh
source "$repo/test/lib.sh"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
# shellcheck source=bench/pgbench.sh
source "$BENCH_DIR/pgbench.sh"
# shellcheck source=bench/latency.sh
source "$BENCH_DIR/latency.sh"
# shellcheck source=bench/bulk.sh
source "$BENCH_DIR/bulk.sh"
# shellcheck source=bench/instructions.sh
source "$BENCH_DIR/instructions.sh"

BENCH_SECS=${BENCH_SECS:-5}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_MINOR_ROUNDS=${BENCH_MINOR_ROUNDS:-3}
BENCH_MINOR_SECS=${BENCH_MINOR_SECS:-3}
BENCH_BULK_ROUNDS=${BENCH_BULK_ROUNDS:-3}
BENCH_LAT_SECS=${BENCH_LAT_SECS:-20}

bench_start "$repo"
bench_put meta.secs "$BENCH_SECS"
bench_put meta.rounds "$BENCH_ROUNDS"
bench_put meta.minor_rounds "$BENCH_MINOR_ROUNDS"
bench_put meta.minor_secs "$BENCH_MINOR_SECS"
bench_put meta.bulk_rounds "$BENCH_BULK_ROUNDS"
bench_put meta.lat_secs "$BENCH_LAT_SECS"
bench_pgbench_scripts

bench_log "phase 1: pgbench, CPU-bound settings, ${BENCH_SECS} s x 7 variants x ${BENCH_ROUNDS} rounds (UPDATE) or ${BENCH_MINOR_SECS} s x 5 x ${BENCH_MINOR_ROUNDS} (INSERT, DELETE)"
bench_settings cpu
bench_bg "$DT_TMP/queue_size.err" "$BENCH_PY" "$BENCH_DIR/queue_size.py" "$DT_TMP/queue_pgbench"
queue_sampler=$BENCH_BG_PID
# UPDATE with the floor (a no-op C trigger) and dumper's writers alone (its
# worker stopped) alongside: where the distance to the baseline goes.
BENCH_VARIANTS=(none sql templates cnoop paused notify queue)
bench_pgbench_series cpu update
BENCH_VARIANTS=(none sql templates notify queue)
BENCH_ROUNDS=$BENCH_MINOR_ROUNDS BENCH_SECS=$BENCH_MINOR_SECS bench_pgbench_series cpu insert
BENCH_ROUNDS=$BENCH_MINOR_ROUNDS BENCH_SECS=$BENCH_MINOR_SECS bench_pgbench_series cpu delete
bench_bg_stop "$queue_sampler"
bench_put queue.pgbench "$(cat "$DT_TMP/queue_pgbench")"

bench_log "phase 2: commit -> DEL latency"
max=$(sed -n 's/^tps\.cpu\.update\.templates\.[0-9]* //p' "$BENCH_RESULTS" | bench_median)
bench_mark phase
bench_latency_phase "$(awk -v m="$max" 'BEGIN {printf "%d", m / 2}')"
bench_put others.latency "$(bench_others phase)"

bench_log "phase 3: one UPDATE of 1,000,000 rows; delivery"
bench_mark phase
bench_bulk_time
bench_bulk_memory_delivery
bench_put others.bulk "$(bench_others phase)"

bench_log "phase 4: pgbench UPDATE, durable settings"
bench_settings durable
# With the floor of any row trigger (a no-op C trigger) measured alongside.
BENCH_VARIANTS=(none sql templates cnoop notify queue)
bench_pgbench_series durable update

bench_log "phase 5: instructions per UPDATE transaction (callgrind, single-user mode)"
bench_instructions_phase

mkdir -p "$BENCH_DIR/results"
"$BENCH_PY" "$BENCH_DIR/report.py" "$BENCH_RESULTS" >"$BENCH_DIR/results/latest.txt"
bench_log "done; table also in bench/results/latest.txt"
cat "$BENCH_DIR/results/latest.txt"
