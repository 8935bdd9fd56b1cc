# The background worker: committed writes reach Redis with no manual call
# (median latency over 200 transactions printed); prepared transactions
# deliver only after COMMIT PREPARED; SIGHUP with a new dumper.redis_url
# moves delivery to another Redis; the worker waits quietly before CREATE
# EXTENSION and survives DROP EXTENSION; SIGTERM does not wait out a long
# dumper.batch_delay.
use strict;
use warnings;
use File::Spec;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('worker', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
$node->start;

# Wait until the worker has gone through its loop again and again: each
# pass moves its pg_stat_activity.state_change (running, then idle), so
# $n changes seen mean at least $n / 2 - 1 whole passes since the call.
sub worker_passes
{
	my ($n) = @_;
	my $q = q{SELECT state_change FROM pg_stat_activity WHERE backend_type = 'dumper worker'};
	my $last = $node->safe_psql('postgres', $q);
	my $seen = 0;
	return DumperTest::wait_for(sub {
		my $now = $node->safe_psql('postgres', $q);
		$seen++ if $now ne $last;
		$last = $now;
		return $seen >= $n;
	}, interval => 0.02);
}

# The worker runs before CREATE EXTENSION and waits quietly.
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dumper worker'"),
	'the worker runs before CREATE EXTENSION');
my $log_before = -s $node->logfile;
ok(worker_passes(6), 'it goes on looking for the extension');
my $log_quiet = substr(slurp_file($node->logfile), $log_before);
# (log_statement = all logs this test's own queries: those lines aside)
is(join("\n", grep { /dumper/ && !/ statement: / } split /\n/, $log_quiet), '',
	'and logs nothing while the extension is missing');

$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/'] $$;
	SELECT dumper_register('icecream');
	INSERT INTO icecream SELECT g, 'flavour-' || g, 1 FROM generate_series(1, 300) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the worker begins once the extension exists');

# A persistent Redis connection speaking RESP, for polling without the cost
# of starting redis-cli each time.
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $redis->port)
  or die "cannot connect to redis: $!";
sub resp
{
	my @args = @_;
	print $sock '*' . scalar(@args) . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
	my $line = <$sock>;
	return $line =~ s/\r\n\z//r;
}

# 200 single-row transactions: each key disappears with no manual call.
# BackgroundPsql notes every query it sends and what psql answered, eight
# lines a query: while the loop runs, the notes go nowhere.
my $psql = $node->background_psql('postgres');
my @latency;
my $all_deleted = 1;
my $tap_out = Test::More->builder->output;
open(my $devnull, '>', File::Spec->devnull) or die "cannot open the null device: $!";
Test::More->builder->output($devnull);
for my $i (1 .. 200)
{
	my $key = "dumper:/icecream/flavour-$i/";
	resp('SET', $key, 'stamp');
	my $t0 = time;
	$psql->query_safe("UPDATE icecream SET price = price + 1 WHERE id = $i");
	my $deleted = 0;
	while (time - $t0 < 10)
	{
		if (resp('EXISTS', $key) eq ':0') { $deleted = 1; last; }
		usleep(200);
	}
	$all_deleted &&= $deleted;
	push @latency, (time - $t0) * 1000;
}
Test::More->builder->output($tap_out);
close($devnull);
ok($all_deleted, 'all 200 committed writes were delivered by the worker');
my @sorted = sort { $a <=> $b } @latency;
note(sprintf('commit-to-DEL latency over 200 transactions (from sending the UPDATE): '
	  . 'median %.2f ms, p90 %.2f ms, max %.2f ms',
	$sorted[99], $sorted[179], $sorted[199]));
diag(sprintf('worker latency: median %.2f ms over 200 single-row transactions', $sorted[99]));

# A marker write proves the worker has looked at the queue since a point in
# time: once its key is gone, every earlier commit was seen.
my $marker = 0;
sub worker_caught_up
{
	$marker++;
	resp('SET', "dumper:/marker/$marker", 'stamp');
	$node->safe_psql('postgres', "SELECT dumper_invalidate('/marker/$marker')");
	return DumperTest::wait_for(sub { resp('EXISTS', "dumper:/marker/$marker") eq ':0' },
		timeout => 20);
}

# Two-phase commit.
resp('SET', 'dumper:/icecream/flavour-250/', 'stamp');
$node->safe_psql('postgres', q{
	BEGIN; UPDATE icecream SET price = 0 WHERE id = 250; PREPARE TRANSACTION 'p1';
});
ok(worker_caught_up(), 'the worker ran after PREPARE');
is(resp('EXISTS', 'dumper:/icecream/flavour-250/'), ':1', 'a prepared transaction delivers nothing');
$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
ok(DumperTest::wait_for(sub { resp('EXISTS', 'dumper:/icecream/flavour-250/') eq ':0' }),
	'COMMIT PREPARED delivers');

resp('SET', 'dumper:/icecream/flavour-251/', 'stamp');
$node->safe_psql('postgres', q{
	BEGIN; UPDATE icecream SET price = 0 WHERE id = 251; PREPARE TRANSACTION 'p2';
	ROLLBACK PREPARED 'p2';
});
ok(worker_caught_up(), 'the worker ran after ROLLBACK PREPARED');
is(resp('EXISTS', 'dumper:/icecream/flavour-251/'), ':1', 'ROLLBACK PREPARED delivers nothing');

# SIGHUP with a new dumper.redis_url: later deliveries go to the second Redis.
my $redis2 = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
$node->safe_psql('postgres', "ALTER SYSTEM SET dumper.redis_url = '" . $redis2->url . "'");
$node->reload;
ok( DumperTest::wait_for(
		sub {
			$marker++;
			$redis2->cmd('SET', "dumper:/marker/$marker", 'stamp');
			$node->safe_psql('postgres', "SELECT dumper_invalidate('/marker/$marker')");
			DumperTest::wait_for(sub { $redis2->cmd('EXISTS', "dumper:/marker/$marker") eq '0' },
				timeout => 1);
		},
		timeout => 20),
	'after the reload the worker delivers to the second Redis');
resp('SET', 'dumper:/icecream/flavour-252/', 'stamp');
$redis2->cmd('SET', 'dumper:/icecream/flavour-252/', 'stamp');
$node->safe_psql('postgres', 'UPDATE icecream SET price = 5 WHERE id = 252');
ok(DumperTest::wait_for(sub { $redis2->cmd('EXISTS', 'dumper:/icecream/flavour-252/') eq '0' }),
	'a later write is delivered to the second Redis');
is(resp('EXISTS', 'dumper:/icecream/flavour-252/'), ':1', 'and not to the first');
$node->safe_psql('postgres', "ALTER SYSTEM RESET dumper.redis_url");
$node->reload;
ok(worker_caught_up(), 'and back to the first after another reload');

# dumper_stats shows the worker and its deliveries.
my $stats = $node->safe_psql('postgres', q{
	SELECT worker_pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'dumper worker'),
	       connection, paths_delivered >= 200, batches_delivered > 0, failures, pending_rows
	FROM dumper_stats});
is($stats, 't|connected|t|t|0|0', 'dumper_stats: worker pid, connected, counters, nothing pending');

# DROP EXTENSION: the worker survives and resumes after CREATE EXTENSION.
my $pid = $node->safe_psql('postgres', q{SELECT worker_pid FROM dumper_stats});
$node->safe_psql('postgres', q{DROP EXTENSION dumper});
ok(worker_passes(4), 'the worker goes on after DROP EXTENSION');
is($node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'dumper worker'"),
	$pid, 'the worker survives DROP EXTENSION');
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	SELECT dumper_register('icecream');
});
resp('SET', 'dumper:/icecream/flavour-253/', 'stamp');
$node->safe_psql('postgres', 'UPDATE icecream SET price = 6 WHERE id = 253');
ok(DumperTest::wait_for(sub { resp('EXISTS', 'dumper:/icecream/flavour-253/') eq ':0' }),
	'and delivers again after CREATE EXTENSION');

# SIGTERM during the pause after a batch of several rows: with
# dumper.batch_delay at its longest (1 s), the worker still ends within a
# slice of it.  A transaction whose paths fill several queue rows makes such
# a batch; the worker's state_change marks the pause's start (it goes idle
# right after the batch's commit).  A round where the signal went out late
# into the pause proves nothing and is run again.
$node->safe_psql('postgres', q{ALTER SYSTEM SET dumper.batch_delay = 1000});
$node->reload;
ok(worker_caught_up(), 'the worker runs with dumper.batch_delay = 1s');
my ($conclusive, $exit_secs, $late) = (0, undef, undef);
for my $round (1 .. 5)
{
	$node->safe_psql('postgres',
		"UPDATE icecream SET slug = 'flavour-' || id || '-' || repeat('x', 100) || '$round'");
	$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending')
	  or last;
	my ($wpid, $since_pause) = split /\|/, $node->safe_psql('postgres', q{
		SELECT pid, extract(epoch FROM clock_timestamp() - state_change), pg_terminate_backend(pid)
		FROM pg_stat_activity WHERE backend_type = 'dumper worker'});
	my $t0 = time;
	DumperTest::wait_for(sub {
		$node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $wpid") eq '0'
	}, interval => 0.01, timeout => 10);
	($exit_secs, $late) = (time - $t0, $since_pause);
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dumper worker'})
	  or last;
	if ($since_pause < 0.4) { $conclusive = 1; last; }
}
ok($conclusive, 'SIGTERM reached the worker early in its pause');
note(sprintf('signalled %.3f s into the pause, gone %.3f s later', $late // -1, $exit_secs // -1));
ok(defined $exit_secs && $exit_secs < 0.5,
	'and it ended without waiting out the rest of the 1 s pause');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET dumper.batch_delay});
$node->reload;

$psql->quit;
$node->stop;
$redis->stop;
$redis2->stop;
done_testing();
