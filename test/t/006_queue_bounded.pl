# The queue stays bounded under steady load: 60 s of pgbench single-row
# UPDATEs with the worker delivering; the size of dumper.queue (heap, free
# space map, visibility map, TOAST) is sampled while it runs and printed at
# the start and the end.  Every committed path reaches Redis.  The cluster
# runs with default_transaction_read_only = on (this test's own sessions
# turn it off): the worker's rotation and registration sync write anyway.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $seconds = $ENV{DUMPER_QUEUE_SECONDS} // 60;
$ENV{PGOPTIONS} = '-c default_transaction_read_only=off';

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('bounded', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "log_statement = 'none'",
		"default_transaction_read_only = on" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	SELECT dumper_register('icecream');
	INSERT INTO icecream SELECT g, 'f' || g, 0 FROM generate_series(1, 10000) g;
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'setup delivered');

my $size_sql = q{SELECT pg_total_relation_size('dumper.queue')};
my $start_size = $node->safe_psql('postgres', $size_sql);

# Keys for a sample of the rows the writes will touch.
$redis->cmd('SET', "dumper:/icecream/f$_/", 'stamp') for 1 .. 100;
$redis->cmd('SET', 'dumper:/untouched/', 'stamp');

my $script = $node->basedir . '/update.sql';
append_to_file($script,
	"\\set id random(1, 10000)\nUPDATE icecream SET price = price + 1 WHERE id = :id;\n");
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds, '-P', '10',
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);

# Sample the size every half second until pgbench ends (a sampling
# interval, not a wait for a result: pgbench's -T bounds the loop).
my @sizes;
while ($pgbench->pumpable)
{
	push @sizes, $node->safe_psql('postgres', $size_sql);
	$pgbench->pump_nb;
	Time::HiRes::sleep(0.5);
}
$pgbench->finish;
my ($committed) = $out =~ /number of transactions actually processed: (\d+)/;
ok(defined $committed && $committed > 0, 'pgbench committed transactions')
  or diag($out . $err);

ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the queue drains after the run');
my $end_size = $node->safe_psql('postgres', $size_sql);
my ($max_size) = sort { $b <=> $a } @sizes;
diag(sprintf('%d transactions in %d s; dumper.queue size: %d kB at the start, '
	  . '%d kB at most during the run, %d kB at the end',
	$committed // 0, $seconds, $start_size / 1024, $max_size / 1024, $end_size / 1024));

# Bounded: the size does not grow with the length of the run.
my $half = int(@sizes / 2);
my ($max_first_half) = sort { $b <=> $a } @sizes[0 .. $half - 1];
my ($max_second_half) = sort { $b <=> $a } @sizes[$half .. $#sizes];
diag(sprintf('largest size in the first half %d kB, in the second half %d kB',
	$max_first_half / 1024, $max_second_half / 1024));
cmp_ok($max_size, '<', 8 * 1024 * 1024, 'the queue never exceeds 8 MB');
# Once drained it is at most the rotation threshold (a 1 MB heap) plus its
# free space and visibility maps.
cmp_ok($end_size, '<=', 2 * 1024 * 1024, 'and at most 2 MB once drained');

# Every path of the run reached Redis: the keys of the sample rows whose
# price changed are gone; a key no write touched is still there.
my @changed = split /\n/, $node->safe_psql('postgres',
	'SELECT id FROM icecream WHERE id <= 100 AND price > 0 ORDER BY id');
ok(@changed > 0, 'the run updated sample rows');
is($redis->cmd('EXISTS', map { "dumper:/icecream/f$_/" } @changed), '0',
	'the key of every updated sample row is deleted');
is($redis->cmd('EXISTS', 'dumper:/untouched/'), '1', 'a key no write touched is kept');
is($node->safe_psql('postgres', 'SELECT failures FROM dumper_stats'), '0',
	'the worker never failed, read-only default or not');

$node->stop;
$redis->stop;
done_testing();
