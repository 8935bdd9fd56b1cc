#!/usr/bin/env bash
# test/run.sh: the test command.  Usage: bash test/run.sh [TEST...]
#
# Installs the packages it needs (test/lib.sh), builds and installs the
# extension (and test/c_paths when present), then, as the run user and from a
# copy of the repository in a temporary directory:
#   1. the pg_regress suites test/sql/*.sql and the isolation specs
#      test/specs/*.spec, each against a temporary instance configured with
#      shared_preload_libraries = 'dumper' (UTF8, C locale) and a throwaway
#      Redis whose port is also in DUMPER_TEST_REDIS_PORT; expected output
#      in expected/ or test/expected/ (pg_regress 15 reads the first, then
#      the second); isolation results land in output_iso/;
#   2. the TAP tests test/t/*.pl with prove (test/perl/DumperTest.pm starts
#      their own Redis servers and nodes).
# It counts every pg_regress/isolation test and every TAP subtest, and ends
# with the line "N passed, N failed".  Exit status 0 only when nothing failed
# and at least one test ran.
#
# TEST names pick tests to run: "basic", "test/sql/basic.sql",
# "001_worker", "test/t/001_worker.pl", a spec name...  Default: all.
# Set DUMPER_KEEP_TMP=1 to keep the temporary directory with every log.
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

regress=()
iso=()
tap=()
if [ $# -eq 0 ]; then
	regress=("${all_regress[@]}")
	iso=("${all_iso[@]}")
	tap=("${all_tap[@]}")
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

dt_install_packages
if ! dt_build_install "$repo"; then
	fail "build and install of the extension"
	exit 1
fi
if [ -d "$repo/test/c_paths" ] && ! dt_build_install "$repo/test/c_paths"; then
	fail "build and install of test/c_paths"
	exit 1
fi

dt_make_tmp
copy=$DT_TMP/src
dt_say "copying the repository to $copy"
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
	local file=$1 stage=$2 rc=$3 line name nfail=0
	while IFS= read -r line; do
		[[ $line =~ ^(test[[:space:]]+|[[:space:]]+)([^[:space:]]+)[[:space:]]+\.\.\.[[:space:]]+(ok|FAILED|failed\ \(ignored\)|diff:) ]] || continue
		name=${BASH_REMATCH[2]}
		case ${BASH_REMATCH[3]} in
		ok) pass ;;
		FAILED | diff:) fail "$stage $name"; nfail=$((nfail + 1)) ;;
		*) skipped=$((skipped + 1)) ;;
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
	dt_say "$stage: $*"
	dt_as_user env DUMPER_TEST_REDIS_PORT="$redis_port" "$driver" \
		--temp-instance="$DT_TMP/$stage-instance" --temp-config="$conf" \
		--bindir="$DT_PG_BIN" --inputdir=test --outputdir="$outdir" \
		--encoding=UTF8 --no-locale --dbname=contrib_regression "$@" \
		2>&1 | tee "$DT_TMP/$stage.out" || rc=$?
	count_regress "$DT_TMP/$stage.out" "$stage" "$rc"
	if [ "$rc" -ne 0 ]; then
		if [ -s "$outdir/regression.diffs" ]; then
			echo "---- $stage: regression.diffs"
			cat "$outdir/regression.diffs"
		fi
		# The server's log, or initdb's when the server never started.
		log=$outdir/log/postmaster.log
		[ -s "$log" ] || log=$outdir/log/initdb.log
		if [ -s "$log" ]; then
			echo "---- $stage: last lines of ${log#"$copy/"}"
			tail -n 50 "$log"
		fi
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
			fail "$name (died: see its log above)"
		fi
	fi
}

if [ ${#tap[@]} -gt 0 ]; then
	for t in "${tap[@]}"; do
		dt_say "TAP test/t/$t.pl"
		rc=0
		dt_as_user env -u TEMP_CONFIG -u LC_ALL LANG=C.UTF-8 \
			TESTDIR="$copy" PATH="$DT_PG_BIN:$PATH" \
			PG_REGRESS="$DT_PG_REGRESS" \
			PERL5LIB="$DT_PG_PERL:$copy/test/perl${PERL5LIB:+:$PERL5LIB}" \
			prove -v "test/t/$t.pl" 2>&1 | tee "$DT_TMP/tap-$t.out" || rc=$?
		count_tap "$DT_TMP/tap-$t.out" "$t" "$rc"
		if [ "$rc" -ne 0 ]; then
			for log in "$copy/tmp_check/log/regress_log_$t" "$copy/tmp_check/log/${t}"_*.log; do
				[ -f "$log" ] || continue
				echo "---- $t: last lines of ${log#"$copy/"}"
				tail -n 200 "$log"
			done
		fi
	done
fi

exit 0
