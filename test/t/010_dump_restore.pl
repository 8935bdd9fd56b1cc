# pg_dump -Fc of a database using dumper, pg_restore into a new database:
# proves that the registrations (a paths function, path templates, a
# quoted schema-qualified table, a partitioned table), the join tables
# (found automatically and registered explicitly) and every dumper trigger
# come back exactly once each, that the restored triggers guard their paths
# function as the source's do, that writes in the restored database queue
# exactly the expected paths, and that the worker, pointed at the restored
# database with dumper.database, delivers them to a real Redis.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
# The worker serves 'postgres' (where dumper is not installed) until the
# test points it at the restored database.
my $node = DumperTest::new_node('dump_restore', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'", "dumper.database = 'postgres'" ]);
$node->start;

# ---- the source database ----------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
	CREATE EXTENSION dumper;
	-- The seed's shop: a paths function, path templates, Django's pure
	-- through table (found by dumper_register) and a through table with an
	-- extra column (registered with dumper_register_join).
	CREATE TABLE icecream (id serial PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE size (id serial PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE icecream_sizes (
	    id serial PRIMARY KEY,
	    icecream_id int REFERENCES icecream ON DELETE CASCADE,
	    size_id int REFERENCES size ON DELETE CASCADE);
	CREATE TABLE scoop (
	    id serial PRIMARY KEY,
	    icecream_id int NOT NULL REFERENCES icecream,
	    size_id int NOT NULL REFERENCES size,
	    grams int NOT NULL);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
	    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	SELECT dumper_register('icecream');
	SELECT dumper_register('size', templates => ARRAY['/size/{id}/', '/sizes/']);
	SELECT dumper_register_join('scoop');
	-- A quoted table in a quoted schema, with its own overload.
	CREATE SCHEMA "Shop Schema";
	CREATE TABLE "Shop Schema"."Ice Cream" (id int PRIMARY KEY, "Slug" text);
	CREATE FUNCTION "Shop Schema".dependent_paths(r "Shop Schema"."Ice Cream")
	    RETURNS text LANGUAGE sql STABLE AS $$ SELECT '/shop/' || r."Slug" || '/' $$;
	SELECT dumper_register('"Shop Schema"."Ice Cream"',
	                       '"Shop Schema".dependent_paths("Shop Schema"."Ice Cream")'::regprocedure);
	-- A partitioned table: one partition before registration, one attached
	-- after it (columns in another order), one created after it.
	CREATE TABLE event (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
	CREATE TABLE event_2025 PARTITION OF event FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE FUNCTION event_paths(event) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/event/' || $1.id || '/' $$;
	SELECT dumper_register('event', 'event_paths');
	CREATE TABLE event_2026 (day date NOT NULL, id int NOT NULL);
	ALTER TABLE event ATTACH PARTITION event_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	CREATE TABLE event_2027 PARTITION OF event FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
	-- Some data.
	INSERT INTO icecream (slug) VALUES ('vanilla'), ('mint'), ('lemon');
	INSERT INTO size (slug) VALUES ('small'), ('large'), ('cone');
	INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1);
	INSERT INTO scoop (icecream_id, size_id, grams) VALUES (1, 3, 100);
	INSERT INTO "Shop Schema"."Ice Cream" VALUES (1, 'pistachio');
	INSERT INTO event VALUES (1, '2025-05-05'), (2, '2026-05-05'), (3, '2027-05-05');
});

# What the restore must reproduce, read from the source.
my $registrations_sql = q{
	SELECT table_name, paths_function, templates, join_tables, triggers
	  FROM dumper_registrations ORDER BY table_name::text};
my $join_tables_sql = q{SELECT tbl, explicit FROM dumper.join_table ORDER BY tbl::text};
my $triggers_sql = q{
	SELECT tgrelid::regclass, tgname, count(*) FROM pg_trigger
	 WHERE tgname LIKE 'dumper%' GROUP BY 1, 2 ORDER BY tgrelid::regclass::text, tgname};
my $triggerdefs_sql = q{
	SELECT pg_get_triggerdef(oid) FROM pg_trigger
	 WHERE tgname LIKE 'dumper%' ORDER BY tgrelid::regclass::text, tgname};
my %source = (
	registrations => $node->safe_psql('source', $registrations_sql),
	join_tables   => $node->safe_psql('source', $join_tables_sql),
	triggers      => $node->safe_psql('source', $triggers_sql),
	triggerdefs   => $node->safe_psql('source', $triggerdefs_sql));

# The source is what this test means it to be: every kind of registration
# and every trigger, each once.
is( $source{registrations},
	join("\n",
		'"Shop Schema"."Ice Cream"|"Shop Schema".dependent_paths("Shop Schema"."Ice Cream")||{}|{dumper_row,dumper_truncate}',
		'event|event_paths(event)||{}|{dumper_row,dumper_truncate}',
		'icecream|dependent_paths(icecream)||{icecream_sizes,scoop}|{dumper_row,dumper_truncate}',
		'size||{"/size/{id}/",/sizes/}|{icecream_sizes,scoop}|{dumper_row,dumper_truncate}'),
	'source: the registrations');
is($source{join_tables}, "icecream_sizes|f\nscoop|t", 'source: the join tables');
is( $source{triggers},
	join("\n",
		map { "$_|1" } '"Shop Schema"."Ice Cream"|dumper_row',
		'"Shop Schema"."Ice Cream"|dumper_truncate',
		'event|dumper_row',          'event|dumper_truncate',
		'event_2025|dumper_row',     'event_2025|dumper_truncate',
		'event_2026|dumper_row',     'event_2026|dumper_truncate',
		'event_2027|dumper_row',     'event_2027|dumper_truncate',
		'icecream|dumper_row',       'icecream|dumper_truncate',
		'icecream_sizes|dumper_join', 'icecream_sizes|dumper_join_truncate',
		'scoop|dumper_join',         'scoop|dumper_join_truncate',
		'size|dumper_row',           'size|dumper_truncate'),
	'source: every dumper trigger, once');

# ---- dump and restore ---------------------------------------------------------
my $dump = PostgreSQL::Test::Utils::tempdir() . '/source.dump';
my @conn = ('-h', $node->host, '-p', $node->port);
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, @conn, 'source' ], 'pg_dump -Fc');
$node->command_ok([ 'createdb', @conn, 'restored' ], 'createdb');
$node->command_ok([ 'pg_restore', '--exit-on-error', @conn, '-d', 'restored', $dump ],
	'pg_restore into the new database, without error');

# ---- what came back -----------------------------------------------------------
is($node->safe_psql('restored', $registrations_sql), $source{registrations},
	'restored: dumper_registrations identical to the source');
is($node->safe_psql('restored', $join_tables_sql), $source{join_tables},
	'restored: the join tables, found and explicit, identical');
is($node->safe_psql('restored', $triggers_sql), $source{triggers},
	'restored: every dumper trigger present exactly once, on the same tables');
is($node->safe_psql('restored', $triggerdefs_sql), $source{triggerdefs},
	'restored: the trigger definitions identical');
is($node->safe_psql('restored', 'SELECT count(*) FROM dumper_pending'), '0',
	'restored: the queue starts empty (pending rows stay with the source)');

# The triggers depend on the paths function: DROP FUNCTION is refused in the
# source, and must be in the restored database too (otherwise the function
# goes, its registration with it, and the orphaned triggers make every
# write to the table fail).
for my $db ('source', 'restored')
{
	my ($ret, $out, $err) = $node->psql($db,
		'BEGIN; DROP FUNCTION dependent_paths(icecream); ROLLBACK;');
	like($err, qr/cannot drop function dependent_paths\(icecream\) because other objects depend on it/,
		"$db: DROP FUNCTION of a paths function in use is refused");
}
is($node->safe_psql('restored', q{
	SELECT count(*) FROM pg_depend
	 WHERE classid = 'pg_trigger'::regclass AND refclassid = 'pg_proc'::regclass
	   AND refobjid = 'event_paths(event)'::regprocedure}),
	$node->safe_psql('source', q{
	SELECT count(*) FROM pg_depend
	 WHERE classid = 'pg_trigger'::regclass AND refclassid = 'pg_proc'::regclass
	   AND refobjid = 'event_paths(event)'::regprocedure}),
	'restored: as many triggers depend on a paths function as in the source');

# ---- writes in the restored database --------------------------------------------
# One write through each kind of registration, each its own transaction.
$node->safe_psql('restored', q{
	UPDATE icecream SET slug = 'vanilla-bean' WHERE id = 1;
	UPDATE size SET slug = 'tall' WHERE id = 2;
	INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (2, 1);
	INSERT INTO scoop (icecream_id, size_id, grams) VALUES (3, 3, 80);
	INSERT INTO "Shop Schema"."Ice Cream" VALUES (2, 'hazelnut');
	INSERT INTO event VALUES (7, '2026-07-07');
});
my @expected = qw(/event/7/ /icecream/lemon/ /icecream/mint/ /icecream/vanilla-bean/
  /icecream/vanilla/ /icecreams/ /shop/hazelnut/ /size/1/ /size/2/ /size/3/ /sizes/);
is($node->safe_psql('restored',
		q{SELECT string_agg(DISTINCT path, ' ' ORDER BY path) FROM dumper_pending}),
	join(' ', @expected),
	'restored: writes queue exactly the expected paths');
is($node->safe_psql('restored', q{SELECT count(DISTINCT transaction_id) FROM dumper_pending}),
	'6', 'restored: one queue entry per writing transaction');

# ---- delivery from the restored database -------------------------------------------
# Every expected key, and one that no write names, as a web tier keeps them.
$redis->cmd('SET', "dumper:$_", 'stamp') for @expected, '/unrelated/';
$node->safe_psql('postgres', q{ALTER SYSTEM SET dumper.database = 'restored'});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'dumper worker' AND datname = 'restored'}),
	'the worker restarts for the restored database');
ok( DumperTest::wait_for(
		sub { $redis->cmd('EXISTS', map { "dumper:$_" } @expected) eq '0' }, timeout => 30),
	'the worker delivers the restored database\'s pending paths to Redis');
is($redis->cmd('EXISTS', 'dumper:/unrelated/'), '1', 'and deletes no other key');
ok($node->poll_query_until('restored', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the restored database\'s queue drains');

# A new write there, and a TRUNCATE of the partition attached after
# registration, are delivered as they commit.
$redis->cmd('SET', "dumper:$_", 'stamp') for qw(/icecream/mint-chip/ /event/2/ /event/7/);
$node->safe_psql('restored', q{UPDATE icecream SET slug = 'mint-chip' WHERE id = 2});
$node->safe_psql('restored', q{TRUNCATE event_2026});
ok( DumperTest::wait_for(
		sub {
			$redis->cmd('EXISTS', 'dumper:/icecream/mint-chip/', 'dumper:/event/2/',
				'dumper:/event/7/') eq '0';
		}),
	'later writes and TRUNCATE in the restored database are delivered');
is($redis->cmd('EXISTS', 'dumper:/unrelated/'), '1', '(still no other key)');

# ---- the source is untouched ---------------------------------------------------------
is($node->safe_psql('source', $registrations_sql), $source{registrations},
	'source: registrations unchanged');
is($node->safe_psql('source', $triggers_sql), $source{triggers}, 'source: triggers unchanged');

$node->stop;
$redis->stop;
done_testing();
