# CREATE EXTENSION works on a fresh cluster with and without
# shared_preload_libraries, and the extension gathers and queues paths in
# both cases.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());

for my $preload (0, 1)
{
	my $node = DumperTest::new_node("load_$preload", redis => $redis, preload => $preload);
	$node->start;
	is($node->safe_psql('postgres', 'SHOW shared_preload_libraries') =~ /dumper/ ? 1 : 0,
		$preload, "shared_preload_libraries as configured ($preload)");
	$node->safe_psql('postgres', q{
		CREATE EXTENSION dumper;
		CREATE TABLE t (id int PRIMARY KEY, slug text);
		CREATE FUNCTION dependent_paths(t) RETURNS text LANGUAGE sql AS $$ SELECT '/t/' || $1.slug $$;
		SELECT dumper_register('t');
	});
	$redis->cmd('SET', "dumper:/t/one", 'stamp');
	$node->safe_psql('postgres', q{INSERT INTO t VALUES (1, 'one')});
	if ($preload)
	{
		# The worker serves this database: no manual call needed.
		ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/t/one') eq '0' }),
			'the worker delivers the write');
		ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
			'and empties the queue');
	}
	else
	{
		is($node->safe_psql('postgres', 'SELECT path FROM dumper_pending'), '/t/one',
			'a write is queued');
		$node->safe_psql('postgres', 'SELECT dumper_deliver()');
		is($redis->cmd('EXISTS', 'dumper:/t/one'), '0', 'and delivered by dumper_deliver()');
	}
	$node->safe_psql('postgres', 'DROP EXTENSION dumper CASCADE');
	$node->stop;
}

$redis->stop;
done_testing();
