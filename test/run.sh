#!/usr/bin/env bash
# test/run.sh: the test command.
# Usage: bash test/run.sh [--fast] [-j N] [--verbose] [TEST...]
#
# Two tiers:
#   bash test/run.sh          the full tier, what CI runs (.ci/run): every
#                             test below; about 15 minutes on 2 cores (868 s).
#   bash test/run.sh --fast   the fast tier, to run often (make check-fast):
#                             every pg_regress and isolation test and every
#                             TAP test but the slow ones listed in slow_tap
#                             below, with two TAP tests at a time; about 2
#                             to 2 1/2 minutes on 2 cores (122 s, 143 s
#                             with the build from clean).
#
# Installs the packages it needs (test/lib.sh), builds and installs the
# extension and test/c_paths, then, as the run user and from a copy of the
# repository in a temporary directory:
#   1. the pg_regress suites test/sql/*.sql and the isolation specs
#      test/specs/*.spec, each against a temporary instance configured with
#      shared_preload_libraries = 'dumper' (UTF8, C locale) and a throwaway
#      Redis whose port is also in DUMPER_TEST_REDIS_PORT; expected output
#      in expected/ or test/expected/ (pg_regress 15 reads the first, then
#      the second); isolation results land in output_iso/;
#   2. the TAP tests test/t/*.pl with prove (test/perl/DumperTest.pm starts
#      their own Redis servers and nodes).
# It prints one line per test (stage, name, result, seconds), and under a
# TAP test's line what it printed with diag (a measurement); for a test
# that failed, what shows why: the diffs and the server log's last lines, or
# the failed TAP subtests, its diagnostics and its logs' last lines.  It counts
# every pg_regress/isolation test and every TAP subtest, and ends with the
# line "N passed, N failed".  Exit status 0 only when nothing failed and at
# least one test ran.
#
# Options:
#   --fast      leave out the slow TAP tests (slow_tap below); no effect on
#               TESTs named
#   -j N        run N TAP tests at a time (default: 2 with --fast, else 1)
#   --verbose   print every log whole, passed tests' too
# TEST names pick tests to run: "basic", "test/sql/basic.sql",
# "001_worker", "test/t/001_worker.pl", a spec name...  Default: all.
# Set DUMPER_KEEP_TMP=1 to keep the temporary directory with every log;
# PG_CONFIG to test another PostgreSQL installation (test/lib.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

passed=0
failed=0
skipped=0
failures=()     # names of what failed, for the summary
redis_port=""   # the Redis of the pg_regress and isolation stages
conf=""         # their --temp-config file

# Record the outcome of one test (or of a stage that ran no test).
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); }

# Called by the EXIT trap after the servers are stopped: print the summary
# as the very last line, whatever happened before.
# shellcheck disable=SC2317  # called from the EXIT trap
dt_after_cleanup() {
	local rc=$1
	if [ "$rc" -gt 128 ]; then
		fail "test run interrupted by signal $((rc - 128))"
	elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		fail "test harness (exit status $rc)"
	fi
	echo
	if [ ${#failures[@]} -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
trap 'dt_after_cleanup $?; exit' EXIT   # dt_make_tmp installs the full trap

# ---- which tests -----------------------------------------------------------

# Sorted test names of DIR/*.EXT.
list_tests() {
	local f
	for f in "$repo/$1"/*."$2"; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%."$2"}"
	done | LC_ALL=C sort
}
mapfile -t all_regress < <(list_tests test/sql sql)
mapfile -t all_iso < <(list_tests test/specs spec)
mapfile -t all_tap < <(list_tests test/t pl)

# The full tier only: the TAP tests that take a minute or more, or load the
# machine for long (seconds from a full run on 2 cores, and what takes them).
slow_tap=(
	006_queue_bounded        # 65 s: 60 s of pgbench load
	009_load                 # 65 s: 16 pgbench clients for 60 s
	012_scan_hint            # 80-95 s: pgbench load and vacuums, scan by scan
	019_restore_orders       # 25-60 s: a dump restored in 500 orders
	024_django_freshness     # 40 s: the demo shop under gunicorn, over HTTP
	025_freshness_scenarios  # 170 s: 1,000 rounds of POST then GET, and more
	030_fuzz                 # 62 s: two fuzzers for 60 s each
	031_memcheck             # 190-210 s: every suite under valgrind
)

fast=0
jobs=""
verbose=0
while [ $# -gt 0 ]; do
	case $1 in
	--fast) fast=1 ;;
	-j)
		[ $# -ge 2 ] || { dt_err "-j needs a number"; exit 2; }
		jobs=$2
		shift
		;;
	-j*) jobs=${1#-j} ;;
	--verbose) verbose=1 ;;
	--) shift; break ;;
	-*) dt_err "unknown option $1 (usage: bash test/run.sh [--fast] [-j N] [--verbose] [TEST...])"; exit 2 ;;
	*) break ;;
	esac
	shift
done
if [ -z "$jobs" ]; then
	jobs=$((fast ? 2 : 1))
elif ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
	dt_err "-j needs a number of TAP tests to run at a time, not '$jobs'"
	exit 2
fi

regress=()
iso=()
tap=()
if [ $# -eq 0 ]; then
	regress=("${all_regress[@]}")
	iso=("${all_iso[@]}")
	for t in "${all_tap[@]}"; do
		if [ $fast -eq 1 ] && [[ " ${slow_tap[*]} " == *" $t "* ]]; then
			continue
		fi
		tap+=("$t")
	done
else
	for arg in "$@"; do
		name=${arg##*/}
		name=${name%.sql}
		name=${name%.spec}
		name=${name%.pl}
		name=${name%.out}
		found=0
		for t in "${all_regress[@]}"; do [ "$t" != "$name" ] || { regress+=("$t"); found=1; }; done
		for t in "${all_iso[@]}"; do [ "$t" != "$name" ] || { iso+=("$t"); found=1; }; done
		for t in "${all_tap[@]}"; do [ "$t" != "$name" ] || { tap+=("$t"); found=1; }; done
		if [ $found -eq 0 ]; then
			dt_err "no test named '$arg' in test/sql, test/specs or test/t"
			exit 2
		fi
	done
fi

# ---- packages, build -------------------------------------------------------

# Print one line of the report: STAGE NAME RESULT SECONDS [NOTE].
report() {
	printf '%-10s %-28s %-7s %6s s%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"
}

# Seconds since the $EPOCHREALTIME T0, with one decimal.
since() {
	local now=$EPOCHREALTIME
	awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

# Print the last N lines of FILE under a title, when it is not empty.
show_tail() {
	local n=$1 file=$2 title=$3
	[ -s "$file" ] || return 0
	echo "---- $title"
	tail -n "$n" "$file"
}

t_start=$EPOCHREALTIME
tier=full
[ $fast -eq 0 ] || tier=fast
[ $# -eq 0 ] || tier=chosen
dt_say "dumper tests ($tier: ${#regress[@]} pg_regress, ${#iso[@]} isolation, ${#tap[@]} TAP) with $DT_PG_CONFIG"
dt_install_packages
dt_make_tmp
if [ "${DUMPER_KEEP_TMP:-0}" = 1 ]; then dt_say "logs in $DT_TMP"; fi

# Build and install DIR, its output in the log NAME; one report line.
build() {
	local dir=$1 name=$2 t0=$EPOCHREALTIME log=$DT_TMP/build-${2//\//_}.log
	if dt_build_install "$dir" >"$log" 2>&1; then
		report build "$name" ok "$(since "$t0")"
		[ $verbose -eq 0 ] || cat "$log"
	else
		report build "$name" FAILED "$(since "$t0")"
		show_tail 60 "$log" "build of $name: last lines of its output"
		fail "build and install of $name"
		exit 1
	fi
}
build "$repo" dumper
build "$repo/test/c_paths" test/c_paths

copy=$DT_TMP/src
mkdir "$copy"
tar -C "$repo" --exclude=./.git --exclude=./results --exclude=./output_iso \
	--exclude=./tmp_check --exclude=./log --exclude='./regression.*' -cf - . |
	tar -C "$copy" -xf -
dt_give "$copy"
cd "$copy"

# ---- pg_regress and isolation ----------------------------------------------

# Count the "test NAME ... ok|FAILED" lines of pg_regress output in FILE;
# STAGE names the stage in failure messages.  When pg_regress failed without
# reporting a failed test (it could not start, say), that is one failure.
count_regress() {
	local file=$1 stage=$2 rc=$3 line name result ms secs nfail=0
	while IFS= read -r line; do
		[[ $line =~ ^(test[[:space:]]+|[[:space:]]+)([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+(ok|FAILED|failed\ \(ignored\)|diff:)[[:space:]]*([0-9]+)?[[:space:]]*(ms)? ]] || continue
		name=${BASH_REMATCH[2]}
		result=${BASH_REMATCH[3]}
		ms=${BASH_REMATCH[4]:-0}
		secs=$(awk -v m="$ms" 'BEGIN { printf "%.1f", m / 1000 }')
		case $result in
		ok) pass; report "$stage" "$name" ok "$secs" ;;
		FAILED | diff:) fail "$stage $name"; nfail=$((nfail + 1)); report "$stage" "$name" FAILED "$secs" ;;
		*) skipped=$((skipped + 1)); report "$stage" "$name" ignored "$secs" ;;
		esac
	done <"$file"
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		fail "$stage (pg_regress exit status $rc)"
	fi
}

# True when test T has an expected output, in expected/ or test/expected/
# (T.out, or an alternative T_N.out).
has_expected() {
	local d
	for d in "$copy/expected" "$copy/test/expected"; do
		compgen -G "$d/$1.out" >/dev/null && return 0
		compgen -G "$d/$1_[0-9].out" >/dev/null && return 0
	done
	return 1
}

# Run one pg_regress-like STAGE: DRIVER, OUTPUTDIR, then test names.
run_regress_stage() {
	local stage=$1 driver=$2 outdir=$3 rc=0 t log
	shift 3
	mkdir -p "$outdir"
	# PostgreSQL 15's pg_regress stops at the first test without an expected
	# file; an empty one lets the others run and shows the whole output.
	for t in "$@"; do
		if ! has_expected "$t"; then
			echo "note: no expected output for $t: $stage shows its whole output as a diff"
			mkdir -p "$copy/test/expected"
			: >"$copy/test/expected/$t.out"
		fi
	done
	# pg_regress reads OUTPUTDIR/expected, then test/expected (--inputdir).
	if [ -d "$copy/expected" ] && [ ! -e "$outdir/expected" ]; then
		ln -s "$copy/expected" "$outdir/expected"
	fi
	dt_give "$outdir"
	dt_as_user env DUMPER_TEST_REDIS_PORT="$redis_port" "$driver" \
		--temp-instance="$DT_TMP/$stage-instance" --temp-config="$conf" \
		--bindir="$DT_PG_BIN" --inputdir=test --outputdir="$outdir" \
		--encoding=UTF8 --no-locale --dbname=contrib_regression "$@" \
		>"$DT_TMP/$stage.out" 2>&1 || rc=$?
	[ $verbose -eq 0 ] || cat "$DT_TMP/$stage.out"
	count_regress "$DT_TMP/$stage.out" "$stage" "$rc"
	if [ "$rc" -ne 0 ]; then
		# The diffs, or pg_regress's own words when there are none (why it
		# stopped); the server's log, or initdb's when it never started.
		if [ -s "$outdir/regression.diffs" ]; then
			echo "---- $stage: regression.diffs"
			cat "$outdir/regression.diffs"
		elif [ $verbose -eq 0 ]; then
			show_tail 20 "$DT_TMP/$stage.out" "$stage: last lines of pg_regress's output"
		fi
		log=$outdir/log/postmaster.log
		[ -s "$log" ] || log=$outdir/log/initdb.log
		show_tail 50 "$log" "$stage: last lines of ${log#"$copy/"}"
	fi
}

if [ $((${#regress[@]} + ${#iso[@]})) -gt 0 ]; then
	dt_free_port redis_port
	dt_redis_start "$DT_TMP/redis" "$redis_port"
	conf=$DT_TMP/regress.conf
	dt_regress_conf "$conf" "$redis_port"
	if [ ${#regress[@]} -gt 0 ]; then
		run_regress_stage regress "$DT_PG_REGRESS" "$copy" "${regress[@]}"
	fi
	if [ ${#iso[@]} -gt 0 ]; then
		run_regress_stage isolation "$DT_PG_ISOLATION_REGRESS" "$copy/output_iso" "${iso[@]}"
	fi
	dt_redis_stop "$DT_TMP/redis"
fi

# ---- TAP --------------------------------------------------------------------

# Count the top-level TAP lines of one prove -v run in FILE for test NAME.
# "ok" passes, "not ok" fails, "# skip" and "# TODO" are skipped; a test
# file that died, or ran fewer tests than planned, is one more failure.
count_tap() {
	local file=$1 name=$2 rc=$3 line notok nfail=0
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+ ]]; then
			notok=${BASH_REMATCH[1]:-}
			if [[ $line =~ \#\ *(skip|SKIP|TODO|todo) ]]; then
				skipped=$((skipped + 1))
			elif [ -n "$notok" ]; then
				fail "$name: $line"
				nfail=$((nfail + 1))
			else
				pass
			fi
		elif [[ $line =~ ^1\.\.0\ *\#\ *[Ss]kip ]]; then
			skipped=$((skipped + 1))
		fi
	done <"$file"
	if [ "$rc" -ne 0 ]; then
		if [ "$nfail" -eq 0 ] ||
			grep -qE 'test returned 255|Bad plan|No plan found|Bailout called|No subtests run' "$file"; then
			fail "$name (died: see its diagnostics above)"
		fi
	fi
}

# Run TAP test T in the background: prove -v's output in tap-T.out, the
# test's diagnostics (Test::More's diag, a die's message) in tap-T.err and,
# when it ends, "EXIT-STATUS SECONDS" in tap-T.done.
start_tap() {
	local t=$1
	(
		t0=$EPOCHREALTIME
		rc=0
		dt_as_user env -u TEMP_CONFIG -u LC_ALL LANG=C.UTF-8 \
			TESTDIR="$copy" PATH="$DT_PG_BIN:$PATH" \
			PG_REGRESS="$DT_PG_REGRESS" \
			PERL5LIB="$DT_PG_PERL:$copy/test/perl${PERL5LIB:+:$PERL5LIB}" \
			prove -v "test/t/$t.pl" >"$DT_TMP/tap-$t.out" 2>"$DT_TMP/tap-$t.err" </dev/null ||
			rc=$?
		echo "$rc $(since "$t0")" >"$DT_TMP/tap-$t.done"
	) &
	tap_pid[$t]=$!
}

# Wait for TAP test T, then count and report it; when it failed, show its
# failed subtests, its diagnostics and the last lines of its logs.
finish_tap() {
	local t=$1 rc secs before=$failed log nsub
	wait "${tap_pid[$t]}" || true
	read -r rc secs <"$DT_TMP/tap-$t.done" || { rc=1; secs=0; }
	[ $verbose -eq 0 ] || cat "$DT_TMP/tap-$t.err" "$DT_TMP/tap-$t.out"
	count_tap "$DT_TMP/tap-$t.out" "$t" "$rc"
	nsub=$(grep -cE '^(not )?ok [0-9]+' "$DT_TMP/tap-$t.out" || true)
	if [ "$failed" -eq "$before" ]; then
		report TAP "$t" ok "$secs" "($nsub subtests)"
		# What the test chose to print with diag (a measurement, a line or
		# two: the docs quote some), indented under its line.
		[ $verbose -eq 1 ] || sed 's/^/           /' "$DT_TMP/tap-$t.err"
		return 0
	fi
	report TAP "$t" FAILED "$secs" "($nsub subtests)"
	[ $verbose -eq 1 ] && return 0
	echo "---- $t: failed subtests"
	grep -E '^not ok [0-9]+' "$DT_TMP/tap-$t.out" || echo "(none: it died, or ran fewer than planned)"
	show_tail 60 "$DT_TMP/tap-$t.err" "$t: its diagnostics"
	show_tail 100 "$copy/tmp_check/log/regress_log_$t" "$t: last lines of tmp_check/log/regress_log_$t"
	for log in "$copy/tmp_check/log/${t}"_*.log; do
		show_tail 50 "$log" "$t: last lines of ${log#"$copy/"}"
	done
}

# Run the TAP tests, $jobs at a time, reporting them in order.
if [ ${#tap[@]} -gt 0 ]; then
	declare -A tap_pid=()
	next=0
	for ((i = 0; i < ${#tap[@]}; i++)); do
		while [ "$next" -lt "${#tap[@]}" ] && [ $((next - i)) -lt "$jobs" ]; do
			start_tap "${tap[$next]}"
			next=$((next + 1))
		done
		finish_tap "${tap[$i]}"
	done
fi

echo "($tier tier: $(since "$t_start") s)"
exit 0
