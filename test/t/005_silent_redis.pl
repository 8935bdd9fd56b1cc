# A "Redis" that accepts connections and never answers: every call of the
# worker is time-bounded (dumper.redis_timeout), the timeout shows in
# dumper_stats, nothing is lost, and SIGTERM stops the worker within a
# second even in the middle of a long wait for a reply.
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use DumperTest;

# The silent server: a child process that accepts and reads, never writes.
my $silent_port = PostgreSQL::Test::Cluster::get_free_port();
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $silent_port,
	Listen => 16, ReuseAddr => 1) or die "cannot listen on $silent_port: $!";
my $silent_pid = fork() // die "fork: $!";
if ($silent_pid == 0)
{
	my $sel = IO::Select->new($listener);
	for (;;)
	{
		for my $fh ($sel->can_read)
		{
			if ($fh == $listener)
			{
				my $client = $listener->accept;
				$sel->add($client) if $client;
			}
			elsif (!sysread($fh, my $buf, 65536))
			{
				$sel->remove($fh);
				close $fh;
			}
		}
	}
}
close $listener;
END { kill 'KILL', $silent_pid if $silent_pid; }

my $node = DumperTest::new_node('silent', redis => "redis://127.0.0.1:$silent_port/0",
	preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '500ms'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/'] $$;
	SELECT dumper_register('icecream');
	INSERT INTO icecream SELECT g, 'f' || g, 1 FROM generate_series(1, 20) g;
});

# The worker times out and says so.
ok($node->poll_query_until('postgres', q{SELECT failures >= 2 FROM dumper_stats}),
	'the worker times out and retries');
like($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'),
	qr/^Redis at 127\.0\.0\.1:$silent_port did not answer within 500 ms$/,
	'dumper_stats names the server and the timeout');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '20',
	'nothing is removed from the queue');
like(slurp_file($node->logfile), qr/did not answer within 500 ms/,
	'the server log shows the timeout');

# With a long timeout the worker waits for a reply that never comes ...
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET dumper.redis_timeout = '60s';
	SELECT pg_reload_conf();
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'dumper worker' AND state = 'active'
	   AND wait_event = 'Extension'
	   AND clock_timestamp() - state_change > interval '1 second'}),
	'the worker is waiting for Redis to answer');
my $pid = $node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats');
like($pid, qr/^\d+$/, 'dumper_stats shows the worker pid');

# ... and still honours SIGTERM at once.
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(DumperTest::wait_for(sub { !kill(0, $pid) }, timeout => 10, interval => 0.01),
	'the worker exits on SIGTERM');
my $elapsed = time - $t0;
diag(sprintf('worker stopped %.3f s after SIGTERM while waiting for a silent Redis', $elapsed));
cmp_ok($elapsed, '<', 1.0, 'within a second');
like(slurp_file($node->logfile), qr/terminating background worker "dumper worker"/,
	'the log records the termination');

# A real Redis, and the worker (restarted by the postmaster) delivers all.
my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
$redis->cmd('SET', "dumper:/icecream/f$_/", 'stamp') for 1 .. 20;
$node->safe_psql('postgres', "ALTER SYSTEM SET dumper.redis_url = '" . $redis->url . "'");
$node->safe_psql('postgres', 'ALTER SYSTEM RESET dumper.redis_timeout');
$node->reload;
ok(DumperTest::wait_for(sub {
		$redis->cmd('EXISTS', map { "dumper:/icecream/f$_/" } 1 .. 20) eq '0'
	}, timeout => 30),
	'once a real Redis is configured every pending path is delivered');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'and the queue drains');

$node->stop;
$redis->stop;
done_testing();
