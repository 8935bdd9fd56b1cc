# A SETOF paths function's result is not held whole in the writer's memory:
# one row whose function returns 2,000,000 paths, written with
# dumper.work_mem = 1MB, must raise the backend's peak resident memory
# (VmHWM of /proc/<pid>/status, read by the backend itself) by far less
# than holding the result does, and queue every one of the paths.  The same
# through a join table, whose lookup calls the referenced table's SETOF
# function.  Measured on this node: a growth of about 187 MB when the
# result was gathered in SPI_tuptable, about 20 MB when its rows go to the
# set as they come (of which up to shared_buffers is queue pages the
# spills touch).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

# The bound on the growth, in kB: far under what holding the paths took,
# far over what streaming them takes (both measured, see above).
my $bound_kb = 80 * 1024;
my $npaths   = 2_000_000;

# Small shared buffers: the queue rows the spills write touch shared pages,
# which count in VmHWM too, up to shared_buffers.
my $node = DumperTest::new_node('setof_memory', preload => 0,
	extra => [ 'shared_buffers = 16MB' ]);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION dumper;
	CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL);
	CREATE FUNCTION big_paths(big) RETURNS SETOF text LANGUAGE sql STABLE AS $$
		SELECT '/big/' || $1.id || '/' || g || '/' FROM generate_series(1, $1.n) g $$;
	SELECT dumper_register('big', 'big_paths');
	CREATE TABLE big_tag (big_id int REFERENCES big, tag int NOT NULL);
	SELECT dumper_register_join('big_tag');
	CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS $$
		SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status')
		                 FROM 'VmHWM:\s*(\d+)')::bigint $$;
	INSERT INTO big VALUES (1, 10);
});

# In one backend: a small write of each kind first (plans, caches), the
# peak, the large write, the peak again.  Prints "before after".
sub peak_growth
{
	my ($write) = @_;
	return $node->safe_psql('postgres', qq{
		SET dumper.work_mem = '1MB';
		BEGIN;
		UPDATE big SET n = n WHERE id = 1;
		INSERT INTO big_tag VALUES (1, 0);
		ROLLBACK;
		CREATE TEMP TABLE peak AS SELECT peak_kb() AS before;
		$write;
		SELECT before || ' ' || peak_kb() FROM peak;
	});
}

$node->safe_psql('postgres', 'TRUNCATE dumper.queue, dumper.spill_queue');
my ($before, $after) = split / /, peak_growth("INSERT INTO big VALUES (2, $npaths)");
my $growth = $after - $before;
diag("row trigger: VmHWM $before kB before, $after kB after, growth $growth kB");
cmp_ok($growth, '<', $bound_kb,
	"a row whose SETOF function returns $npaths paths raises the peak by less than $bound_kb kB");
is($node->safe_psql('postgres', q{SELECT count(*) FROM dumper_pending WHERE path LIKE '/big/2/%'}),
	$npaths, "all $npaths paths are queued");

$node->safe_psql('postgres', 'TRUNCATE dumper.queue, dumper.spill_queue');
($before, $after) = split / /, peak_growth("INSERT INTO big_tag VALUES (2, 1)");
$growth = $after - $before;
diag("join lookup: VmHWM $before kB before, $after kB after, growth $growth kB");
cmp_ok($growth, '<', $bound_kb,
	"a join row whose referenced row's SETOF function returns $npaths paths raises the peak by less than $bound_kb kB");
is($node->safe_psql('postgres', q{SELECT count(*) FROM dumper_pending WHERE path LIKE '/big/2/%'}),
	$npaths, "all $npaths paths of the referenced row are queued");

$node->stop;
done_testing();
