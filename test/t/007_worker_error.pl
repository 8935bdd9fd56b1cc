# An error in the worker that is not Redis's (here a queue table altered
# under it; writers then refuse to queue) is reported, counted in dumper_stats and retried after a
# back-off; the worker does not crash (which would restart the whole
# cluster), and delivers everything once the cause is gone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('error', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/']);
});
my $worker_pid = $node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats');
like($worker_pid, qr/^\d+$/, 'the worker runs');

# The worker's access to the queue now fails: the table was altered (it
# reads and writes it by position, and checks its shape first).
$node->safe_psql('postgres', 'ALTER TABLE dumper.queue ADD COLUMN extra int');
$redis->cmd('SET', "dumper:/icecream/f$_/", 'stamp') for 1 .. 12;
my ($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO icecream VALUES (100, 'f100', 1)});
isnt($ret, 0, 'a write refuses to queue into the altered table');
like($err, qr/dumper's queue table "dumper.queue" has been altered/,
	'and says why');
# So the row to deliver is queued by hand.
$node->safe_psql('postgres', q{
	INSERT INTO dumper.queue (xid, enqueued_at, paths)
	SELECT pg_current_xact_id(), now(), array_agg('/icecream/f' || g || '/')
	FROM generate_series(1, 10) g});
ok($node->poll_query_until('postgres', q{SELECT failures > 0 FROM dumper_stats}),
	'the failure is counted');
like($node->safe_psql('postgres', 'SELECT last_error FROM dumper_stats'),
	qr/dumper's queue table "dumper.queue" has been altered/, 'dumper_stats shows the error');
like(slurp_file($node->logfile), qr/dumper worker could not deliver invalidations, retrying in \d+ ms/,
	'the log shows the retry');
unlike(slurp_file($node->logfile), qr/could not deliver invalidations to Redis/,
	'and does not blame Redis');
is($node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats'), $worker_pid,
	'the same worker process goes on');
unlike(slurp_file($node->logfile), qr/terminated by signal|server process .* was terminated/,
	'nothing crashed');

# Dropping the column repairs it (a dropped column is allowed).
$node->safe_psql('postgres', 'ALTER TABLE dumper.queue DROP COLUMN extra');
$node->safe_psql('postgres',
	q{INSERT INTO icecream SELECT g, 'f' || g, 1 FROM generate_series(11, 12) g});
ok(DumperTest::wait_for(sub {
		$redis->cmd('EXISTS', map { "dumper:/icecream/f$_/" } 1 .. 12) eq '0'
	}, timeout => 60),
	'once the table is repaired every path is delivered, old and new');
is($node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats'), $worker_pid,
	'by the same worker');

$node->stop;
$redis->stop;
done_testing();
