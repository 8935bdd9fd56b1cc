# pg_dump | pg_restore of a database using dumper into a new database:
# registrations come back (extension configuration tables), every trigger
# exists once, and a write there is queued and, once the worker serves that
# database, delivered to Redis.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('dump', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.database = 'nobody'" ]);
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
	CREATE TABLE icecream_sizes (icecream_id int REFERENCES icecream,
	                             size_id int REFERENCES size,
	                             PRIMARY KEY (icecream_id, size_id));
	CREATE TABLE scoop (icecream_id int REFERENCES icecream, grams int,
	                    PRIMARY KEY (icecream_id, grams));
	CREATE TABLE event (id int, day date NOT NULL) PARTITION BY RANGE (day);
	CREATE TABLE event_2026 PARTITION OF event
	    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
	    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	CREATE FUNCTION event_paths(event) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/event/' || $1.id || '/' $$;
	SELECT dumper_register('icecream');
	SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
	SELECT dumper_register_join('scoop');
	SELECT dumper_register('event', 'event_paths');
	INSERT INTO icecream VALUES (1, 'vanilla');
	INSERT INTO size VALUES (1, 'small');
	INSERT INTO icecream_sizes VALUES (1, 1);
});

my $registrations_sql = q{SELECT table_name, paths_function, templates, join_tables, triggers
	FROM dumper_registrations ORDER BY table_name::text};
my $triggers_sql = q{SELECT tgrelid::regclass, tgname, count(*) FROM pg_trigger
	WHERE tgname LIKE 'dumper%' GROUP BY 1, 2 ORDER BY tgrelid::regclass::text, tgname};
my $registrations = $node->safe_psql('shop', $registrations_sql);
my $triggers = $node->safe_psql('shop', $triggers_sql);

my $dump = PostgreSQL::Test::Utils::tempdir() . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-h', $node->host, '-p', $node->port, 'shop' ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored',
		'-h', $node->host, '-p', $node->port, $dump ],
	'pg_restore into a new database');

is($node->safe_psql('restored', $registrations_sql), $registrations,
	'the registrations are restored');
is($node->safe_psql('restored', $triggers_sql), $triggers,
	'every dumper trigger is restored, once');
unlike($node->safe_psql('restored', $triggers_sql), qr/\|[2-9]\d*$/m, '(no duplicate)');

# Writes in the restored database invalidate, through each kind.
$node->safe_psql('restored', q{
	DELETE FROM dumper.queue;
	UPDATE icecream SET slug = 'vanilla-bean';
	UPDATE size SET name = 'medium';
	INSERT INTO scoop VALUES (1, 100);
	INSERT INTO event VALUES (7, '2026-03-01');
});
is($node->safe_psql('restored', 'SELECT string_agg(DISTINCT path, \' \' ORDER BY path) FROM dumper_pending'),
	'/event/7/ /icecream/vanilla-bean/ /icecream/vanilla/ /icecreams/ /size/medium/ /size/small/',
	'writes in the restored database are queued');

# The worker, pointed at the restored database, delivers them.
$redis->cmd('SET', "dumper:$_", 'stamp') for ('/event/7/', '/size/medium/', '/unrelated/');
$node->safe_psql('postgres', q{ALTER SYSTEM SET dumper.database = 'restored'});
$node->reload;
ok(DumperTest::wait_for(sub {
		$redis->cmd('EXISTS', 'dumper:/event/7/', 'dumper:/size/medium/') eq '0'
	}, timeout => 30),
	'the worker delivers the restored database\'s invalidations');
is($redis->cmd('EXISTS', 'dumper:/unrelated/'), '1', 'and nothing else');
ok($node->poll_query_until('restored', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the queue drains');

# TRUNCATE there: a rolled-back one deletes nothing; TRUNCATE ... CASCADE
# deletes the keys of every row it removed, on both sides of the join.
$redis->cmd('SET', "dumper:$_", 'stamp')
  for ('/icecream/vanilla-bean/', '/icecreams/', '/size/medium/');
$node->safe_psql('restored', 'BEGIN; TRUNCATE icecream CASCADE; ROLLBACK;');
$node->safe_psql('restored', q{UPDATE size SET name = 'medium'});
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/size/medium/') eq '0' }),
	'(a later write is delivered)');
is($redis->cmd('EXISTS', 'dumper:/icecream/vanilla-bean/', 'dumper:/icecreams/'), '2',
	'a rolled-back TRUNCATE deletes no key');
$node->safe_psql('restored', 'TRUNCATE icecream CASCADE');
ok(DumperTest::wait_for(sub {
		$redis->cmd('EXISTS', 'dumper:/icecream/vanilla-bean/', 'dumper:/icecreams/') eq '0'
	}),
	'TRUNCATE ... CASCADE deletes the keys of the rows it removed');

# The source database is untouched and still works.
is($node->safe_psql('shop', $triggers_sql), $triggers, 'the source keeps its triggers');

$node->stop;
$redis->stop;
done_testing();
