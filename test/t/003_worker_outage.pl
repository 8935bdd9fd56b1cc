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

# pgbench: 5,000 single-row UPDATE transactions on rows 1..500; returns the
# average latency in ms.
my $script = $node->basedir . '/update.sql';
append_to_file($script, "\\set id random(1, 500)\nUPDATE icecream SET price = price + 1 WHERE id = :id;\n");
sub writes
{
	my ($out, $err) = run_command([ 'pgbench', '-n', '-c', '2', '-j', '2', '-t', '2500',
			'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ]);
	like($out, qr/number of transactions actually processed: 5000\b/, 'pgbench committed 5,000 transactions');
	return $out =~ /latency average = ([0-9.]+) ms/ ? $1 : 'unknown';
}

my $up = writes();
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'with Redis up the queue drains');

set_keys_and_save(1 .. 500);
$redis->stop;
my $down = writes();
diag("5,000 writes, average latency: $up ms with Redis up, $down ms with Redis down");
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
my @left = grep { $redis->cmd('EXISTS', "dumper:/icecream/f$_/") eq '1' } 1 .. 500;
is(scalar(@left), 0, 'every key the outage writes touched is deleted');
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
