# End to end against a real Redis: committed writes delete exactly the
# expected keys after dumper_deliver(); rolled-back work, rolled-back
# savepoints and unfinished 2PC delete nothing; keys are binary-safe; a Redis
# outage fails delivery clearly and loses nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('deliver', redis => $redis, preload => 0);
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
	CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql
		AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
	SELECT dumper_register('icecream');
	INSERT INTO icecream VALUES (1, 'vanilla', 1), (2, 'chocolate', 1), (3, 'mint', 1);
	SELECT dumper_deliver();
});

my @all_paths = qw(/icecreams/ /icecream/vanilla/ /icecream/vanilla-bean/
  /icecream/chocolate/ /icecream/mint/ /icecream/mint-x/ /icecream/lemon/
  /icecream/lemon-x/ /icecream/strawberry/);

# Set every path's key, as a web tier would, then run $sql, deliver, and
# return the sorted list of paths whose key is gone.
sub deleted_after
{
	my ($sql) = @_;
	$redis->cmd('SET', "dumper:$_", 'stamp') for @all_paths;
	$node->safe_psql('postgres', $sql);
	$node->safe_psql('postgres', 'SELECT dumper_deliver()');
	return join(' ', sort grep { $redis->cmd('EXISTS', "dumper:$_") eq '0' } @all_paths);
}

is(deleted_after(q{INSERT INTO icecream VALUES (4, 'lemon', 1)}),
	'/icecream/lemon/ /icecreams/', 'INSERT deletes the new row\'s keys');

is(deleted_after(q{UPDATE icecream SET slug = 'vanilla-bean' WHERE id = 1}),
	'/icecream/vanilla-bean/ /icecream/vanilla/ /icecreams/',
	'UPDATE changing the slug deletes the old and the new path');

is(deleted_after(q{DELETE FROM icecream WHERE id = 2}),
	'/icecream/chocolate/ /icecreams/', 'DELETE deletes the old row\'s keys');

is(deleted_after(q{BEGIN; UPDATE icecream SET slug = 'mint-x' WHERE id = 3; ROLLBACK;}),
	'', 'a rolled-back transaction deletes nothing');

is(deleted_after(q{
	BEGIN;
	UPDATE icecream SET price = 2 WHERE id = 3;
	SAVEPOINT s;
	UPDATE icecream SET slug = 'lemon-x' WHERE id = 4;
	ROLLBACK TO SAVEPOINT s;
	COMMIT;
}), '/icecream/mint/ /icecreams/', 'a rolled-back savepoint\'s keys remain');

is(deleted_after(q{
	BEGIN;
	INSERT INTO icecream VALUES (5, 'strawberry', 1);
	PREPARE TRANSACTION 'p1';
}), '', 'a prepared transaction deletes nothing before COMMIT PREPARED');
is(deleted_after(q{COMMIT PREPARED 'p1'}), '/icecream/strawberry/ /icecreams/',
	'COMMIT PREPARED delivers');
is(deleted_after(q{
	BEGIN;
	UPDATE icecream SET slug = 'lemon-x' WHERE id = 4;
	PREPARE TRANSACTION 'p2';
	ROLLBACK PREPARED 'p2';
}), '', 'ROLLBACK PREPARED delivers nothing');

# 1,000 rows producing the same path: queued once, deleted.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO icecream SELECT g, 'bulk', 1 FROM generate_series(100, 1099) g;
	COMMIT;
});
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM dumper_pending WHERE path = '/icecream/bulk/'}),
	'1', 'a path produced by 1,000 rows is queued once');
$redis->cmd('SET', 'dumper:/icecream/bulk/', 'stamp');
is($node->safe_psql('postgres', 'SELECT dumper_deliver()'), '2',
	'the bulk transaction delivers its two distinct paths');
is($redis->cmd('EXISTS', 'dumper:/icecream/bulk/'), '0', 'bulk path key deleted');

# Binary safety: spaces, a newline, quotes and non-ASCII UTF-8, byte-exact.
my $odd = "/caf\x{e9} cr\x{e8}me/\"q\" 'single'\nline2/\x{96ea}/";
utf8::encode($odd);
my $near = "/caf\x{e9} cr\x{e8}me/";
utf8::encode($near);
$redis->cmd('SET', "dumper:$odd", 'stamp');
$redis->cmd('SET', "dumper:$near", 'stamp');
$node->safe_psql('postgres',
	q{SELECT dumper_invalidate(E'/caf\u00e9 cr\u00e8me/"q" ''single''\nline2/\u96ea/')});
is($node->safe_psql('postgres', 'SELECT dumper_deliver()'), '1', 'odd path delivered');
is($redis->cmd('EXISTS', "dumper:$odd"), '0', 'binary-safe key deleted byte-exact');
is($redis->cmd('EXISTS', "dumper:$near"), '1', 'a key sharing its prefix is untouched');

# PUBLISH when dumper.publish_channel is set: the subscriber gets the path.
{
	my $sub = $redis->subscribe('dumper-test-channel');
	$node->safe_psql('postgres', q{SELECT dumper_invalidate('/published/')});
	$node->safe_psql('postgres', q{
		SET dumper.publish_channel = 'dumper-test-channel';
		SELECT dumper_deliver();
	});
	ok($sub->wait_for_message('/published/'), 'path published on the channel');
	$sub->stop;
}

# Redis outage: writes commit, delivery fails clearly, nothing is lost.
$redis->stop;
$node->safe_psql('postgres', q{UPDATE icecream SET slug = 'outage-' || id WHERE id IN (1, 3)});
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT dumper_deliver()');
isnt($ret, 0, 'dumper_deliver fails while Redis is down');
like($stderr, qr/could not deliver invalidations to Redis/, 'with a clear error');
like($stderr, qr/DETAIL:.*127\.0\.0\.1/, 'naming the server');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '5',
	'every pending row is kept');

$redis->start;
$redis->cmd('SET', "dumper:$_", 'stamp')
  for qw(/icecream/outage-1/ /icecream/outage-3/ /icecream/vanilla-bean/ /icecream/mint/ /icecreams/);
is($node->safe_psql('postgres', 'SELECT dumper_deliver()'), '5',
	'delivery completes once Redis is back');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dumper_pending'), '0', 'queue drained');
is(join(' ', map { $redis->cmd('EXISTS', "dumper:$_") }
	qw(/icecream/outage-1/ /icecream/outage-3/ /icecream/vanilla-bean/ /icecream/mint/ /icecreams/)),
	'0 0 0 0 0', 'nothing missing after the outage');

$node->stop;
$redis->stop;
done_testing();
