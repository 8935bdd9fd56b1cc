# The pg_regress and isolation suites pass with every server process under
# valgrind's memcheck, and no valgrind error has a stack through dumper's
# code (test/memcheck.sh, which `make check-valgrind` also runs; it uses the
# dumper.so that test/run.sh installed).  About 80 s on 2 cores.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $out = '';
my $ok = IPC::Run::run([ 'bash', 'test/memcheck.sh', '--installed' ],
	'<', \undef, '>&', \$out, IPC::Run::timeout(900));
my $status = $? >> 8;
note($out);

my @stages = $out =~ /^==> (\w+) under valgrind:/mg;
my ($procs, $errors, $mine, $suppressed) = $out =~
  /^valgrind: (\d+) processes, (\d+) errors, (\d+) in dumper's code \((\d+) suppressed/m;
my ($secs) = $out =~ /^memcheck: .*, (\d+) s under valgrind$/m;

is_deeply(\@stages, [ 'regress', 'isolation' ],
	'pg_regress and pg_isolation_regress ran under valgrind');
unlike($out, qr/^test \S+\s+\.\.\. FAILED/m, 'every test passes under valgrind');
ok(defined $procs && $procs > 0, 'valgrind logged the server processes');
is($mine, 0, "no valgrind error in dumper's code");
is($status, 0, 'test/memcheck.sh exits with status 0');
diag(sprintf('valgrind: %s server processes, %s errors, %s in dumper\'s code; '
	  . '%s of PostgreSQL\'s own suppressed (test/valgrind.supp); %s s',
	$procs // '?', $errors // '?', $mine // '?', $suppressed // '?', $secs // '?'));
if (!$ok || ($mine // 1) > 0)
{
	# The errors, printed whole by test/memcheck.sh, and the diffs.
	diag($out);
}

done_testing();
