# Redis outages and crashes: writes commit as fast with Redis down as up,
# nothing is lost, dumper_stats shows the failures and the recovery; after
# an immediate shutdown every committed invalidation is delivered and none
# from a transaction that was in flight.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('outage', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '500ms'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/'] $$;
	SELECT dumper_register('icecream');
	INSERT INTO icecream SELECT g, 'f' || g, 1 FROM generate_series(1, 1000) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'), 'setup delivered');

# Keys survive a Redis restart through an RDB snapshot taken before the
# outage, so the test can see them being deleted afterwards.
sub set_keys_and_save
{
	my @ids = @_;
	$redis->cmd('SET', "dumper:/icecream/f$_/", 'stamp') for @ids;
	$redis->cmd('SET', 'dumper:/untouched/', 'stamp');
	$redis->cmd('SAVE');
}

# pgbench: 5,000 single-row UPDATE transactions on rows 1..500, logging
# each transaction's latency; returns the median and the largest, in ms.
my $script = $node->basedir . '/update.sql';
append_to_file($script, "\\set id random(1, 500)\nUPDATE icecream SET price = price + 1 WHERE id = :id;\n");
my $round = 0;
sub writes
{
	my $prefix = $node->basedir . '/latency' . ++$round;
	my ($out, $err) = run_command([ 'pgbench', '-n', '-c', '2', '-j', '2', '-t', '2500',
			'-l', "--log-prefix=$prefix",
			'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ]);
	like($out, qr/number of transactions actually processed: 5000\b/, 'pgbench committed 5,000 transactions');
	# Log lines: client, transaction, latency in us, script, epoch, us.
	my @us = sort { $a <=> $b }
	  map { (split / /)[2] } map { split /\n/, slurp_file($_) } glob("$prefix.*");
	is(scalar(@us), 5000, 'pgbench logged every transaction');
	return ($us[$#us / 2] / 1000, $us[-1] / 1000);
}

my ($up, $up_max) = writes();
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'with Redis up the queue drains');

set_keys_and_save(1 .. 500, 600);
$redis->stop;
# The writes pick their rows at random: the rows they touched are those
# whose price moved (any row may be missed by chance; row 600 always is).
my $prices = q{SELECT string_agg(id || ':' || price, ',' ORDER BY id) FROM icecream WHERE id <= 500};
my %before = map { split /:/ } split /,/, $node->safe_psql('postgres', $prices);
my ($down, $down_max) = writes();
my %after = map { split /:/ } split /,/, $node->safe_psql('postgres', $prices);
my @touched = grep { $after{$_} != $before{$_} } 1 .. 500;
my @untouched = ((grep { $after{$_} == $before{$_} } 1 .. 500), 600);
cmp_ok(scalar(@touched), '>', 400, 'the outage writes touched most of the 500 rows');
diag(sprintf('5,000 writes, median latency %.3f ms with Redis up, %.3f ms with Redis down'
	  . ' (largest %.1f ms and %.1f ms)', $up, $down, $up_max, $down_max));
# Writers never talk to Redis: a writer waiting on the dead server would
# take dumper.redis_timeout (500 ms).  The margin keeps a busy machine's
# noise out of it.
cmp_ok($down, '<', 10 * $up + 5, 'the median write is not slowed by the outage');
cmp_ok($down_max, '<', 500, 'no write waited as long as dumper.redis_timeout');
ok($node->poll_query_until('postgres', q{SELECT failures > 0 AND connection = 'backing off' FROM dumper_stats}),
	'dumper_stats shows the failures and the back-off');
like($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'),
	qr/127\.0\.0\.1/, 'last_error names the server');
ok($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending') > 0,
	'the invalidations wait in the queue');

$redis->start;
is($redis->cmd('EXISTS', 'dumper:/untouched/'), '1', 'Redis came back with its keys');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the queue drains once Redis is back');
my @left = grep { $redis->cmd('EXISTS', "dumper:/icecream/f$_/") eq '1' } @touched;
is(scalar(@left), 0, 'every key the outage writes touched is deleted');
my @kept = grep { $redis->cmd('EXISTS', "dumper:/icecream/f$_/") eq '1' } @untouched;
is(scalar(@kept), scalar(@untouched), 'the keys of rows the outage writes missed stay');
is($redis->cmd('EXISTS', 'dumper:/untouched/'), '1', 'an unrelated key stays');
ok($node->poll_query_until('postgres',
	q{SELECT connection = 'connected' AND last_delivery_at > last_error_at FROM dumper_stats}),
	'dumper_stats shows the recovery');

# Crash: Redis down, committed work pending, one transaction in flight.
set_keys_and_save(501 .. 510, 900);
$redis->stop;
$node->safe_psql('postgres', 'UPDATE icecream SET price = 0 WHERE id BETWEEN 501 AND 510');
my $inflight = $node->background_psql('postgres', on_error_stop => 0);
$inflight->query_safe(q{BEGIN});
$inflight->query_safe(q{UPDATE icecream SET price = 0 WHERE id = 900});
$inflight->query_safe(q{SELECT dumper_invalidate('/in-flight/')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '10',
	'ten committed paths pending before the crash');
$node->stop('immediate');
$inflight->{run}->kill_kill;
$redis->start;
$node->start;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'after the crash the queue drains');
@left = grep { $redis->cmd('EXISTS', "dumper:/icecream/f$_/") eq '1' } 501 .. 510;
is(scalar(@left), 0, 'every committed invalidation is delivered after the crash');
is($redis->cmd('EXISTS', 'dumper:/icecream/f900/'), '1',
	'the in-flight transaction delivered nothing');
is($node->safe_psql('postgres', 'SELECT price FROM icecream WHERE id = 900'), '1',
	'(its write was rolled back by the crash)');

$node->stop;
$redis->stop;
done_testing();
