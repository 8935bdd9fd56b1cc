# Paths reach Redis in UTF-8 whatever the database's encoding: the web tier
# computes its keys from UTF-8 paths (Django: request.path, encoded), so a
# LATIN1 or EUC_JP database's paths are converted at delivery, by the
# worker and by dumper_deliver() alike, in the DEL and in the PUBLISH.  A
# SQL_ASCII database's bytes have no known encoding and are sent as stored,
# and so is a path with a character UTF-8 has no equivalent for: never an
# error, which would fail every batch and stop delivery.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('encoding', redis => $redis,
	extra => [ "dumper.database = 'latin'" ]);
$node->start;
for my $db ([ 'latin', 'LATIN1' ], [ 'eucjp', 'EUC_JP' ], [ 'ascii', 'SQL_ASCII' ])
{
	$node->safe_psql('postgres',
		"CREATE DATABASE $db->[0] TEMPLATE template0 ENCODING '$db->[1]' LOCALE 'C'");
	$node->safe_psql($db->[0], 'CREATE EXTENSION dumper');
}

# The last line of a psql output (void calls print empty lines before it).
sub last_line
{
	my @lines = split /\n/, $_[0];
	return $lines[-1];
}

# A key as the web tier spells it: the prefix and the path, in UTF-8.
sub key
{
	my ($path) = @_;
	my $k = "dumper:$path";
	utf8::encode($k);
	return $k;
}

# LATIN1, through the worker: a registered table's template and an
# explicit path; the key in LATIN1's own bytes is not the page's and stays.
my $latin1_bytes = "dumper:/caf\x{e9}/";    # a Perl byte string: \xe9
$redis->cmd('SET', key("/icecream/cr\x{e8}me/"), 'page');
$redis->cmd('SET', key("/caf\x{e9}/"), 'page');
$redis->cmd('SET', $latin1_bytes, 'page');
$node->safe_psql('latin', q{
	CREATE TABLE icecream (id int PRIMARY KEY, slug text);
	SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/']);
	INSERT INTO icecream VALUES (1, E'cr\u00e8me');
	SELECT dumper_invalidate(E'/caf\u00e9/');
});
ok(DumperTest::wait_for(
		sub { $redis->cmd('EXISTS', key("/icecream/cr\x{e8}me/")) eq '0' }),
	'LATIN1: the worker deletes the template path\'s UTF-8 key');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', key("/caf\x{e9}/")) eq '0' }),
	'LATIN1: the worker deletes the explicit path\'s UTF-8 key');
is($redis->cmd('EXISTS', $latin1_bytes), '1', 'LATIN1: the key in LATIN1 bytes stays');

# EUC_JP, through dumper_deliver(), with the path published too.
my $snow = "/\x{96ea}/";    # a kanji, three bytes in UTF-8, two in EUC_JP
$redis->cmd('SET', key($snow), 'page');
my $sub = $redis->subscribe('invalidated');
is( last_line($node->safe_psql('eucjp', q{
		SET dumper.publish_channel = 'invalidated';
		SELECT dumper_invalidate(E'/\u96ea/');
		SELECT dumper_deliver();
	})),
	'1',
	'EUC_JP: dumper_deliver() sends the path');
is($redis->cmd('EXISTS', key($snow)), '0', 'EUC_JP: its UTF-8 key is deleted');
my $published = $snow;
utf8::encode($published);
ok($sub->wait_for_message($published), 'EUC_JP: the path is published in UTF-8');
$sub->stop;

# EUC_JP's user-defined area has no UTF-8 equivalent: that path is sent as
# stored, with no error, and the batch's other path is delivered with it.
my $unmapped = "dumper:/x\xf5\xa1/";    # EUC_JP's bytes, as stored
$redis->cmd('SET', $unmapped, 'page');
$redis->cmd('SET', key("/y\x{96ea}/"), 'page');
is( last_line($node->safe_psql('eucjp', q{
		SELECT dumper_invalidate(E'/x\365\241/');
		SELECT dumper_invalidate(E'/y\u96ea/');
		SELECT dumper_deliver();
	})),
	'2',
	'EUC_JP: a path with no UTF-8 equivalent does not stop the batch');
is($redis->cmd('EXISTS', $unmapped), '0', 'EUC_JP: that path is sent as stored');
is($redis->cmd('EXISTS', key("/y\x{96ea}/")), '0', 'EUC_JP: the other path is converted');

# SQL_ASCII: the bytes as stored (here UTF-8's, written as octal escapes).
$redis->cmd('SET', key("/na\x{ef}ve/"), 'page');
is( last_line($node->safe_psql('ascii', q{
		SELECT dumper_invalidate(E'/na\303\257ve/');
		SELECT dumper_deliver();
	})),
	'1', 'SQL_ASCII: dumper_deliver() sends the path');
is($redis->cmd('EXISTS', key("/na\x{ef}ve/")), '0', 'SQL_ASCII: the stored bytes are the key');

$redis->stop;
done_testing();
