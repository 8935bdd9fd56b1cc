# Redis misbehaving, against a real server: a wrong password, requirepass
# set while the worker is connected, an ACL user without DEL, a read-only
# replica, maxmemory exhausted, the connection killed with a pipeline in
# flight, and no answer within the timeout.  Each time the worker reports
# the error in dumper_stats, retries, loses nothing, and delivers once Redis
# is healthy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $port = $redis->port;
my $node = DumperTest::new_node('misbehaviour', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '1s'",
		"log_min_messages = debug1" ]);
my $retry_re = qr/dumper worker connects to Redis again after an error on its kept connection/;
$node->start;
ok(DumperTest::icecream_table($node, 100), 'setup delivered');

my @auth;    # redis-cli's credentials, once the server wants some

# Set the key of row $id, update the row, and return the failure count
# dumper_stats shows before the update.
sub write_row
{
	my ($id) = @_;
	$redis->cmd(@auth, 'SET', "dumper:/icecream/f$id/", 'stamp');
	my $failures = $node->safe_psql('postgres', 'SELECT failures FROM dumper_stats');
	$node->safe_psql('postgres', "UPDATE icecream SET price = price + 1 WHERE id = $id");
	return $failures;
}

# The worker fails with an error matching $re, keeps the path queued, and
# (after $fix) delivers it.
sub misbehaves
{
	my ($name, $id, $re, $fix) = @_;
	my $failures = write_row($id);
	ok($node->poll_query_until('postgres', "SELECT failures > $failures FROM dumper_stats"),
		"$name: the worker counts a failure");
	# (A first failure may be the dropped connection; the retry meets the
	# misbehaviour.)
	ok(DumperTest::wait_for(
			sub { $node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats') =~ $re },
			timeout => 40),
		"$name: dumper_stats shows the error")
	  or diag($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'));
	is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '1',
		"$name: the path stays queued");
	$fix->();
	ok(DumperTest::wait_for(sub { $redis->cmd(@auth, 'EXISTS', "dumper:/icecream/f$id/") eq '0' },
			timeout => 40),
		"$name: delivered once Redis is healthy");
	ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
		"$name: the queue drains");
}

# A wrong password in the URL.
$redis->cmd('CONFIG', 'SET', 'requirepass', 'right');
@auth = ('-a', 'right', '--no-auth-warning');
$redis->cmd(@auth, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
DumperTest::set_redis_url($node, "redis://:wrong\@127.0.0.1:$port/0");
misbehaves('wrong password', 1, qr/WRONGPASS|invalid password/i,
	sub { DumperTest::set_redis_url($node, "redis://:right\@127.0.0.1:$port/0") });
unlike($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'), qr/wrong|right/,
	'the password never shows in dumper_stats');

# requirepass set while the worker is connected without a password, and
# the connection dropped: the reconnection is refused.
$redis->cmd(@auth, 'CONFIG', 'SET', 'requirepass', '');
@auth = ();
DumperTest::set_redis_url($node, "redis://127.0.0.1:$port/0");
write_row(2);
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f2/') eq '0' }),
	'without a password the worker delivers');
$redis->cmd('CONFIG', 'SET', 'requirepass', 'later');
@auth = ('-a', 'later', '--no-auth-warning');
$redis->cmd(@auth, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
misbehaves('requirepass set later', 3, qr/NOAUTH|Authentication required/i,
	sub { DumperTest::set_redis_url($node, "redis://:later\@127.0.0.1:$port/0") });
$redis->cmd(@auth, 'CONFIG', 'SET', 'requirepass', '');
@auth = ();

# An ACL user that may not DEL.
$redis->cmd('ACL', 'SETUSER', 'limited', 'on', '>pw', '~*', '&*', '+@all', '-del');
DumperTest::set_redis_url($node, "redis://limited:pw\@127.0.0.1:$port/0");
misbehaves('ACL without DEL', 4, qr/NOPERM/,
	sub {
		$redis->cmd('ACL', 'SETUSER', 'limited', '+del');
		$node->reload;    # retry now rather than after the back-off
	});

# A read-only replica (of a master that does not exist).
DumperTest::set_redis_url($node, "redis://127.0.0.1:$port/0");
my $nowhere = PostgreSQL::Test::Cluster::get_free_port();
$redis->cmd('REPLICAOF', '127.0.0.1', $nowhere);
misbehaves('read-only replica', 5, qr/READONLY/,
	sub { $redis->cmd('REPLICAOF', 'NO', 'ONE'); $node->reload; });

# maxmemory exhausted: DEL frees memory, so Redis still accepts it.
$redis->cmd('SET', 'dumper:/icecream/f6/', 'stamp');
$redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
$redis->cmd('CONFIG', 'SET', 'maxmemory', '1');
like(join(' ', eval { $redis->cmd('SET', 'probe', 'x') } // $@), qr/OOM/,
	'Redis refuses writes: out of memory');
$node->safe_psql('postgres', 'UPDATE icecream SET price = price + 1 WHERE id = 6');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f6/') eq '0' }),
	'out of memory: invalidations are still delivered');
$redis->cmd('CONFIG', 'SET', 'maxmemory', '0');

# The connection killed while a pipeline waits for its replies: writes
# are paused in Redis, the worker's DELs wait, and its connection dies.  On
# a connection kept from earlier batches that is retried at once on a new
# one (no failure counted); killed again there, it is a failure.
write_row(7);
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f7/') eq '0' }),
	'the worker delivers before the pause');
$redis->cmd('SET', 'dumper:/icecream/f8/', 'stamp');
my $failures = $node->safe_psql('postgres', 'SELECT failures FROM dumper_stats');
$redis->cmd('CLIENT', 'PAUSE', '30000', 'WRITE');
$node->safe_psql('postgres', 'UPDATE icecream SET price = price + 1 WHERE id = 8');
sub del_waiting
{
	return scalar(grep { /cmd=del/ } $redis->cmd('CLIENT', 'LIST'));
}
sub client_ids
{
	return join(',', map { /\bid=(\d+)/ ? $1 : () } grep { !/cmd=client/ } $redis->cmd('CLIENT', 'LIST'));
}
ok(DumperTest::wait_for(\&del_waiting), 'the worker has sent its DEL and waits for the reply');
my $first = client_ids();
my $logpos = -s $node->logfile;
$redis->cmd('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
ok(DumperTest::wait_for(sub { del_waiting() && client_ids() ne $first }),
	'killed mid-pipeline on its kept connection: the worker sends again at once on a new one');
is($node->safe_psql('postgres', 'SELECT failures FROM dumper_stats'), $failures,
	'and counts no failure');
like(slurp_file($node->logfile, $logpos), $retry_re, 'its log says so (DEBUG1)');
$redis->cmd('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
$redis->cmd('CLIENT', 'UNPAUSE');
ok($node->poll_query_until('postgres', "SELECT failures > $failures FROM dumper_stats"),
	'killed again on the new connection: the worker counts a failure');
like($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'),
	qr/closed the connection|lost connection/, 'and says the connection was lost');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f8/') eq '0' },
		timeout => 40),
	'the path is delivered after the reconnection');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'and the queue drains');
# No answer within dumper.redis_timeout on the kept connection: a failure at
# once, without a second connection that would wait as long again.
write_row(9);
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f9/') eq '0' }),
	'the worker delivers on a kept connection again');
$redis->cmd('SET', 'dumper:/icecream/f10/', 'stamp');
$failures = $node->safe_psql('postgres', 'SELECT failures FROM dumper_stats');
$logpos = -s $node->logfile;
$redis->cmd('CLIENT', 'PAUSE', '30000', 'WRITE');
$node->safe_psql('postgres', 'UPDATE icecream SET price = price + 1 WHERE id = 10');
ok($node->poll_query_until('postgres', "SELECT failures > $failures FROM dumper_stats"),
	'no answer on the kept connection: the worker counts a failure');
like($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'),
	qr/did not answer within 1000 ms/, 'and says Redis did not answer in time');
unlike(slurp_file($node->logfile, $logpos), $retry_re,
	'without trying again at once on a new connection');
$redis->cmd('CLIENT', 'UNPAUSE');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/f10/') eq '0' },
		timeout => 40),
	'the path is delivered once Redis answers');

unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'nothing crashed');

$node->stop;
$redis->stop;
done_testing();
