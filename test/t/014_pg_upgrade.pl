# pg_upgrade of a cluster using dumper (15 to 15: the same checks and the
# same steps as to a newer major version).  pg_upgrade refuses user tables
# with reg* columns other than regclass, regrole and regtype, because it
# copies their files while function OIDs change; dumper's registrations name
# their paths function by schema and name for this.  Proves that the upgrade
# succeeds, that the registrations and triggers come back as they were, that
# invalidations pending at the upgrade are delivered afterwards, that writes
# through a paths function, templates and a join table are delivered, and
# that a paths function renamed afterwards keeps its registration.  The new
# cluster starts with Redis unreachable: the worker's first batch fails,
# and the triggers' dependencies on the paths function, which the upgrade
# did not carry, must come back all the same (the worker records them in a
# transaction of their own).
use strict;
use warnings;
use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
# Nothing listens on the old cluster's Redis port: its invalidations stay
# pending through the upgrade.
my $closed = 'redis://127.0.0.1:' . PostgreSQL::Test::Cluster::get_free_port() . '/0';
my $old = DumperTest::new_node('old', redis => $closed, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
$old->start;
$old->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE size (id int PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE icecream_sizes (
	    icecream_id int REFERENCES icecream, size_id int REFERENCES size,
	    PRIMARY KEY (icecream_id, size_id));
	CREATE SCHEMA "Shop";
	CREATE FUNCTION "Shop"."icecream paths"(icecream) RETURNS text[] LANGUAGE sql STABLE
	    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	SELECT dumper_register('icecream', '"Shop"."icecream paths"');
	SELECT dumper_register('size', templates => ARRAY['/size/{slug}/']);
	INSERT INTO icecream VALUES (1, 'vanilla'), (2, 'mint');
	INSERT INTO size VALUES (1, 'small');
});

# A second database, which the worker does not serve.
$old->safe_psql('postgres', 'CREATE DATABASE other');
$old->safe_psql('other', q{
	CREATE EXTENSION dumper;
	CREATE TABLE cone (id int PRIMARY KEY, name text);
	CREATE FUNCTION cone_paths(cone) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/cone/' || $1.name || '/' $$;
	SELECT dumper_register('cone', 'cone_paths');
});

my $registrations_sql = q{
	SELECT table_name, paths_function, templates, join_tables, triggers
	  FROM dumper_registrations ORDER BY table_name::text};
my $triggers_sql = q{
	SELECT tgrelid::regclass, tgname FROM pg_trigger
	 WHERE tgname LIKE 'dumper%' ORDER BY 1, 2};
my $registrations = $old->safe_psql('postgres', $registrations_sql);
is( $registrations,
	join("\n",
		'icecream|"Shop"."icecream paths"(icecream)||{icecream_sizes}|{dumper_row,dumper_truncate}',
		'size||{"/size/{slug}/"}|{icecream_sizes}|{dumper_row,dumper_truncate}'),
	'old cluster: a paths function in a quoted schema, templates and a join table');
my $triggers = $old->safe_psql('postgres', $triggers_sql);
my $pending_sql = q{SELECT string_agg(DISTINCT path, ' ' ORDER BY path) FROM dumper_pending};
is($old->safe_psql('postgres', $pending_sql),
	'/icecream/mint/ /icecream/vanilla/ /icecreams/ /size/small/',
	'old cluster: the setup\'s invalidations are pending (Redis unreachable)');
$old->stop;

# ---- the upgrade ---------------------------------------------------------------
my $new = DumperTest::new_node('new', redis => $closed, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
my $bindir = $new->config_data('--bindir');
# pg_upgrade writes its logs in the current directory: a writable one.
my $cwd = getcwd();
chdir PostgreSQL::Test::Utils::tempdir() or die "chdir: $!";
my ($stdout, $stderr) = run_command([
	'pg_upgrade', '--no-sync',
	'-d', $old->data_dir, '-D', $new->data_dir,
	'-b', $bindir, '-B', $bindir,
	'-s', $new->host, '-p', $old->port, '-P', $new->port ]);
chdir $cwd or die "chdir: $!";
like($stdout, qr/Upgrade Complete/, 'pg_upgrade completes')
  or diag("stdout:\n$stdout\nstderr:\n$stderr");
like($stdout, qr/Checking for reg\* data types in user tables\s+ok/, 'the reg* check passes');

# ---- the new cluster -------------------------------------------------------------
# Every key, pending and new, as a web tier keeps them, and one nothing names.
$redis->cmd('SET', "dumper:$_", 'stamp')
  for qw(/icecream/vanilla/ /icecream/mint/ /icecreams/ /size/small/ /unrelated/);
$new->start;
is($new->safe_psql('postgres', $registrations_sql), $registrations,
	'new cluster: the registrations as they were');
is($new->safe_psql('postgres', $triggers_sql), $triggers,
	'new cluster: dumper\'s triggers as they were');

# Redis unreachable at start: the first batch fails, the sync stays.
my $depends_sql = q{
	SELECT count(*) FROM pg_depend
	 WHERE classid = 'pg_trigger'::regclass AND refclassid = 'pg_proc'::regclass
	   AND refobjid = %s::regprocedure};
ok($new->poll_query_until('postgres', 'SELECT failures > 0 FROM dumper_stats'),
	'new cluster, Redis unreachable: the worker\'s batches fail');
ok( $new->poll_query_until('postgres',
		sprintf($depends_sql, q{'"Shop"."icecream paths"(icecream)'}), '2'),
	'new cluster, Redis unreachable: the worker gives both triggers their dependency on the paths function');
is($redis->cmd('EXISTS', map { "dumper:$_" }
		qw(/icecream/vanilla/ /icecream/mint/ /icecreams/ /size/small/)), '4',
	'new cluster, Redis unreachable: nothing delivered yet');
DumperTest::set_redis_url($new, $redis->url);
ok( $redis->wait_for(
		sub {
			$redis->cmd('EXISTS', map { "dumper:$_" }
				  qw(/icecream/vanilla/ /icecream/mint/ /icecreams/ /size/small/)) eq '0';
		},
		timeout => 30),
	'new cluster: the invalidations pending at the upgrade are delivered once Redis is reachable');

# Writes through each kind of registration, each its own transaction.
sub write_delivered
{
	my ($sql, $what, @paths) = @_;
	$redis->cmd('SET', "dumper:$_", 'stamp') for @paths;
	$new->safe_psql('postgres', $sql);
	ok($redis->wait_for(sub { $redis->cmd('EXISTS', map { "dumper:$_" } @paths) eq '0' }),
		"new cluster: $what is delivered");
}
write_delivered(q{UPDATE icecream SET slug = 'vanilla-bean' WHERE id = 1},
	'a write through the paths function', '/icecream/vanilla-bean/', '/icecreams/');
write_delivered(q{UPDATE size SET slug = 'large' WHERE id = 1},
	'a write through the templates', '/size/large/');
write_delivered(q{INSERT INTO icecream_sizes VALUES (2, 1)},
	'a write to the join table', '/icecream/mint/', '/size/large/');
is($redis->cmd('EXISTS', 'dumper:/unrelated/'), '1', 'new cluster: no other key deleted');

# The paths function still guards itself: the upgrade did not carry the
# triggers' dependency on it; the worker gave it back in its database
# (above), and a DROP gives it back in any database before it runs.
my ($ret, $out, $err) = $new->psql('postgres',
	'BEGIN; DROP FUNCTION "Shop"."icecream paths"(icecream); ROLLBACK;');
like($err, qr/because other objects depend on it/,
	'new cluster: DROP FUNCTION of the paths function in use is refused');
is($new->safe_psql('other', sprintf($depends_sql, q{'cone_paths(cone)'})), '0',
	'new cluster, other database: no dependency yet');
($ret, $out, $err) = $new->psql('other', 'DROP FUNCTION cone_paths(cone)');
like($err, qr/cannot drop function cone_paths\(cone\) because other objects depend on it/,
	'new cluster, other database: DROP FUNCTION of the paths function is refused too');
$new->safe_psql('other', q{
	BEGIN;
	INSERT INTO cone VALUES (1, 'waffle');
	SELECT dumper_invalidate('/check/');
	COMMIT});
is($new->safe_psql('other', $pending_sql), '/check/ /cone/waffle/',
	'new cluster, other database: a write through the paths function is queued');

# A rename of the paths function and of its schema is followed.
$new->safe_psql('postgres', q{
	ALTER FUNCTION "Shop"."icecream paths"(icecream) RENAME TO icecream_paths;
	ALTER SCHEMA "Shop" RENAME TO shop});
is($new->safe_psql('postgres',
		q{SELECT paths_function FROM dumper_registrations WHERE table_name = 'icecream'::regclass}),
	'shop.icecream_paths(icecream)', 'new cluster: the renamed paths function is shown');
is($new->safe_psql('postgres',
		q{SELECT paths_schema || '.' || paths_name FROM dumper.registration
		   WHERE tbl = 'icecream'::regclass}),
	'shop.icecream_paths', 'new cluster: and recorded by its new name');
write_delivered(q{UPDATE icecream SET slug = 'mint-chip' WHERE id = 2},
	'a write through the renamed function', '/icecream/mint-chip/');

$new->stop;
$redis->stop;
done_testing();
