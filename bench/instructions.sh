# shellcheck shell=bash
# bench/instructions.sh: the instructions one backend executes per
# single-row UPDATE transaction, by variant; sourced by bench/run.sh.
#
# Why: CPU-bound throughput on a small shared machine swings by more than
# the distances this suite looks for (see bench/FINDINGS.md), and CPU time
# per transaction swings with it.  An instruction count does not: the same
# build on the same statements gives the same count to the instruction, so
# a change to the write path shows as a number, however busy the machine.
# It is not the throughput ratio: it leaves out pgbench, the walwriter, the
# kernel's side of each round trip, caches and dumper's worker, so it
# overstates every trigger's relative cost; it shows where the backend's
# own work goes.
#
# Method: a small cluster of its own (the bench schema, 100,000 rows in
# icecream, CPU-bound settings), copied fresh before every run, so each run
# starts from the same pages.  PostgreSQL's single-user mode runs one
# session in one process, under valgrind's callgrind: bench_use(variant),
# PREPARE of the pgbench UPDATE, then EXECUTE of it N times with ids from a
# fixed seed, each its own transaction.  The difference between the totals
# of N = BENCH_INSTR_SMALL and N = BENCH_INSTR_LARGE, over the difference
# of N, is the cost of one transaction: start-up, the variant's
# installation and shut-down cancel out.  In single-user mode no worker
# runs and the backend writes its WAL itself; the queue rows stay.
# Result lines: "instr.update.<variant> instructions_per_transaction".

BENCH_INSTR_SMALL=400
BENCH_INSTR_LARGE=1200

# Create the pristine cluster in $DT_TMP/instr/pristine, stopped.
bench__instr_cluster() {
	local dir=$DT_TMP/instr instr_port
	mkdir -p "$dir"
	dt_give "$dir"
	dt_free_port instr_port
	dt_pg_start "$dir/pristine" "$instr_port" \
		"shared_preload_libraries = 'dumper'" "dumper.database = 'bench'" \
		"dumper.redis_url = 'redis://127.0.0.1:$BENCH_REDIS_PORT/0'" \
		"shared_buffers = '128MB'" \
		"fsync = off" "synchronous_commit = off" "full_page_writes = off"
	bench_psql -p "$instr_port" -d postgres -c 'CREATE DATABASE bench'
	# The 1,000,000-row table of the bulk phase is not needed here.
	sed 's/generate_series(1, 1000000)/generate_series(1, 10)/' "$BENCH_DIR/setup.sql" |
		bench_psql -p "$instr_port" -d bench >/dev/null
	dt_pg_stop "$dir/pristine"
}

# Total instructions of one single-user run of VARIANT with N UPDATEs.
bench__instr_run() {
	local v=$1 n=$2 dir=$DT_TMP/instr
	{
		echo "SELECT bench_use('icecream', '$v')"
		# shellcheck disable=SC2016  # $1 is SQL's parameter
		echo 'PREPARE u(int) AS UPDATE icecream SET price = price + 1 WHERE id = $1'
		awk -v n="$n" 'BEGIN { srand(42); for (i = 0; i < n; i++)
			printf "EXECUTE u(%d)\n", 1 + int(rand() * 100000) }'
	} >"$dir/in.sql"
	rm -rf "$dir/work"
	(cd "$DT_TMP" && dt_as_user cp -a "$dir/pristine" "$dir/work") || return 1
	if ! (cd "$DT_TMP" && dt_as_user valgrind --tool=callgrind \
		--callgrind-out-file="$dir/callgrind.out" \
		"$DT_PG_BIN/postgres" --single -D "$dir/work" bench \
		<"$dir/in.sql" >"$dir/run.log" 2>&1); then
		dt_err "single-user run of $v under callgrind failed:"
		tail -20 "$dir/run.log" >&2
		return 1
	fi
	if grep -q 'ERROR:' "$dir/run.log"; then
		dt_err "single-user run of $v reported an error:"
		grep -m 5 'ERROR:' "$dir/run.log" >&2
		return 1
	fi
	sed -n 's/^summary: *//p' "$dir/callgrind.out"
}

# Measure the variants; one result line each.
bench_instructions_phase() {
	local v small large
	bench__instr_cluster
	for v in none cnoop sql sqlexpr templates notify queue; do
		small=$(bench__instr_run "$v" "$BENCH_INSTR_SMALL")
		large=$(bench__instr_run "$v" "$BENCH_INSTR_LARGE")
		bench_put "instr.update.$v" \
			"$(((large - small) / (BENCH_INSTR_LARGE - BENCH_INSTR_SMALL)))"
	done
	rm -rf "$DT_TMP/instr/work"
}
