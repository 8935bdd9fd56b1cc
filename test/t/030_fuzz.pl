# The two parsers that read user input and are plain C -- the Redis URL
# (src/redis_url.c) and the path template (src/template_parse.c) -- survive
# a bounded libFuzzer run under AddressSanitizer and UndefinedBehaviorSanitizer,
# with the invariants test/fuzz/*.c check on every input (fields
# NUL-terminated within their sizes, a parsed URL re-parses identically from
# its canonical form, template tokens tile the input and match the parser
# template.c had before the split).  Both fuzzers run side by side, each for
# $ENV{DUMPER_FUZZ_SECONDS} seconds (default 60).
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{DUMPER_FUZZ_SECONDS} // 60;
my $out = PostgreSQL::Test::Utils::tempdir();

ok(run_log([ 'make', '-C', 'test/fuzz', "OUT=$out" ]),
	'the fuzzers build with clang -fsanitize=fuzzer,address,undefined')
  or BAIL_OUT('cannot build the fuzzers (clang and libclang-rt-dev are in test/lib.sh)');

# Start both fuzzers; new inputs go to a work corpus in $out, never into
# the seeds of the repository, and crashing inputs to $out/artifacts-NAME/.
my %run;
for my $name ('redis_url', 'template')
{
	mkdir "$out/work-$name" or die "mkdir: $!";
	mkdir "$out/artifacts-$name" or die "mkdir: $!";
	my $log = '';
	my @cmd = (
		"$out/fuzz_$name", "-max_total_time=$seconds",
		'-timeout=10', '-print_final_stats=1',
		"-dict=test/fuzz/$name.dict", "-artifact_prefix=$out/artifacts-$name/",
		"$out/work-$name", "test/fuzz/corpus/$name");
	note("running @cmd");
	$run{$name} = {
		log => \$log,
		h => IPC::Run::start(\@cmd, '<', \undef, '>&', \$log,
			IPC::Run::timeout($seconds + 120)),
	};
}

for my $name (sort keys %run)
{
	my $r = $run{$name};
	my $ok = eval { $r->{h}->finish; 1 };
	my $status = $ok ? $r->{h}->full_result(0) : -1;
	my $log = ${ $r->{log} };
	my ($runs, $secs) = $log =~ /^Done (\d+) runs in (\d+) second/m;
	my ($cov) = $log =~ /^#\d+\s+DONE\s+cov: (\d+)/m;
	my @artifacts = glob("$out/artifacts-$name/*");

	is($status, 0, "fuzz_$name exits with status 0" . ($ok ? '' : " (killed: $@)"));
	is(scalar(@artifacts), 0, "fuzz_$name leaves no crash, leak or timeout input")
	  or diag("artifacts: @artifacts");
	ok(defined $runs && $runs > 0, "fuzz_$name ran inputs");
	diag(sprintf('fuzz_%s: %s executions in %s s, coverage %s',
		$name, $runs // '?', $secs // '?', $cov // '?'));
	if ($status != 0 || @artifacts)
	{
		# The sanitizer's report and the fuzzer's last lines.
		my @lines = split /\n/, $log;
		splice(@lines, 0, @lines - 80) if @lines > 80;
		diag(join("\n", @lines));
	}
}

done_testing();
