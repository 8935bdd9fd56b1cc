# ALTER EXTENSION dumper UPDATE from every released version gives what a
# fresh install of the current one gives: a database where 1.0 was installed
# and filled (registrations with a paths function and with templates, a
# partitioned table, pure and explicit join tables, pending rows) and then
# updated, and one where the current version was installed and filled the
# same way, have the same schema, extension members included (pg_dump
# --schema-only --binary-upgrade dumps them), with the same privileges and
# the same comments; the updated one then delivers what was pending and
# every registration still invalidates.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('upgrade', redis => $redis, preload => 1,
	extra => [ "dumper.database = 'updated'", "dumper.naptime = '100ms'" ]);
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'dumper'});
my @released = grep { $_ ne $current } split /\n/, $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'dumper' ORDER BY version});
ok(scalar(@released) >= 1, "released versions before $current: @released");

# The same schema and rows, whatever the version installed.
my $fill = q{
	CREATE TABLE icecream (id int PRIMARY KEY, slug text);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/'] $$;
	CREATE TABLE size (id int PRIMARY KEY, name text);
	CREATE TABLE icecream_size (icecream_id int REFERENCES icecream, size_id int REFERENCES size,
		PRIMARY KEY (icecream_id, size_id));
	CREATE TABLE topping (id int PRIMARY KEY, name text);
	CREATE TABLE icecream_topping (icecream_id int REFERENCES icecream,
		topping_id int REFERENCES topping, grams int, PRIMARY KEY (icecream_id, topping_id));
	CREATE TABLE event (id int, day date, slug text) PARTITION BY RANGE (day);
	CREATE TABLE event_2026 PARTITION OF event FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	SELECT dumper_register('icecream');
	SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
	SELECT dumper_register('topping', templates => ARRAY['/topping/{name}/']);
	SELECT dumper_register_join('icecream_topping');
	SELECT dumper_register('event', templates => ARRAY['/event/{slug}/']);
};
my $rows = q{
	INSERT INTO icecream VALUES (1, 'vanilla');
	INSERT INTO size VALUES (1, 'small');
	INSERT INTO topping VALUES (1, 'nuts');
	INSERT INTO icecream_size VALUES (1, 1);
	INSERT INTO icecream_topping VALUES (1, 1, 5);
	INSERT INTO event VALUES (1, '2026-03-01', 'spring');
};

# The binary-upgrade schema dump, less what differs between any two
# databases: OIDs, relfilenodes, frozen xids, the database's own name.
sub schema_dump
{
	my ($db) = @_;
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '--no-comments',
			'-h', $node->host, '-p', $node->port, $db ],
		'>', \$stdout, '2>', \$stderr)
	  or die "pg_dump $db failed: $stderr";
	my @lines = grep {
		!/binary_upgrade_set_next|binary_upgrade_set_missing|relfrozenxid|relminmxid|datfrozenxid|datminmxid/
		  && !/^-- Dumped (from|by)/ && !/^\\(un)?restrict /
	} split /\n/, $stdout;
	# OIDs (the configuration tables' in the extension's record, the
	# relations' in their catalog updates) are the database's own.
	@lines = map { /binary_upgrade_create_empty_extension|WHERE oid = / ? s/\b\d{4,}\b/N/gr : $_ } @lines;
	return join("\n", map { s/\b$db\b/DB/gr } @lines) . "\n";
}

for my $from (@released)
{
	# The worker is connected to the database of the previous version's
	# round: FORCE ends its session, and the postmaster starts it again.
	$node->safe_psql('postgres', q{DROP DATABASE IF EXISTS updated WITH (FORCE)});
	$node->safe_psql('postgres', q{DROP DATABASE IF EXISTS fresh});
	$node->safe_psql('postgres', q{CREATE DATABASE updated});
	$node->safe_psql('postgres', q{CREATE DATABASE fresh});

	# The worker serves "updated": stop delivery there while it is filled,
	# so that rows are pending across the update.
	DumperTest::set_redis_url($node, 'redis://127.0.0.1:1/0');
	$node->safe_psql('updated', qq{CREATE EXTENSION dumper VERSION '$from'});
	$node->safe_psql('updated', $fill . $rows);
	ok($node->safe_psql('updated', q{SELECT count(*) > 0 FROM dumper.queue}) eq 't',
		"$from: rows pending before the update");
	$node->safe_psql('updated', q{ALTER EXTENSION dumper UPDATE});
	is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'dumper'}),
		$current, "$from: updated to $current");

	$node->safe_psql('fresh', q{CREATE EXTENSION dumper});
	$node->safe_psql('fresh', $fill . $rows);

	my $updated = schema_dump('updated');
	my $fresh = schema_dump('fresh');
	like($fresh, qr/CREATE VIEW public\.dumper_stats/, 'the dump shows the extension members');
	if ($updated eq $fresh)
	{
		pass("$from: the updated schema, privileges included, is the fresh one");
	}
	else
	{
		my $dir = PostgreSQL::Test::Utils::tempdir();
		append_to_file("$dir/updated.sql", $updated);
		append_to_file("$dir/fresh.sql", $fresh);
		my ($diff) = ('');
		IPC::Run::run([ 'diff', '-u', "$dir/fresh.sql", "$dir/updated.sql" ], '>', \$diff);
		fail("$from: the updated schema, privileges included, is the fresh one");
		diag($diff);
	}

	# The comments (the dump above leaves them out): every member's, the
	# views' columns included, as a fresh CREATE EXTENSION gives them.
	my $comments = q{
		SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
		FROM pg_description AS d
		JOIN pg_depend AS e ON e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e'
		JOIN pg_extension AS x ON x.oid = e.refobjid AND x.extname = 'dumper'
		ORDER BY 1};
	is($node->safe_psql('updated', $comments), $node->safe_psql('fresh', $comments),
		"$from: the updated comments are the fresh ones");

	# Delivery and every registration work in the updated database.
	my @keys = map { "dumper:$_" }
	  ('/icecream/vanilla/', '/size/small/', '/topping/nuts/', '/event/spring/',
		'/icecream/mint/', '/size/big/', '/topping/fudge/', '/event/summer/');
	$redis->cmd('SET', $_, 'stamp') for @keys;
	DumperTest::set_redis_url($node, $redis->url);
	ok($node->poll_query_until('updated', 'SELECT count(*) = 0 FROM dumper_pending'),
		"$from: what was pending is delivered");
	$node->safe_psql('updated', q{
		UPDATE icecream SET slug = 'mint';
		UPDATE size SET name = 'big';
		UPDATE topping SET name = 'fudge';
		UPDATE event SET slug = 'summer';
	});
	ok($redis->wait_for(sub { $redis->cmd('EXISTS', @keys) eq '0' }),
		"$from: every registration (function, templates, partitions) invalidates");
	$redis->cmd('SET', 'dumper:/icecream/mint/', 'stamp');
	$node->safe_psql('updated', q{DELETE FROM icecream_topping});
	ok($redis->wait_for(sub { $redis->cmd('EXISTS', 'dumper:/icecream/mint/') eq '0' }),
		"$from: the explicit join table invalidates");
}

done_testing();
