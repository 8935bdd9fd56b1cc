# PostgreSQL's single-user mode (postgres --single), the way in for repairs
# when the cluster will not start normally: no postmaster and no worker, so
# invalidations wait in dumper.queue, and dumper_deliver() must send them.
# Its Redis client must not wait for a postmaster that is not there (it
# did: "epoll_ctl() failed: Bad file descriptor").  Paths queued by the
# server before it stopped, during a Redis outage, and paths a write in the
# single-user session queues, are delivered by dumper_deliver() in that
# session; other keys stay.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('single', redis => $redis);
$node->start;
ok(DumperTest::icecream_table($node, 3), 'the rows are delivered');

# Redis goes away; a write commits and its paths wait in the queue.
$redis->stop;
$node->safe_psql('postgres', "UPDATE icecream SET slug = 'f1x' WHERE id = 1");
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper.queue'), '1',
	'the UPDATE is queued while Redis is down');
$node->stop;

$redis->start;
$redis->cmd('SET', "dumper:/icecream/$_/", 'page') for qw(f1 f1x f2 f3 f3y);

# One session: a write, then a delivery of everything pending, then a look.
my $in = join("\n",
	"UPDATE icecream SET slug = 'f3y' WHERE id = 3;",
	'SELECT dumper_deliver() AS delivered;',
	'SELECT count(*) AS left_over FROM dumper.queue;', '');
my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[ 'postgres', '--single', '-D', $node->data_dir, 'postgres' ],
	'<', \$in, '>', \$out, '2>', \$err);
ok($ok, 'the single-user session ends cleanly') or diag("$out\n$err");
unlike("$out\n$err", qr/ERROR|FATAL/, 'no error in the single-user session')
  or diag("$out\n$err");
like($out, qr/delivered = "4"/, 'dumper_deliver() sends the four paths')
  or diag($out);
like($out, qr/left_over = "0"/, 'nothing is left in the queue') or diag($out);

is($redis->cmd('EXISTS', "dumper:/icecream/$_/"), '0', "/icecream/$_/ is invalidated")
  for qw(f1 f1x f3 f3y);
is($redis->cmd('EXISTS', 'dumper:/icecream/f2/'), '1', '/icecream/f2/ stays');

$redis->stop;
done_testing();
