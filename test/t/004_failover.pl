# Failover: invalidations committed on a primary whose Redis is unreachable
# are replicated with the queue; the streaming standby runs no worker and
# sends nothing to Redis while in recovery; once promoted it delivers them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());

# The primary's dumper.redis_url names a port where nothing listens: its
# worker fails and backs off, so the invalidations stay pending.
my $dead_port = PostgreSQL::Test::Cluster::get_free_port();
my $primary = DumperTest::new_node('primary',
	redis => "redis://127.0.0.1:$dead_port/0", preload => 1,
	init => { allows_streaming => 1 },
	extra => [ "dumper.naptime = '200ms'", "dumper.redis_timeout = '500ms'" ]);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	SELECT dumper_register('icecream');
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# The standby's copy of postgresql.conf names the dead Redis; it is given
# the live one, the address it would use once it is the primary.
$standby->append_conf('postgresql.conf',
	"dumper.redis_url = '" . $redis->url . "'\n");
$standby->start;

# Keys the web tier would check; the writes below invalidate all but one.
$redis->cmd('SET', "dumper:/icecream/f$_/", 'stamp') for 1 .. 50;
$redis->cmd('SET', 'dumper:/icecreams/', 'stamp');
$redis->cmd('SET', 'dumper:/untouched/', 'stamp');

$primary->safe_psql('postgres',
	"INSERT INTO icecream VALUES ($_, 'f$_', 1)") for 1 .. 50;
ok($primary->poll_query_until('postgres',
	q{SELECT failures > 0 FROM dumper_stats}),
	'the primary cannot reach its Redis');
is($primary->safe_psql('postgres', 'SELECT count(DISTINCT path) FROM dumper_pending'),
	'51', 'the primary holds 51 pending paths');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT count(DISTINCT path) FROM dumper_pending'),
	'51', 'the standby has replayed the queue');

# In recovery: no worker, and no dumper client has ever connected to Redis.
is($standby->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dumper worker'}),
	'0', 'the standby runs no dumper worker');
is($standby->safe_psql('postgres', 'SELECT worker_pid IS NULL FROM dumper_stats'),
	't', 'dumper_stats on the standby shows no worker');
my ($rc, $out, $err) = $standby->psql('postgres', 'SELECT dumper_deliver()');
isnt($rc, 0, 'dumper_deliver() is refused on the standby');
like($err, qr/cannot execute dumper_deliver\(\) during recovery/, 'with an error that says why');
# redis-cli's own connection is the only client: the worker keeps its
# connection open, so one made from the standby would be listed.
my @clients = $redis->cmd('CLIENT', 'LIST');
is(scalar(@clients), 1,
	'Redis has no client but the test itself');
is($redis->cmd('EXISTS', 'dumper:/icecream/f1/'), '1',
	'the key of a pending path is still in Redis');

# Failover: the primary goes away, the standby is promoted.
$primary->stop('immediate');
$standby->promote;
ok(DumperTest::wait_for(sub {
		$redis->cmd('EXISTS', map { "dumper:/icecream/f$_/" } 1 .. 50) eq '0'
		  && $redis->cmd('EXISTS', 'dumper:/icecreams/') eq '0'
	}, timeout => 30),
	'after promotion every pending path is deleted from Redis');
ok($standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending'),
	'and the queue drains');
is($redis->cmd('EXISTS', 'dumper:/untouched/'), '1', 'an unrelated key is kept');
@clients = $redis->cmd('CLIENT', 'LIST');
is(scalar(@clients), 2,
	'the promoted worker is connected to Redis');
is($standby->safe_psql('postgres', 'SELECT paths_delivered >= 51 FROM dumper_stats'),
	't', 'dumper_stats counts the delivered paths');

# The promoted server keeps invalidating new writes.
$redis->cmd('SET', 'dumper:/icecream/new/', 'stamp');
$standby->safe_psql('postgres', q{INSERT INTO icecream VALUES (100, 'new', 1)});
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/new/') eq '0' }),
	'a write on the new primary is delivered');

$standby->stop;
$redis->stop;
done_testing();
