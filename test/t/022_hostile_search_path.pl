# A role that owns a database and a schema sets the database's search_path
# to put its schema, whose "=" on names and OIDs makes it a superuser when a
# superuser runs it, before pg_catalog.  dumper's statements run as the
# extension's owner with a search_path of their own: neither the worker,
# which syncs the registrations at its start, nor the DDL event trigger of
# that role's DROP FUNCTION runs the operator.  (Before the search_path was
# pinned, both did, and the role became a superuser.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('hostile', redis => $redis, preload => 1,
	extra => [ "dumper.database = 'site'", "dumper.naptime = '100ms'" ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE site OWNER mallory;
});
$node->safe_psql('site', q{CREATE EXTENSION dumper});

# mallory's traps: "=" on names and on OIDs that, run by a superuser, make
# mallory one, then answer as pg_catalog's would (nothing else breaks).
$node->safe_psql('site', q{
	SET ROLE mallory;
	CREATE SCHEMA mallory;
	CREATE TABLE mallory.trap_runs (op text, ran_as name);
	GRANT INSERT ON mallory.trap_runs TO PUBLIC;
	CREATE FUNCTION mallory.eq_name(name, name) RETURNS bool LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO mallory.trap_runs VALUES ('name', current_user);
		IF (SELECT rolsuper FROM pg_catalog.pg_roles
		    WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
			EXECUTE 'ALTER ROLE mallory SUPERUSER';
		END IF;
		RETURN $1 OPERATOR(pg_catalog.=) $2;
	END $$;
	CREATE FUNCTION mallory.eq_oid(oid, oid) RETURNS bool LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO mallory.trap_runs VALUES ('oid', current_user);
		IF (SELECT rolsuper FROM pg_catalog.pg_roles
		    WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
			EXECUTE 'ALTER ROLE mallory SUPERUSER';
		END IF;
		RETURN $1 OPERATOR(pg_catalog.=) $2;
	END $$;
	CREATE OPERATOR mallory.= (LEFTARG = name, RIGHTARG = name, FUNCTION = mallory.eq_name);
	CREATE OPERATOR mallory.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = mallory.eq_oid);
	CREATE TABLE mallory.post (id int PRIMARY KEY, slug text);
	CREATE FUNCTION mallory.post_paths(mallory.post) RETURNS text LANGUAGE sql STABLE
		AS $$ SELECT '/post/' OPERATOR(pg_catalog.||) $1.slug $$;
	CREATE FUNCTION mallory.spare(int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
	SELECT dumper_register('mallory.post', 'mallory.post_paths');
	ALTER DATABASE site SET search_path = mallory, pg_catalog, public;
});

# The worker's start, in the database whose search_path mallory set.
$node->restart;
ok($node->poll_query_until('site', q{SELECT worker_pid IS NOT NULL FROM dumper_stats}),
	'the worker started in the database');
$node->safe_psql('site', q{INSERT INTO mallory.post VALUES (1, 'hello')});
$redis->cmd('SET', 'dumper:/post/hello', 'stamp');
$node->safe_psql('site', q{UPDATE mallory.post SET id = 2});
ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/post/hello') eq '0' }),
	'it delivers (its start, sync included, is over)');

# mallory's own DROP FUNCTION, whose event trigger syncs the registrations.
$node->safe_psql('site', q{SET ROLE mallory; DROP FUNCTION mallory.spare(int)});

is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is no superuser');
is($node->safe_psql('site',
		q{SELECT pg_catalog.count(*) FROM mallory.trap_runs WHERE ran_as <> 'mallory'}),
	'0', "no trap ran as anyone but mallory");

done_testing();
