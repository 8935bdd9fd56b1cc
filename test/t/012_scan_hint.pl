# The worker's scan starts where writers committed and where it left rows
# behind, not at the queue's first block (deliver.c).  With dumper.naptime
# at an hour, no periodic full scan can hide a row that this misses: under
# pgbench load, with VACUUM of the queue recording free space in its early
# blocks (so that new rows land there), a small dumper.batch_size (scans
# stop part-way) and sessions that claim rows with dumper_deliver() and
# roll back, every committed path must still be delivered, promptly.  Then
# the worker is made to scan while a session holds its claim on the only
# pending row: after the session rolls back, the worker must look again
# by itself (no commit wakes it).  Then VACUUM FULL moves a pending row
# from the block its writer hinted to block 0 before the worker looks: the
# worker must notice the table's new file and scan it whole.  (Autovacuum
# is off so that, the queue's free space unrecorded, that row is written at
# its end.)  Then one transaction's rows spread over more blocks than a
# commit marks one by one: its hint is every block from its first on, and
# a batch large enough to take them all in one scan must find the last.
# Last of all, a prepared transaction is delivered as soon as COMMIT
# PREPARED has committed it: its rows are in the spill queue (a prepared
# transaction holds its lock on the table it wrote, which dumper.queue's
# rotation needs free), and the worker reads that small table and no block
# of dumper.queue, as recorded at PREPARE, or, after a restart, everything.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $seconds = $ENV{DUMPER_HINT_SECONDS} // 8;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('hint', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '1h'", 'dumper.batch_size = 7', 'autovacuum = off',
		"dumper.publish_channel = 'invalidated'", "log_statement = 'none'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE item (id bigserial PRIMARY KEY, n int NOT NULL);
	SELECT dumper_register('item', templates => ARRAY['/item/{id}/']);
});

my ($subscriber, $published) = $redis->record('invalidated');

# The worker's first batch scans the whole queue; every later one relies on
# the hints until the hour has passed.
$node->safe_psql('postgres', 'INSERT INTO item (n) VALUES (0)');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the first row is delivered');

my $script = $node->basedir . '/insert.sql';
append_to_file($script, "INSERT INTO item (n) VALUES (1);\n");
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds,
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);

# Meanwhile: VACUUM the queue, and claim rows in a transaction that rolls
# back (its DELs reach Redis; the rows go back to the queue).
my ($vacuums, $rollbacks) = (0, 0);
while ($pgbench->pumpable)
{
	$node->safe_psql('postgres', 'VACUUM dumper.queue');
	$vacuums++;
	$node->safe_psql('postgres', q{
		BEGIN;
		SELECT dumper_deliver(20);
		SELECT pg_sleep(0.05);
		ROLLBACK;
	});
	$rollbacks++;
	$pgbench->pump_nb;
}
$pgbench->finish;
my ($committed) = $out =~ /number of transactions actually processed: (\d+)/;
ok(defined $committed && $committed > 0, 'pgbench committed transactions')
  or diag($out . $err);
diag("$committed inserts in $seconds s, $vacuums vacuums of the queue, "
	  . "$rollbacks rolled-back dumper_deliver() calls");

ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'every committed row is delivered without a periodic full scan');

my $last = $node->safe_psql('postgres', 'SELECT max(id) FROM item');
my ($appeared, undef, $missing) =
  DumperTest::published_items($node, $subscriber, $published, $last);
ok($appeared, 'the last row\'s path was published');
is(scalar(@$missing), 0, 'every committed row\'s path was published')
  or diag("missing, first ones: @$missing[0 .. ($#$missing < 9 ? $#$missing : 9)]");

# A row claimed by a session while the worker scans: stop the worker, queue
# the row, claim it, let the worker look, roll the claim back.
my $worker = $node->safe_psql('postgres', 'SELECT worker_pid FROM dumper_stats');
ok($worker > 0, 'the worker runs');
kill 'STOP', $worker;
$redis->cmd('SET', 'dumper:/item/claimed/', 'stamp');
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO item (n) VALUES (2);
	SELECT dumper_invalidate('/item/claimed/');
	COMMIT;
});
my $claimer = $node->background_psql('postgres');
$claimer->query_safe('BEGIN');
is($claimer->query_safe('SELECT dumper_deliver()'), '2',
	'a session claims the pending row (two paths)');
my $before = $node->safe_psql('postgres',
	"SELECT state_change FROM pg_stat_activity WHERE pid = $worker");
kill 'CONT', $worker;
ok($node->poll_query_until('postgres', qq{
		SELECT state = 'idle' AND state_change > '$before'
		FROM pg_stat_activity WHERE pid = $worker}),
	'the worker looked at the queue while the row was claimed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '2',
	'the worker left the claimed row\'s two paths alone');
# The session's DEL reached Redis: set the key again before giving the row
# back, since the worker may deliver it at once.
$redis->cmd('SET', 'dumper:/item/claimed/', 'stamp');
$claimer->query_safe('ROLLBACK');
$claimer->quit;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the worker delivers the row the session gave back');
is($redis->cmd('EXISTS', 'dumper:/item/claimed/'), '0', 'its key is deleted');

# A pending row moved by VACUUM FULL: start from a fresh file (no free
# space recorded, so a new session writes into the last block), queue rows
# with the worker stopped until the queue spans several blocks, let the
# worker deliver them, stop it again, queue one more, rewrite the table.
$node->safe_psql('postgres', 'VACUUM FULL dumper.queue');
kill 'STOP', $worker;
$node->safe_psql('postgres', "SELECT dumper_invalidate('/filler/$_/' || repeat('x', 200))")
  for 1 .. 100;
kill 'CONT', $worker;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the filler is delivered');
kill 'STOP', $worker;
$redis->cmd('SET', 'dumper:/item/moved/', 'stamp');
$node->safe_psql('postgres', q{SELECT dumper_invalidate('/item/moved/')});
my $block = $node->safe_psql('postgres',
	q{SELECT (ctid::text::point)[0]::int FROM dumper.queue});
cmp_ok($block, '>', 0, 'the pending row is past the first block');
$node->safe_psql('postgres', 'VACUUM FULL dumper.queue');
is($node->safe_psql('postgres', q{SELECT (ctid::text::point)[0]::int FROM dumper.queue}),
	'0', 'VACUUM FULL moved it to the first block');
kill 'CONT', $worker;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the worker finds the moved row in the new file');
is($redis->cmd('EXISTS', 'dumper:/item/moved/'), '0', 'its key is deleted');

# One transaction invalidating 200 paths of 1 kB under prefix, queued over
# more blocks than a commit marks one by one.
sub invalidate_wide
{
	my ($prefix) = @_;
	$node->safe_psql('postgres', qq{
		SELECT count(dumper_invalidate('$prefix' || g || '/' || repeat('x', 1000)))
		FROM generate_series(1, 200) g});
}

# One transaction's rows over many blocks (shmem.c marks up to 8 one by
# one): with batches large enough not to stop part-way, nothing but the
# hint's "every block from the first on" leads the worker to the last one.
$node->append_conf('postgresql.conf', 'dumper.batch_size = 100000');
$node->reload;
kill 'STOP', $worker;
$redis->cmd('SET', "dumper:/wide/$_/" . ('x' x 1000), 'stamp') for (1, 200);
invalidate_wide('/wide/');
cmp_ok($node->safe_psql('postgres',
		q{SELECT count(DISTINCT (ctid::text::point)[0]) FROM dumper.queue}),
	'>', 8, 'one transaction\'s rows span more than 8 blocks');
kill 'CONT', $worker;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the worker delivers every block of the wide transaction');
is($redis->cmd('EXISTS', "dumper:/wide/1/" . ('x' x 1000)), '0', 'its first key is deleted');
is($redis->cmd('EXISTS', "dumper:/wide/200/" . ('x' x 1000)), '0', 'and its last');

# Prepare a transaction gid that invalidates path, whose key is set first.
sub prepare_path
{
	my ($gid, $path) = @_;
	$redis->cmd('SET', "dumper:$path", 'stamp');
	$node->safe_psql('postgres', qq{
		BEGIN;
		SELECT dumper_invalidate('$path');
		PREPARE TRANSACTION '$gid';
	});
}

# A prepared transaction: its writer's commit callback never runs, so
# COMMIT PREPARED, from another session, must wake the worker itself.
prepare_path('p1', '/item/prepared/');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '1',
	'a transaction is prepared');
is($redis->cmd('EXISTS', 'dumper:/item/prepared/'), '1', 'nothing is delivered before its commit');
$node->safe_psql('postgres', q{COMMIT PREPARED 'p1'});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/item/prepared/') eq '0' }),
	'COMMIT PREPARED wakes the worker: delivered without a periodic full scan');

# COMMIT PREPARED hints the spill queue its transaction wrote into,
# recorded at PREPARE (twophase.c): the worker reads it, and not the queue.
# Each batch says at DEBUG2 how many blocks it read.  First a queue of many
# blocks, all delivered (a new file, then one wide transaction); then, to
# show that ROLLBACK PREPARED frees its record, more prepared transactions
# rolled back than the table has slots (max_prepared_transactions = 10).
$node->append_conf('postgresql.conf', 'log_min_messages = debug2');
$node->reload;

# The worker reloads when it next wakes: write until one of its batches logs.
my $logged = 0;
for my $try (1 .. 50)
{
	my $pos = -s $node->logfile;
	$node->safe_psql('postgres', q{SELECT dumper_invalidate('/item/probe/')});
	last unless $node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending');
	$logged = slurp_file($node->logfile, $pos) =~ /dumper read \d+ of the \d+ blocks of its queue/;
	last if $logged;
}
ok($logged, 'the worker logs how many blocks each batch read (DEBUG2)');

# The (read, of) pairs of the batches logged in $text.
sub scans
{
	my ($text) = @_;
	my @pairs;
	push @pairs, [ $1, $2 ]
	  while $text =~ /dumper read (\d+) of the (\d+) blocks of its queue/g;
	return @pairs;
}

# The rows claimed by each scan of the spill queue logged in $text.
sub spill_scans
{
	my ($text) = @_;
	my @claimed;
	push @claimed, $1
	  while $text =~ /dumper read the \d+ blocks of its spill queue and claimed (\d+) rows/g;
	return @claimed;
}

my $logpos = -s $node->logfile;
$node->safe_psql('postgres', 'VACUUM FULL dumper.queue');
invalidate_wide('/filler2/');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the wide filler is delivered');
my $nblocks = $node->safe_psql('postgres',
	q{SELECT pg_relation_size('dumper.queue') / current_setting('block_size')::int});
cmp_ok($nblocks, '>', 8, 'the queue has many blocks');
is(join(' ', map { "$_->[0]/$_->[1]" } scans(slurp_file($node->logfile, $logpos))),
	"$nblocks/$nblocks", 'the table\'s new file is read whole, in one batch');
for my $i (1 .. 12)
{
	$node->safe_psql('postgres', qq{
		BEGIN;
		SELECT dumper_invalidate('/item/rolled-back/');
		PREPARE TRANSACTION 'r$i';
		ROLLBACK PREPARED 'r$i';
	});
}

prepare_path('p2', '/item/prepared2/');
$logpos = -s $node->logfile;
$node->safe_psql('postgres', q{COMMIT PREPARED 'p2'});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/item/prepared2/') eq '0' }),
	'the prepared transaction is delivered');
my $text = slurp_file($node->logfile, $logpos);
is(join(' ', spill_scans($text)), '1', 'COMMIT PREPARED: one batch claims its row in the spill queue');
is(scalar(scans($text)), 0, 'and reads no block of dumper.queue');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper.spill_queue'), '0',
	'the spill queue is empty again');

# A prepared transaction that queued nothing wakes nobody at its commit:
# the next write's batch reads its one block, and nothing else is read.
$logpos = -s $node->logfile;
$node->safe_psql('postgres', q{BEGIN; SELECT 1; PREPARE TRANSACTION 'p3'});
$node->safe_psql('postgres', q{COMMIT PREPARED 'p3'});
$redis->cmd('SET', 'dumper:/item/after-p3/', 'stamp');
$node->safe_psql('postgres', q{SELECT dumper_invalidate('/item/after-p3/')});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/item/after-p3/') eq '0' }),
	'the write after an empty prepared transaction is delivered');
$text = slurp_file($node->logfile, $logpos);
is(join(' ', map { $_->[0] } scans($text)), '1',
	'an empty prepared transaction\'s commit makes the worker read nothing');
is(scalar(spill_scans($text)), 0, 'not even the spill queue');

# A COMMIT PREPARED that fails (here, inside a transaction block) asks for
# a whole scan, in case it failed after its commit, and puts the record
# back: the one that succeeds then reads the one block again.
prepare_path('p5', '/item/prepared5/');
$logpos = -s $node->logfile;
my ($ret5, $out5, $err5) = $node->psql('postgres', q{BEGIN; COMMIT PREPARED 'p5'; COMMIT});
like($err5, qr/COMMIT PREPARED cannot run inside a transaction block/,
	'COMMIT PREPARED in a transaction block fails');
ok( DumperTest::wait_for(
		sub {
			my $t = slurp_file($node->logfile, $logpos);
			(grep { $_->[0] == $_->[1] } scans($t)) && spill_scans($t);
		}),
	'the failed COMMIT PREPARED has the worker scan both queues whole');
is($redis->cmd('EXISTS', 'dumper:/item/prepared5/'), '1', 'which finds nothing committed');
$logpos = -s $node->logfile;
$node->safe_psql('postgres', q{COMMIT PREPARED 'p5'});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/item/prepared5/') eq '0' }),
	'the COMMIT PREPARED that succeeds is delivered');
$text = slurp_file($node->logfile, $logpos);
is(join(' ', spill_scans($text)) . ' / ' . scalar(scans($text)), '1 / 0',
	'from its record, put back: the spill queue read, not dumper.queue');
is($node->safe_psql('postgres', 'SELECT failures FROM dumper_stats'), '0',
	'the worker never failed before the restart');

# A restart forgets the records: COMMIT PREPARED then asks for a whole scan.
prepare_path('p4', '/item/restarted/');
$node->restart;
ok($node->poll_query_until('postgres',
		q{SELECT state = 'idle' FROM pg_stat_activity WHERE backend_type = 'dumper worker'}),
	'the worker runs again');
$node->safe_psql('postgres', q{COMMIT PREPARED 'p4'});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/item/restarted/') eq '0' }),
	'after a restart, COMMIT PREPARED still wakes the worker: delivered');

my $failures = $node->safe_psql('postgres', 'SELECT failures FROM dumper_stats');
is($failures, '0', 'the worker never failed after the restart');

$node->stop;
done_testing();
