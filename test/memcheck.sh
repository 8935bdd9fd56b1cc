#!/usr/bin/env bash
# test/memcheck.sh: the pg_regress suites with every server process under
# valgrind's memcheck, failing on any error whose stacks pass through dumper.
# Usage: bash test/memcheck.sh [--installed] [TEST...]   (make check-valgrind)
#
# Like test/run.sh's first stage: builds and installs the extension (and
# test/c_paths), copies the repository to a temporary directory, starts a
# throwaway Redis, and runs pg_regress on test/sql/*.sql and
# pg_isolation_regress on test/specs/*.spec (or the TESTs named) against
# temporary instances with shared_preload_libraries = 'dumper' -- except
# that the postmaster is started by a wrapper, in a --bindir of symlinks,
# that runs it under valgrind.  Backends and the dumper worker are
# forks of it and so are checked too.  The installed dumper.so is the one
# checked: valgrind needs no special build.
#
# valgrind sees malloc'd memory only: palloc chunks inside a memory context
# block are not separate to it (PostgreSQL is not built with USE_VALGRIND),
# so what it finds in dumper's code is a read of uninitialised memory, an
# access to a context already deleted (SPI_finish, a reset loop context...),
# or a read past a malloc'd block (hiredis, libc).
#
# The verdict counts the errors whose stacks (the access, or where the block
# was allocated or freed) hold a function defined in dumper.so (from nm);
# the other errors are PostgreSQL's own, listed as a summary only, and
# test/valgrind.supp suppresses the known ones (valgrind -v counts each
# suppression used; the totals are printed).  Each error of dumper's is
# printed whole with a suppression for it.  Exit status 0 when pg_regress
# passed and no error is dumper's.
#
# AddressSanitizer was tried instead (dumper.so built with -fsanitize=address,
# libasan LD_PRELOADed into the postmaster): Debian's postgres 15 then hangs
# at start-up, even `postgres -V`, with gcc 12's libasan as with clang 14's
# runtime.  With gcc's, gdb shows it waiting in bindtextdomain on glibc's
# _nl_state_lock, whose reader count is already corrupt after the first
# bindtextdomain, called by libgpg-error's constructor.  valgrind needs
# neither a rebuild nor a preload.
#
# --installed: skip packages, build and install (a TAP test running after
# test/run.sh did them, as an unprivileged user).
# Environment: DUMPER_KEEP_TMP=1 keeps the temporary directory (every
# valgrind log is there, one per process: valgrind/PID.log);
# DUMPER_VALGRIND_OPTS adds valgrind options (--track-origins=yes, say).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/lib.sh
. "$repo/test/lib.sh"

installed=0
if [ "${1:-}" = --installed ]; then
	installed=1
	shift
fi
regress=()
iso=()
if [ $# -gt 0 ]; then
	for arg in "$@"; do
		name=${arg##*/}
		name=${name%.sql}
		name=${name%.spec}
		if [ -f "$repo/test/sql/$name.sql" ]; then
			regress+=("$name")
		elif [ -f "$repo/test/specs/$name.spec" ]; then
			iso+=("$name")
		else
			dt_err "no test named '$arg' in test/sql or test/specs"
			exit 2
		fi
	done
else
	for f in "$repo"/test/sql/*.sql; do
		[ ! -e "$f" ] || { f=${f##*/}; regress+=("${f%.sql}"); }
	done
	for f in "$repo"/test/specs/*.spec; do
		[ ! -e "$f" ] || { f=${f##*/}; iso+=("${f%.spec}"); }
	done
fi

if [ $installed -eq 0 ]; then
	dt_install_packages
	dt_build_install "$repo"
	[ ! -d "$repo/test/c_paths" ] || dt_build_install "$repo/test/c_paths"
fi
if ! command -v valgrind >/dev/null; then
	dt_err "valgrind is not installed (it is in DT_PACKAGES of test/lib.sh)"
	exit 1
fi
dumper_so=$("$DT_PG_CONFIG" --pkglibdir)/dumper.so
[ -f "$dumper_so" ] || { dt_err "$dumper_so is not installed"; exit 1; }

dt_make_tmp
copy=$DT_TMP/src
mkdir "$copy"
tar -C "$repo" --exclude=./.git --exclude=./results --exclude=./output_iso \
	--exclude=./tmp_check --exclude=./log --exclude='./regression.*' -cf - . |
	tar -C "$copy" -xf -
vglogs=$DT_TMP/valgrind
mkdir "$vglogs"

# The --bindir for pg_regress: initdb and psql as they are (symlinks, which
# they resolve to find the real postgres for initdb's bootstrap), and a
# postgres that is valgrind running the real one under its real path.
wrap=$DT_TMP/bin
mkdir "$wrap"
for f in "$DT_PG_BIN"/*; do
	ln -s "$f" "$wrap/${f##*/}"
done
rm "$wrap/postgres"
cat >"$wrap/postgres" <<EOF
#!/bin/sh
exec valgrind -v --tool=memcheck --leak-check=no --num-callers=40 \\
	--trace-children=no --error-limit=no --gen-suppressions=all \\
	--suppressions="$copy/test/valgrind.supp" \\
	--error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \\
	--log-file="$vglogs/%p.log" ${DUMPER_VALGRIND_OPTS:-} \\
	"$DT_PG_BIN/postgres" "\$@"
EOF
chmod 755 "$wrap/postgres"
dt_give "$copy" "$vglogs" "$wrap"

redis_port=""
dt_free_port redis_port
dt_redis_start "$DT_TMP/redis" "$redis_port"
conf=$DT_TMP/regress.conf
# Under valgrind: no JIT (LLVM is slow and noisy there), no huge pages.
dt_regress_conf "$conf" "$redis_port" "jit = off" "huge_pages = off"

# Run one pg_regress-like STAGE: DRIVER, OUTPUTDIR, then test names; the
# exit status goes to rc when it is not 0.
rc=0
run_stage() {
	local stage=$1 driver=$2 outdir=$3 src=0
	shift 3
	mkdir -p "$outdir"
	dt_give "$outdir"
	dt_say "$stage under valgrind: $*"
	(cd "$copy" && dt_as_user env DUMPER_TEST_REDIS_PORT="$redis_port" PGCTLTIMEOUT=300 \
		"$driver" --temp-instance="$DT_TMP/$stage-instance" --temp-config="$conf" \
		--bindir="$wrap" --inputdir=test --outputdir="$outdir" \
		--encoding=UTF8 --no-locale --dbname=contrib_regression "$@") || src=$?
	if [ $src -ne 0 ]; then
		rc=$src
		if [ -s "$outdir/regression.diffs" ]; then
			echo "---- $stage: regression.diffs"
			cat "$outdir/regression.diffs"
		fi
	fi
}

start=$(date +%s)
[ ${#regress[@]} -eq 0 ] || run_stage regress "$DT_PG_REGRESS" "$copy" "${regress[@]}"
[ ${#iso[@]} -eq 0 ] || run_stage isolation "$DT_PG_ISOLATION_REGRESS" "$copy/output_iso" "${iso[@]}"
dt_redis_stop "$DT_TMP/redis"

# Sort the errors: dumper's (any frame names a function of dumper.so) are
# printed whole, PostgreSQL's summarised by their first line and top frame.
nm --defined-only "$dumper_so" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sed 's/\..*//' |
	sort -u >"$DT_TMP/dumper-functions"
verdict=0
perl - "$DT_TMP/dumper-functions" "$vglogs"/*.log <<'PERL' || verdict=$?
use strict;
use warnings;

my ($funcfile, @logs) = @ARGV;
open my $fh, '<', $funcfile or die "$funcfile: $!";
my %ours = map { chomp; ($_ => 1) } <$fh>;
close $fh;

my ($total, $mine, $suppressed, %others, %supp) = (0, 0, 0);
my $procs = 0;
for my $log (@logs)
{
	open my $in, '<', $log or die "$log: $!";
	my $text = do { local $/; <$in> };
	close $in;
	$procs++;
	# valgrind -v lists the suppressions used, with their counts, at exit
	while ($text =~ /used_suppression:\s+(\d+) (\S+) \S*test\/valgrind\.supp:/g)
	{
		$suppressed += $1;
		$supp{$2} += $1;
	}
	while ($text =~ /VALGRINDERROR-BEGIN\n(.*?)VALGRINDERROR-END/sg)
	{
		my $err = $1;
		$err =~ s/^==\d+== ?//mg;
		$total++;
		my @frames = $err =~ /^\s+(?:at|by) 0x[0-9A-F]+: (\S+)/mg;
		if (grep { $ours{$_} } @frames)
		{
			$mine++;
			(my $pid = $log) =~ s{.*/(\d+)\.log$}{$1};
			print "---- valgrind error in dumper's code (process $pid)\n$err\n";
		}
		else
		{
			my ($first) = $err =~ /^(.*)$/m;
			my ($top) = grep { !/^(?:_?_?mem|str|malloc|free|realloc|calloc|write|send|__)/ } @frames;
			$others{"$first in " . ($top // '?')}++;
		}
	}
}
print "---- valgrind errors outside dumper's code (PostgreSQL, libraries):\n",
	map({ "  $others{$_} x $_\n" } sort keys %others) if %others;
print "---- suppressed by test/valgrind.supp:\n",
	map({ "  $supp{$_} x $_\n" } sort keys %supp) if %supp;
print "valgrind: $procs processes, $total errors, $mine in dumper's code",
	" ($suppressed suppressed by test/valgrind.supp)\n";
exit($mine > 0 ? 1 : 0);
PERL
echo "memcheck: pg_regress exit status $rc, $(($(date +%s) - start)) s under valgrind"
[ $rc -eq 0 ] && [ $verdict -eq 0 ]
