# The worker keeps its Redis connection between batches.  When Redis (its
# `timeout` setting, CLIENT KILL, a proxy) closes it while idle, the next
# batch (or refresh of the liveness key) is retried at once on a new
# connection: delivered without a failure and without the one-second
# back-off.  A real outage still counts (003).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('idle', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
$node->start;
ok(DumperTest::icecream_table($node, 10), 'setup delivered');

# Clients of Redis other than the redis-cli asking (CLIENT LIST shows itself).
sub other_clients
{
	return scalar(grep { !/cmd=client/ } $redis->cmd('CLIENT', 'LIST'));
}

# One write after Redis closed the worker's idle connection: its key goes
# without a failure being counted.
sub write_after_close
{
	my ($id, $how) = @_;
	$redis->cmd('SET', "dumper:/icecream/f$id/", 'stamp');
	$node->safe_psql('postgres', "UPDATE icecream SET price = price + 1 WHERE id = $id");
	ok($redis->wait_for(sub { $redis->cmd('EXISTS', "dumper:/icecream/f$id/") eq '0' }),
		"$how: the write is delivered");
	is($node->safe_psql('postgres', 'SELECT failures, connection FROM dumper_stats'),
		'0|connected', "$how: no failure counted, connected again");
}

is(other_clients(), 1, 'the worker holds one connection');
$redis->cmd('CLIENT', 'KILL', 'TYPE', 'normal');
ok($redis->wait_for(sub { other_clients() == 0 }), 'CLIENT KILL closed it');
write_after_close(1, 'after CLIENT KILL');

# The worker refreshes its liveness key every second, so its connection is
# idle longer than Redis's shortest timeout (1 s) only while it is stopped.
my $worker_pid = $node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats');
kill 'STOP', $worker_pid;
$redis->cmd('CONFIG', 'SET', 'timeout', '1');
my $closed = $redis->wait_for(sub { other_clients() == 0 }, timeout => 30);
kill 'CONT', $worker_pid;
ok($closed, "Redis's idle timeout closed the worker's connection");
write_after_close(2, 'after the idle timeout');
$redis->cmd('CONFIG', 'SET', 'timeout', '0');

$node->stop;
$redis->stop;
done_testing();
