# Delivery over a unix socket, with and without a password: a real Redis
# listening on a socket, the worker pointed at it with unix:// URLs in each
# spelling of credentials redis-py accepts (user information before the
# path, "password=" in the query) and a database number.  A wrong password
# is a failure that keeps the path queued; the right one, in either place,
# delivers it to the database the URL names.  An ACL user named in the URL
# is the one that logs in.  The password never shows in dumper_stats.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(socket => 1);
my $sock = $redis->socket_path;
ok(-S $sock, 'Redis listens on a unix socket');

my $node = DumperTest::new_node('unix_socket', redis => "unix://$sock", preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '1s'" ]);
$node->start;
ok(DumperTest::icecream_table($node, 10), 'setup delivered over the socket');

my @auth;    # redis-cli's credentials, once the server wants some

# Set row $id's key in Redis database $db, update the row, and wait until
# the key is gone; returns whether it went.
sub delivered_to
{
	my ($db, $id) = @_;
	$redis->cmd(@auth, '-n', $db, 'SET', "dumper:/icecream/f$id/", 'stamp');
	$node->safe_psql('postgres', "UPDATE icecream SET price = price + 1 WHERE id = $id");
	return DumperTest::wait_for(
		sub { $redis->cmd(@auth, '-n', $db, 'EXISTS', "dumper:/icecream/f$id/") eq '0' },
		timeout => 40);
}

ok(delivered_to(0, 1), 'unix:///path: delivered to database 0');

# A password with characters that must be percent-encoded in a URL.
my $password = 's@cr/t&x';
my $encoded = 's%40cr%2Ft%26x';
$redis->cmd('CONFIG', 'SET', 'requirepass', $password);
@auth = ('-a', $password, '--no-auth-warning');
$redis->cmd(@auth, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');

# A wrong password: a failure, the path stays queued.
my $failures = $node->safe_psql('postgres', 'SELECT failures FROM dumper_stats');
DumperTest::set_redis_url($node, "unix://:wrong\@$sock");
$redis->cmd(@auth, 'SET', 'dumper:/icecream/f2/', 'stamp');
$node->safe_psql('postgres', 'UPDATE icecream SET price = price + 1 WHERE id = 2');
ok($node->poll_query_until('postgres', "SELECT failures > $failures FROM dumper_stats"),
	'a wrong password: the worker counts a failure');
ok(DumperTest::wait_for(
		sub { $node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats') =~ /WRONGPASS|invalid password/i },
		timeout => 40),
	'dumper_stats shows Redis\'s refusal')
  or diag($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'));
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '1',
	'the path stays queued');
is($redis->cmd(@auth, 'EXISTS', 'dumper:/icecream/f2/'), '1', 'its key is still there');

# The password in the user information, a database in the query: the
# queued path and a new one are delivered there.
DumperTest::set_redis_url($node, "unix://:$encoded\@$sock?db=2");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'unix://:password@/path?db=2: the queued path is delivered');
is($redis->cmd(@auth, 'EXISTS', 'dumper:/icecream/f2/'), '1',
	'to database 2: its key in database 0 is untouched');
ok(delivered_to(2, 3), 'unix://:password@/path?db=2: delivered to database 2');
unlike($node->safe_psql('postgres', 'SELECT concat_ws(\' \', connection, last_error) FROM dumper_stats'),
	qr/\Q$password\E|\Q$encoded\E|wrong/, 'the password never shows in dumper_stats');

# The password as a query parameter, after the database.
DumperTest::set_redis_url($node, "unix://$sock?db=3&password=$encoded");
ok(delivered_to(3, 4), 'unix:///path?db=3&password=...: delivered to database 3');

# An ACL user: the default user's password would not do, so delivery shows
# that the URL's user is the one that logs in.
$redis->cmd(@auth, 'ACL', 'SETUSER', 'writer', 'on', '>pw', '~*', '&*', '+@all');
DumperTest::set_redis_url($node, "unix://writer:pw\@$sock");
ok(delivered_to(0, 5), 'unix://user:password@/path: delivered as that ACL user');
like(join("\n", $redis->cmd(@auth, 'CLIENT', 'LIST')), qr/\buser=writer\b/,
	'the worker\'s connection is logged in as the ACL user');

unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'nothing crashed');

$node->stop;
$redis->stop;
done_testing();
