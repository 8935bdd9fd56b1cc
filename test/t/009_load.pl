# Load: 16 pgbench clients for 60 s, every transaction inserting a row of a
# registered table (its own path) and updating a shared row (the hot path
# '/items/' of every transaction, and a hot row's path), worker delivering.
# No deadlock, no error; every committed path is delivered, as checked
# against what Redis published on dumper.publish_channel; the queue drains.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $seconds = $ENV{DUMPER_LOAD_SECONDS} // 60;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('load', redis => $redis, preload => 1,
	extra => [ "dumper.publish_channel = 'invalidated'", 'max_connections = 40',
		"log_statement = 'none'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE item (id bigserial PRIMARY KEY, hot int NOT NULL);
	CREATE TABLE hot (id int PRIMARY KEY, hits bigint NOT NULL);
	INSERT INTO hot SELECT g, 0 FROM generate_series(1, 4) g;
	SELECT dumper_register('item', templates => ARRAY['/item/{id}/', '/items/']);
	SELECT dumper_register('hot', templates => ARRAY['/hot/{id}/']);
});

# Everything Redis publishes, written to a file by redis-cli (fast enough
# for tens of thousands of messages a second).
my ($subscriber, $published) = $redis->record('invalidated');

my $script = $node->basedir . '/load.sql';
append_to_file($script, q{\set h random(1, 4)
BEGIN;
INSERT INTO item (hot) VALUES (:h);
UPDATE hot SET hits = hits + 1 WHERE id = :h;
COMMIT;
});
my ($out, $err) = run_command([ 'pgbench', '-n', '-c', '16', '-j', '2', '-T', $seconds,
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ]);
my ($committed) = $out =~ /number of transactions actually processed: (\d+)/;
ok(defined $committed && $committed > 0, 'pgbench committed transactions') or diag($out . $err);
unlike($out . $err, qr/failed transactions: [1-9]|ERROR|deadlock/i, 'no transaction failed');
my ($tps) = $out =~ /tps = ([0-9.]+)/;
diag("16 clients, $seconds s: $committed transactions, " . ($tps // '?') . ' tps');

ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the queue drains');
is($node->safe_psql('postgres', 'SELECT count(*) FROM item'), $committed,
	'every committed transaction left its row');
my $log = slurp_file($node->logfile);
unlike($log, qr/deadlock detected|ERROR:|terminated by signal/, 'no deadlock or error in the server log');

# Everything delivered was published after Redis acknowledged its DEL, so
# the published set must hold the path of every committed row.
my ($appeared, $seen, $missing) =
  DumperTest::published_items($node, $subscriber, $published, $committed);
ok($appeared, 'the last row\'s path was published');
is(scalar(@$missing), 0, 'every committed row\'s path was delivered')
  or diag("missing, first ones: @$missing[0 .. ($#$missing < 9 ? $#$missing : 9)]");
ok($seen->{'/items/'} && (grep { $seen->{"/hot/$_/"} } 1 .. 4) == 4, 'and the hot paths');
my $stats = $node->safe_psql('postgres',
	'SELECT paths_delivered, batches_delivered, failures FROM dumper_stats');
my ($paths, $batches, $failures) = split /\|/, $stats;
is($failures, '0', 'the worker never failed');
diag("worker: $paths paths in $batches batches");

$node->stop;
$redis->stop;
done_testing();
