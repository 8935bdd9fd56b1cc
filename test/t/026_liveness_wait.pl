# The worker's side of freshness you can trust: the liveness key it keeps
# in Redis while connected and caught up (and deletes when it stops, and
# lets expire when it is stuck), the probe that ends its back-off as soon as
# Redis answers, dumper_wait() (read-your-writes) with its WARNING on
# timeout and cancel, and the loud warnings when no worker serves a
# database.
use strict;
use warnings;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('live', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '500ms'",
		"dumper.liveness_timeout = '2s'" ]);
$node->start;
ok(DumperTest::icecream_table($node, 100), 'setup delivered');
my $live = 'dumper:@live:postgres';

# ---- the liveness key -------------------------------------------------------
ok($redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '1' }),
	'the worker keeps the liveness key of its database');
my $worker_pid = $node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats');
like($redis->cmd('GET', $live), qr/^$worker_pid \d{13}$/, 'its value: the worker pid and the time');
my $pttl = $redis->cmd('PTTL', $live);
ok($pttl > 0 && $pttl <= 2000, "it expires within dumper.liveness_timeout (PTTL $pttl ms)");
# Refreshed while idle: still there after three lifetimes.
my $deadline = Time::HiRes::time() + 6;
my $always = 1;
while (Time::HiRes::time() < $deadline)
{
	$always = 0 if $redis->cmd('EXISTS', $live) ne '1';
	Time::HiRes::sleep(0.1);
}
ok($always, 'an idle worker refreshes it before it expires');
is($node->safe_psql('postgres', 'SELECT worker_database || serves_this_database::text FROM dumper_stats'),
	'postgrestrue', 'dumper_stats names the database the worker serves, and that it serves this one');

# A stuck worker's key expires: no web tier caches under it.
kill 'STOP', $worker_pid;
my $stopped = Time::HiRes::time();
my $gone = $redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '0' }, timeout => 10);
my $after = Time::HiRes::time() - $stopped;
kill 'CONT', $worker_pid;
ok($gone && $after <= 3, sprintf('a stuck worker\'s key expires (after %.1f s)', $after));
ok($redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '1' }), 'and comes back with the worker');

# ---- dumper_wait: read-your-writes -------------------------------------------
# Each round: a write, dumper_wait in the same session, then at once the
# path's key must be gone.
my $stale = 0;
for my $i (1 .. 20)
{
	$redis->cmd('SET', "dumper:/icecream/w$i/", 'stamp');
	my $t = $node->safe_psql('postgres', qq{
		UPDATE icecream SET slug = 'w$i' WHERE id = $i;
		SELECT dumper_wait(5000);});
	$stale++ if $t ne 't' || $redis->cmd('EXISTS', "dumper:/icecream/w$i/") ne '0';
}
is($stale, 0, 'after dumper_wait() returns, the session\'s invalidations are in Redis (20 rounds)');

# Redis down: the wait ends at its timeout with a WARNING, not an error.
$redis->stop;
my ($ret, $out, $err) = $node->psql('postgres', q{
	UPDATE icecream SET price = price + 1 WHERE id = 1;
	SELECT dumper_wait(300);});
is($ret . $out, '0f', 'dumper_wait() returns false when not delivered in time');
like($err, qr/WARNING:  dumper_wait: the invalidations of this session's commits were not delivered within 300 ms/,
	'with a WARNING');

# A cancel ends the wait with a WARNING; the statement succeeds.
{
	my ($bout, $berr) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  '-c', 'UPDATE icecream SET price = price + 1 WHERE id = 2',
		  '-c', 'SELECT dumper_wait(60000)' ],
		'<', \undef, '>', \$bout, '2>', \$berr);
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE query LIKE '%dumper_wait(60000)%' AND wait_event = 'Extension'}),
		'a session waits in dumper_wait');
	$node->safe_psql('postgres', q{
		SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE query LIKE '%dumper_wait(60000)%' AND pid <> pg_backend_pid()});
	my $t0 = Time::HiRes::time();
	$h->finish;
	cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'the cancel ends the wait');
	is($? >> 8, 0, 'the statement does not fail');
	is($bout, "f\n", 'dumper_wait() returns false');
	like($berr, qr/WARNING:  dumper_wait: canceled before/, 'with a WARNING');
	unlike($berr, qr/ERROR/, 'and no error');
}

# ---- the back-off probe -----------------------------------------------------
# Let the back-off grow to 8 s (failures after 1, 2, 4 s), then bring Redis
# back: delivery and the liveness key resume after a probe (every 250 ms),
# not when the back-off ends.
ok($node->poll_query_until('postgres', 'SELECT failures >= 4 FROM dumper_stats'),
	'the worker backs off longer and longer');
$redis->start;
$redis->cmd('SET', 'dumper:/icecream/back/', 'stamp');
my $t0 = Time::HiRes::time();
$node->safe_psql('postgres', q{UPDATE icecream SET slug = 'back' WHERE id = 3});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/back/') eq '0' }, timeout => 20),
	'a commit after Redis came back is delivered');
my $delay = Time::HiRes::time() - $t0;
diag(sprintf('delivered %.2f s after the commit, with 8 s of back-off left', $delay));
cmp_ok($delay, '<', 3, 'within a few probes, not after the back-off');
ok($redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '1' }), 'the liveness key is back');

# ---- deleted, not left to expire, when the worker stops or has nothing to serve
$node->safe_psql('postgres', q{ALTER SYSTEM SET dumper.liveness_timeout = '60s'});
$node->reload;
ok($redis->wait_for(sub { $redis->cmd('PTTL', $live) > 10000 }), 'a longer lifetime after a reload');
$node->safe_psql('postgres', q{
	DROP TABLE icecream;
	TRUNCATE dumper.queue, dumper.spill_queue;
	DROP EXTENSION dumper;});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '0' }, timeout => 5),
	'DROP EXTENSION: the key is deleted');
ok(DumperTest::icecream_table($node, 1), 'CREATE EXTENSION again');
ok($redis->wait_for(sub { $redis->cmd('EXISTS', $live) eq '1' }), 'the key is back');
$node->stop('fast');
is($redis->cmd('EXISTS', $live), '0', 'a clean shutdown deletes the key');

# ---- loud when nothing delivers ---------------------------------------------
my $bare = DumperTest::new_node('bare', redis => $redis, preload => 0);
$bare->start;
($ret, $out, $err) = $bare->psql('postgres', 'CREATE EXTENSION dumper');
like($err, qr/WARNING:  no dumper worker delivers the invalidations of database "postgres"\nDETAIL:  CREATE EXTENSION dumper: dumper is not in shared_preload_libraries/,
	'CREATE EXTENSION without shared_preload_libraries warns');
($ret, $out, $err) = $bare->psql('postgres', q{
	CREATE TABLE t (id int PRIMARY KEY, slug text);
	SELECT dumper_register('t', templates => ARRAY['/t/{slug}/']);});
like($err, qr/WARNING:  no dumper worker delivers.*\nDETAIL:  table "t" was registered: dumper is not in shared_preload_libraries/,
	'so does dumper_register');
is($bare->safe_psql('postgres', q{
	SELECT connection || ' ' || coalesce(worker_database, '-') || ' ' || serves_this_database::text
	FROM dumper_stats}), 'no worker - false', 'dumper_stats says no worker serves it');
($ret, $out, $err) = $bare->psql('postgres', q{
	INSERT INTO t VALUES (1, 'a');
	SELECT dumper_wait(100);});
is($out, 'f', 'dumper_wait() without a worker returns false');
like($err, qr/WARNING:  dumper_wait: no dumper worker delivers/, 'and warns');
$bare->stop;

done_testing();
