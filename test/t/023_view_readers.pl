# What dumper's views show to whom, and that reading them cannot stop the
# queue's rotation (issue 24, defects 5 and 6).
#
# - dumper_pending's paths are row data of tables the reader may not read:
#   only superusers and members of pg_read_all_stats see them; others see
#   that rows are pending (path NULL).  dumper_stats' last_error likewise.
#   dumper_registrations lists the tables a role owns or has a privilege on.
# - A reader of the views left idle in a transaction (a monitoring tool, or
#   anyone) holds no lock on dumper.queue, nor does a writer idle in a
#   transaction that spilled its paths, nor a prepared transaction: the
#   worker rotates the queue under a pgbench load as usual.  Before, their
#   locks made every rotation's conditional ACCESS EXCLUSIVE fail and the
#   queue grew.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('readers', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "log_statement = 'none'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE ROLE site;
	CREATE ROLE watcher LOGIN;
	CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
	CREATE TABLE secret (id int PRIMARY KEY, slug text, price int);
	ALTER TABLE secret OWNER TO site;
	SELECT dumper_register('secret', templates => ARRAY['/secret/{slug}/']);
	INSERT INTO secret SELECT g, 'name-' || g, 0 FROM generate_series(1, 10000) g;
	-- Rows of the writers that stay open, apart from pgbench's.
	INSERT INTO secret SELECT g, 'held-' || g, 0 FROM generate_series(10001, 15001) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'setup delivered');

# Redis unreachable: paths wait, and the worker records its error.
my $url = $redis->url;
DumperTest::set_redis_url($node, 'redis://127.0.0.1:1/0');
$node->safe_psql('postgres', q{UPDATE secret SET price = 1 WHERE id <= 3});
ok($node->poll_query_until('postgres', 'SELECT last_error IS NOT NULL FROM dumper_stats'),
	'the worker records its failure');

my $as = sub {
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
};
is($as->('watcher', q{SELECT count(*), count(path) FROM dumper_pending}), '3|0',
	'an ordinary role sees that three paths wait, not which');
is($as->('monitor', q{SELECT string_agg(path, ',' ORDER BY path) FROM dumper_pending}),
	'/secret/name-1/,/secret/name-2/,/secret/name-3/',
	'a member of pg_monitor (pg_read_all_stats) sees the paths');
is($as->('watcher', q{SELECT last_error IS NULL, failures > 0, pending_rows > 0 FROM dumper_stats}),
	't|t|t', 'an ordinary role sees failures and pending rows, not the last error');
is($as->('monitor', q{SELECT last_error IS NOT NULL FROM dumper_stats}), 't',
	'pg_monitor sees the last error');
is($as->('watcher', q{SELECT count(*) FROM dumper_registrations}), '0',
	'an ordinary role sees no registration of a table it has no privilege on');
$node->safe_psql('postgres', q{GRANT SELECT ON secret TO watcher});
is($as->('watcher', q{SELECT table_name FROM dumper_registrations}), 'secret',
	'and sees it once granted a privilege on the table');
is($as->('monitor', q{SELECT table_name FROM dumper_registrations}), 'secret',
	'pg_monitor sees every registration');

DumperTest::set_redis_url($node, $url);
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'delivered once Redis is back');

# Readers idle in their transactions: one at READ COMMITTED having read
# every view, one at REPEATABLE READ.
my $reader = $node->background_psql('postgres', extra_params => [ '-U', 'watcher' ]);
$reader->query_safe(q{BEGIN});
$reader->query_safe(q{SELECT count(*) FROM dumper_pending});
$reader->query_safe(q{SELECT * FROM dumper_stats});
$reader->query_safe(q{SELECT * FROM dumper_registrations});
my $rr = $node->background_psql('postgres', extra_params => [ '-U', 'monitor' ]);
$rr->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ});
$rr->query_safe(q{SELECT count(*) FROM dumper_pending});
my $reader_pid = $reader->query_safe(q{SELECT pg_backend_pid()});
my $rr_pid = $rr->query_safe(q{SELECT pg_backend_pid()});
is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_locks
		WHERE relation = 'dumper.queue'::regclass AND pid IN ($reader_pid, $rr_pid)}),
	'0', 'readers idle in their transactions hold no lock on the queue');

# A writer whose paths outgrew dumper.work_mem (spilled, written before its
# commit), idle in its transaction, and a prepared transaction: their rows
# are in dumper.spill_queue, and neither holds a lock on dumper.queue.
$node->safe_psql('postgres', q{GRANT SELECT, UPDATE ON secret TO watcher});
my $spiller = $node->background_psql('postgres', extra_params => [ '-U', 'watcher' ]);
$spiller->query_safe(q{SET dumper.work_mem = '64kB'});
$spiller->query_safe(q{BEGIN});
$spiller->query_safe(q{UPDATE secret SET slug = slug || '-x' WHERE id BETWEEN 10001 AND 15000});
my $spiller_pid = $spiller->query_safe(q{SELECT pg_backend_pid()});
$node->safe_psql('postgres', q{
	BEGIN;
	UPDATE secret SET slug = 'prepared' WHERE id = 15001;
	PREPARE TRANSACTION 'idle';
});
is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_locks
		WHERE relation = 'dumper.queue'::regclass
		  AND (pid = $spiller_pid OR pid IS NULL)}),
	'0', 'a spilled writer and a prepared transaction hold no lock on the queue');
is($node->safe_psql('postgres', qq{
		SELECT count(DISTINCT virtualtransaction) FROM pg_locks
		WHERE relation = 'dumper.spill_queue'::regclass
		  AND (pid = $spiller_pid OR pid IS NULL)}),
	'2', 'they hold the spill queue\'s');

# Load: the queue grows past the rotation threshold and is rotated anyway.
my $file_before = $node->safe_psql('postgres', q{SELECT pg_relation_filenode('dumper.queue')});
my $script = $node->basedir . '/update.sql';
append_to_file($script,
	"\\set id random(1, 10000)\nUPDATE secret SET price = price + 1 WHERE id = :id;\n");
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '10',
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
my @sizes;
while ($pgbench->pumpable)
{
	push @sizes, $node->safe_psql('postgres', q{SELECT pg_relation_size('dumper.queue')});
	$pgbench->pump_nb;
	Time::HiRes::sleep(0.5);
}
$pgbench->finish;
my ($committed) = $out =~ /number of transactions actually processed: (\d+)/;
ok(defined $committed && $committed > 0, 'pgbench committed transactions')
  or diag($out . $err);
my ($max) = sort { $b <=> $a } @sizes;
my $file_after = $node->safe_psql('postgres', q{SELECT pg_relation_filenode('dumper.queue')});
diag(sprintf('%d transactions; dumper.queue heap at most %d kB; file %s -> %s',
	$committed // 0, $max / 1024, $file_before, $file_after));
isnt($file_after, $file_before, 'the queue was rotated while the readers were idle');
cmp_ok($max, '<', 8 * 1024 * 1024, 'and stayed under 8 MB');
$reader->query_safe(q{COMMIT});
$rr->query_safe(q{COMMIT});
$reader->quit;
$rr->quit;

# The spilled writer and the prepared transaction commit: delivered.
$redis->cmd('SET', "dumper:/secret/held-$_-x/", 'stamp') for 10001 .. 10005;
$redis->cmd('SET', 'dumper:/secret/prepared/', 'stamp');
$spiller->query_safe(q{COMMIT});
$spiller->quit;
$node->safe_psql('postgres', q{COMMIT PREPARED 'idle'});
ok($redis->wait_for(sub {
		$redis->cmd('EXISTS', 'dumper:/secret/prepared/', map { "dumper:/secret/held-$_-x/" } 10001 .. 10005)
		  eq '0' }),
	'their paths are delivered once they commit');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'everything delivered');

done_testing();
