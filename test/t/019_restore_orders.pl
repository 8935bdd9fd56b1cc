# Restoring a dump in any order a parallel pg_restore can take, and
# restoring it as the role that owns the tables.
#
# Part 1 (issue 24, defect 9): the post-data items that matter -- dumper's
# triggers and the constraints of the tables they sit on -- are restored,
# with pg_restore -L, in every order that matters (see "Which orders" below),
# each into a fresh database; then a few real pg_restore -j 2 runs.  Each
# restore must exit 0 and leave every dumper trigger exactly once, the
# registrations and join tables as in the source, the triggers depending on
# their paths functions as after a serial restore (DROP FUNCTION refused),
# and writes gathering their paths.  Before the fix, the orders in which a
# constraint's ALTER TABLE came after a registered table's dumper_row and
# before one of the other triggers failed: dumper's DDL event trigger had
# installed that trigger already (trigger "..." already exists).  Then
# restores with the data of dumper's own tables after every post-data
# item (see "dumper's own data after the post-data items").
#
# Part 2 (issue 24, also found): pg_restore --no-owner run by the ordinary
# role owning the tables, into a database where a superuser created the
# extension, cannot bring back registrations or triggers; it must say so at
# each of those points with dumper's error, naming the object, with a hint.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use DumperTest;

my $started = time;
# Nobody delivers: the worker serves 'postgres', where dumper is not
# installed, and the source's writes stay pending.
my $node = DumperTest::new_node('restore_orders', preload => 1,
	extra => [ "dumper.database = 'postgres'" ]);
$node->start;
my @conn = ('-h', $node->host, '-p', $node->port);

# ---- the source database ------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
	CREATE EXTENSION dumper;
	-- A registered table with a paths function, its pure join table (found
	-- by dumper_register) and a join table with an extra column (registered
	-- with dumper_register_join).
	CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
	CREATE TABLE topping (id int PRIMARY KEY, name text NOT NULL);
	CREATE TABLE icecream_toppings (
	    icecream_id int REFERENCES icecream,
	    topping_id int REFERENCES topping,
	    PRIMARY KEY (icecream_id, topping_id));
	CREATE TABLE scoop (id int PRIMARY KEY,
	                    icecream_id int NOT NULL REFERENCES icecream,
	                    grams int NOT NULL);
	CREATE FUNCTION icecream_paths(icecream) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/icecream/' || $1.slug || '/' $$;
	SELECT dumper_register('icecream', 'icecream_paths');
	SELECT dumper_register_join('scoop');
	-- A registered table with path templates.
	CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
	SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
	-- A registered partitioned table: a partition from before the
	-- registration, one created after it.
	CREATE TABLE event (id int NOT NULL, day date NOT NULL, PRIMARY KEY (id, day))
	    PARTITION BY RANGE (day);
	CREATE TABLE event_2025 PARTITION OF event
	    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE FUNCTION event_paths(event) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/event/' || $1.id || '/' $$;
	SELECT dumper_register('event', 'event_paths');
	CREATE TABLE event_2026 PARTITION OF event
	    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	INSERT INTO icecream VALUES (1, 'vanilla'), (2, 'mint');
	INSERT INTO topping VALUES (1, 'nuts'), (2, 'sauce');
	INSERT INTO icecream_toppings VALUES (1, 1);
	INSERT INTO scoop VALUES (1, 1, 100);
	INSERT INTO size VALUES (1, 'small');
	INSERT INTO event VALUES (1, '2025-05-05'), (2, '2026-05-05');
});

my $registrations_sql = q{
	SELECT table_name, paths_function, templates, join_tables, triggers
	  FROM dumper_registrations ORDER BY table_name::text};
my $join_tables_sql = q{SELECT tbl, explicit FROM dumper.join_table ORDER BY tbl::text};
my $triggers_sql = q{
	SELECT tgrelid::regclass, tgname, count(*) FROM pg_trigger
	 WHERE tgname LIKE 'dumper%' GROUP BY 1, 2 ORDER BY tgrelid::regclass::text, tgname};
# Which triggers depend on which paths function.
my $depends_sql = q{
	SELECT t.tgrelid::regclass, t.tgname, d.refobjid::regprocedure FROM pg_depend AS d
	  JOIN pg_trigger AS t ON t.oid = d.objid
	 WHERE d.classid = 'pg_trigger'::regclass AND d.refclassid = 'pg_proc'::regclass
	   AND t.tgname LIKE 'dumper%'
	 ORDER BY t.tgrelid::regclass::text, t.tgname, d.refobjid::regprocedure::text};
# One transaction writing through every kind of registration (and a
# TRUNCATE of a partition): the paths it gathered.
my $writes_sql = q{
	BEGIN;
	UPDATE icecream SET slug = 'mint-chip' WHERE id = 2;
	INSERT INTO icecream_toppings VALUES (2, 2);
	INSERT INTO scoop VALUES (2, 1, 80);
	UPDATE size SET name = 'tall';
	INSERT INTO event VALUES (7, '2025-07-07');
	TRUNCATE event_2026;
	SELECT string_agg(p, ' ' ORDER BY p) FROM dumper_transaction_paths() AS p;
	ROLLBACK;};
my %source = (
	registrations => $node->safe_psql('source', $registrations_sql),
	join_tables   => $node->safe_psql('source', $join_tables_sql),
	triggers      => $node->safe_psql('source', $triggers_sql),
	writes        => $node->safe_psql('source', $writes_sql));
is( $source{triggers},
	join("\n",
		map { "$_|1" } 'event|dumper_row', 'event|dumper_truncate',
		'event_2025|dumper_row',     'event_2025|dumper_truncate',
		'event_2026|dumper_row',     'event_2026|dumper_truncate',
		'icecream|dumper_row',       'icecream|dumper_truncate',
		'icecream_toppings|dumper_join', 'icecream_toppings|dumper_join_truncate',
		'scoop|dumper_join',         'scoop|dumper_join_truncate',
		'size|dumper_row',           'size|dumper_truncate'),
	'source: every dumper trigger, once');
is($source{writes},
	'/event/2/ /event/7/ /icecream/mint-chip/ /icecream/mint/ /icecream/vanilla/ /size/small/ /size/tall/',
	'source: the writes gather every expected path');

# Only dumper's own triggers make way: another function's trigger of that
# name, and a partition's clone of its parent's dumper_row, stay, and the
# statement fails on them.
{
	my ($ret, $out, $err) = $node->psql('source', q{
		CREATE TABLE other (id int);
		CREATE FUNCTION other_audit() RETURNS trigger LANGUAGE plpgsql
		    AS $$ BEGIN RETURN NULL; END $$;
		CREATE TRIGGER dumper_truncate BEFORE TRUNCATE ON other
		    EXECUTE FUNCTION other_audit();
		CREATE TRIGGER dumper_truncate BEFORE TRUNCATE ON other
		    FOR EACH STATEMENT EXECUTE FUNCTION dumper.truncate_trigger();});
	like($err, qr/trigger "dumper_truncate" for relation "other" already exists/,
		'a trigger of dumper\'s name executing another function is not dropped');
	($ret, $out, $err) = $node->psql('source', q{
		CREATE TRIGGER dumper_row AFTER INSERT OR UPDATE OR DELETE ON event_2025
		    FOR EACH ROW EXECUTE FUNCTION dumper.trigger();});
	like($err, qr/trigger "dumper_row" for relation "event_2025" already exists/,
		'nor a partition\'s clone of its parent\'s dumper_row');
	is($node->safe_psql('source', q{
		SELECT string_agg(concat_ws(' ', tgrelid::regclass, tgname, tgfoid::regproc), ', '
		                  ORDER BY tgrelid::regclass::text)
		  FROM pg_trigger
		 WHERE (tgrelid, tgname) IN (('other'::regclass, 'dumper_truncate'),
		                             ('event_2025'::regclass, 'dumper_row'))}),
		'event_2025 dumper_row dumper.trigger, other dumper_truncate other_audit',
		'(both still there)');
	$node->safe_psql('source', 'DROP TABLE other; DROP FUNCTION other_audit()');
}

my $dir = PostgreSQL::Test::Utils::tempdir();
my $dump = "$dir/source.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, @conn, 'source' ], 'pg_dump -Fc');

# Run a command; return its exit status and stderr.
sub run_cmd
{
	my ($cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run($cmd, '>', \$out, '2>', \$err);
	return ($? >> 8, $err);
}

# Restore into a new database $db with extra pg_restore options; check what
# must hold after any restore; drop the database.  $what names the restore.
my $reference_depends;
sub restore_and_check
{
	my ($db, $what, @opts) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	my ($rc, $err) = run_cmd([ 'pg_restore', @conn, '-d', $db, @opts, $dump ]);
	is($rc, 0, "$what: pg_restore exits 0") or diag($err);
	is($node->safe_psql($db, $triggers_sql), $source{triggers},
		"$what: every dumper trigger exactly once, where it belongs");
	is($node->safe_psql($db, $registrations_sql) . "\n" . $node->safe_psql($db, $join_tables_sql),
		"$source{registrations}\n$source{join_tables}",
		"$what: registrations and join tables intact");
	my $depends = $node->safe_psql($db, $depends_sql);
	$reference_depends //= $depends;
	is($depends, $reference_depends, "$what: the triggers depend on their paths functions");
	for my $func ('icecream_paths(icecream)', 'event_paths(event)')
	{
		my ($frc, $fout, $ferr) = $node->psql($db, "DROP FUNCTION $func");
		like($ferr, qr/cannot drop function \Q$func\E because other objects depend on it/,
			"$what: DROP FUNCTION $func, a paths function in use, is refused");
	}
	is($node->safe_psql($db, $writes_sql), $source{writes}, "$what: writes gather their paths");
	$node->safe_psql('postgres', qq{DROP DATABASE "$db"});
	return;
}

# ---- the reference: a serial restore in the dump's own order ------------------------
restore_and_check('serial', 'serial restore');
is($reference_depends, $node->safe_psql('source', $depends_sql),
	'serial restore: the triggers depend on the paths functions as in the source');

# ---- which orders ------------------------------------------------------------------
# A parallel restore creates each post-data item once its table's data and
# the items it depends on are restored: dumper's triggers depend on their
# table only, a foreign key on the referenced table's primary key, an index
# attach on both indexes.  Nothing else orders them.  What dumper's DDL
# event trigger does depends only on the order of these events: a
# constraint's ALTER TABLE on table T runs dumper.sync_table(T), which
# installs the dumper triggers T is missing when its registration is live
# (dumper_row restored on T or its registered ancestor), or when T is a join
# table that has its dumper_join (restored or installed), or a pure join
# table (once it has a foreign key and each of its columns is in one or in
# its primary key) referencing a registered table that has its dumper_row.  sync_table(T) installs
# triggers on T and its partitions only, and reads no trigger of other
# tables than T, its ancestors and the tables it references.  So the tables
# fall into independent groups, and in each group only the order of a few
# events matters; the other items of the list keep the dump's order, the
# constraints before the group's events (they run before any trigger
# exists: nothing to install) and the foreign keys and index attaches after
# them (every trigger exists by then).
#  - icecream_toppings (pure join table): icecream's dumper_row (r), its
#    dumper_join (j) and dumper_join_truncate (k), and its two ALTER TABLEs,
#    primary key and foreign key to icecream (A, A: which one comes first
#    changes nothing, both make it pure only together): 5!/2 = 60 orders,
#    after icecream's primary key (the foreign key needs it);
#  - scoop (explicit join table): dumper_join, dumper_join_truncate, its
#    primary key: 3! = 6 orders;
#  - size (registered table): dumper_row, dumper_truncate, primary key: 6;
#  - event (partitioned): its dumper_row (r), the primary keys of event (P)
#    and event_2025 (Q), event_2025's dumper_truncate (t): 4! = 24 orders,
#    each with event's own dumper_truncate before, between or after r and P
#    (every one of these 6 relative orders appears); event_2026, like
#    event_2025, after them, its trigger before its primary key.
# The groups are restored together, one order of each per database: 60
# restores cover every order of every group.
my ($list_rc, $list_err) = run_cmd([ 'pg_restore', '-l', '-f', "$dir/toc.list", $dump ]);
die "pg_restore -l: $list_err" if $list_rc;
my @toc = split /\n/, slurp_file("$dir/toc.list");
# The line of each post-data item, by "KIND table name".
my %item;
my (@pre, @post_before, @post_after);
for my $line (@toc)
{
	next if $line =~ /^;/ || $line !~ /\S/;
	if ($line =~ /^\d+; \d+ \d+ (FK CONSTRAINT|CONSTRAINT|TRIGGER|INDEX ATTACH) \S+ (\S+)(?: (\S+))? /)
	{
		my $key = defined $3 ? "$1 $2 $3" : "$1 $2";
		$item{$key} = $line;
		if ($1 eq 'CONSTRAINT') { push @post_before, $key }
		else                    { push @post_after, $key }
	}
	else
	{
		push @pre, $line;
	}
}

# Every permutation of a list.
sub permutations
{
	my @items = @_;
	return ([]) unless @items;
	my @result;
	for my $i (0 .. $#items)
	{
		my @rest = @items;
		my ($first) = splice(@rest, $i, 1);
		push @result, [ $first, @$_ ] for permutations(@rest);
	}
	return @result;
}

# Distinct permutations (the two ALTER TABLEs of the join table are one kind).
my %seen;
my @join_orders = grep { !$seen{ join ',', @$_ }++ } permutations(qw(r j k A A));
my @scoop_orders = permutations(qw(j k A));
my @size_orders = permutations(qw(r t A));
my @event_orders;
{
	my %slot = (0 => 0, 1 => 0);
	for my $order (permutations(qw(r P Q t)))
	{
		# Where event's own dumper_truncate (T) goes relative to r and P.
		my ($first) = grep { $_ eq 'r' || $_ eq 'P' } @$order;
		my $kind = $first eq 'r' ? 0 : 1;
		my $slot = $slot{$kind}++ % 3;
		my @o;
		my $seen_rp = 0;
		for my $e (@$order)
		{
			push @o, 'T' if ($e eq 'r' || $e eq 'P') && $seen_rp++ == $slot;
			push @o, $e;
		}
		push @o, 'T' if $slot == 2;
		push @event_orders, \@o;
	}
}
is(scalar @join_orders, 60, 'the join table group has 60 orders');
{
	my (%rpt, %rpqt);
	for my $o (@event_orders)
	{
		$rpt{ join '', grep { /[rPT]/ } @$o }++;
		$rpqt{ join '', grep { /[rPQt]/ } @$o }++;
	}
	is(scalar(keys %rpqt) . ' ' . scalar(keys %rpt), '24 6',
		'the partitioned table group: every order of r, P, Q, t, and of r, P, T');
}

my %names = (
	join => { r => 'TRIGGER icecream dumper_row',
		j => 'TRIGGER icecream_toppings dumper_join',
		k => 'TRIGGER icecream_toppings dumper_join_truncate',
		A => [ 'CONSTRAINT icecream_toppings icecream_toppings_pkey',
			'FK CONSTRAINT icecream_toppings icecream_toppings_icecream_id_fkey' ] },
	scoop => { j => 'TRIGGER scoop dumper_join', k => 'TRIGGER scoop dumper_join_truncate',
		A => 'CONSTRAINT scoop scoop_pkey' },
	size => { r => 'TRIGGER size dumper_row', t => 'TRIGGER size dumper_truncate',
		A => 'CONSTRAINT size size_pkey' },
	event => { r => 'TRIGGER event dumper_row', T => 'TRIGGER event dumper_truncate',
		P => 'CONSTRAINT event event_pkey', Q => 'CONSTRAINT event_2025 event_2025_pkey',
		t => 'TRIGGER event_2025 dumper_truncate' });
my @tail = ('TRIGGER event_2026 dumper_truncate', 'CONSTRAINT event_2026 event_2026_pkey',
	'TRIGGER icecream dumper_truncate');

# The partitioned table group's order when not the one of restore $i.
my $event_order;

# The list file of restore $i: the groups' items in their orders; the data
# of dumper's tables named in @data_last (registration, join_table) after
# every post-data item instead of before them.
sub list_file
{
	my ($i, @data_last) = @_;
	my @block = ('CONSTRAINT icecream icecream_pkey');
	my $alter = $i % 2;    # which of the join table's ALTER TABLEs comes first
	for my $e (@{ $join_orders[$i] })
	{
		if ($e eq 'A') { push @block, $names{join}{A}[$alter]; $alter = 1 - $alter }
		else           { push @block, $names{join}{$e} }
	}
	push @block, map { $names{scoop}{$_} } @{ $scoop_orders[ $i % 6 ] };
	push @block, map { $names{size}{$_} } @{ $size_orders[ ($i / 6) % 6 ] };
	push @block, map { $names{event}{$_} } @{ $event_order // $event_orders[ $i % 24 ] };
	push @block, @tail;
	my %in_block = map { $_ => 1 } @block;
	for my $key (@block)
	{
		die "no TOC entry $key" unless $item{$key};
	}
	my $data_re = join '|', map { quotemeta } @data_last;
	my @late = @data_last ? grep { /^\d+; \d+ \d+ TABLE DATA dumper (?:$data_re) / } @pre : ();
	die "no TOC entry for the data of @data_last" unless @late == @data_last;
	my %late = map { $_ => 1 } @late;
	my @lines = ((grep { !$late{$_} } @pre),
		(map { $item{$_} } grep { !$in_block{$_} } @post_before),
		(map { $item{$_} } @block),
		(map { $item{$_} } grep { !$in_block{$_} } @post_after),
		@late);
	my $file = join('_', "$dir/order$i", @data_last) . '.list';
	open my $fh, '>', $file or die "$file: $!";
	print $fh "$_\n" for @lines;
	close $fh;
	return ($file, join(' ', map { /(\S+ \S+)$/ ? $1 : $_ } @block));
}

my $t0 = time;
for my $i (0 .. $#join_orders)
{
	my ($file, $order) = list_file($i);
	note("order $i: $order");
	restore_and_check("order$i", "order $i", '-L', $file);
}
note(sprintf('%d orders restored in %.1f s', scalar @join_orders, time - $t0));

# ---- real parallel restores ----------------------------------------------------------
for my $i (1 .. 5)
{
	restore_and_check("parallel$i", "pg_restore -j 2, run $i", '-j', '2');
}

# ---- dumper's own data after the post-data items ----------------------------------
# A parallel restore may also load the rows of dumper.registration and
# dumper.join_table after any post-data item: they depend on no other
# table's trigger or constraint.  What changes then: (a) join_table's rows
# come after a constraint's ALTER TABLE made dumper.sync_table cover the
# pure join table (registration live: icecream's dumper_row restored, the
# join table's own dumper_join not yet), which wrote its row of join_table
# already; (b) the registrations come after the ALTER TABLE of a
# partitioned table (event's primary key) that follows the restore of
# dumper_truncate triggers, when nothing covers those tables yet.  Before
# the fix, (a) failed on join_table's unique index, losing scoop's explicit
# row, and (b) dropped every restored dumper_truncate as stale (exit 0,
# TRUNCATE invalidating nothing).  One order of the groups above that has
# both: the join table group's order r A A j k, the partitioned table's
# r T t Q P, each with the data of registration, join_table or both last.
my ($late_i) = grep { join('', @{ $join_orders[$_] }) eq 'rAAjk' } 0 .. $#join_orders;
$event_order = [qw(r T t Q P)];
for my $late ([ 'join_table' ], [ 'registration' ], [ 'registration', 'join_table' ])
{
	my ($file, $order) = list_file($late_i, @$late);
	note("order $late_i, then the data of @$late: $order");
	restore_and_check("late_" . join('_', @$late), "order $late_i, data of @$late last",
		'-L', $file);
}

# ---- concurrently: a partition's trigger and its parent's ALTER TABLE -------------
# A parallel restore runs the CREATE TRIGGER of a partition's
# dumper_truncate and an ALTER TABLE of its parent at once (pg_restore
# orders items on the same table, not on a partition and its parent).
# Here the ALTER TABLE installs the partition's trigger in a transaction
# still open when the restore's CREATE TRIGGER starts; once it commits,
# the CREATE TRIGGER must find dumper's trigger and take its place.
$node->safe_psql('postgres', 'CREATE DATABASE race');
$node->safe_psql('race', q{
	CREATE EXTENSION dumper;
	CREATE TABLE event (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
	CREATE TABLE event_2025 PARTITION OF event
	    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE FUNCTION event_paths(event) RETURNS text LANGUAGE sql STABLE
	    AS $$ SELECT '/event/' || $1.id || '/' $$;
	SELECT dumper_register('event', 'event_paths');
	-- Where a restore stands: event's triggers restored, not yet the
	-- partition's.
	DROP TRIGGER dumper_truncate ON event_2025;
});
my $alter = $node->background_psql('race');
$alter->query_safe('BEGIN');
$alter->query_safe('ALTER TABLE event ALTER COLUMN id SET STATISTICS 100');
my $create = $node->background_psql('race', on_error_stop => 0);
$create->query_until(qr/creating/, q{\echo creating
CREATE TRIGGER dumper_truncate BEFORE TRUNCATE ON public.event_2025 FOR EACH STATEMENT EXECUTE FUNCTION dumper.truncate_trigger();
});
ok( $node->poll_query_until('race', q{
		SELECT count(*) > 0 FROM pg_locks
		 WHERE NOT granted AND relation = 'event_2025'::regclass}),
	'concurrent: the CREATE TRIGGER waits for the ALTER TABLE that installs the trigger');
$alter->query_safe('COMMIT');
my (undef, $create_failed) = $create->query('SELECT 1');
is($create_failed ? $create->{stderr} : '', '',
	'concurrent: the CREATE TRIGGER succeeds once the ALTER TABLE commits');
$alter->quit;
$create->quit;
is($node->safe_psql('race', q{
	SELECT count(*) FROM pg_trigger
	 WHERE tgrelid = 'event_2025'::regclass AND tgname = 'dumper_truncate'}),
	'1', 'concurrent: the partition has its dumper_truncate once');
like($node->safe_psql('race', $depends_sql), qr/^event_2025\|dumper_truncate\|event_paths\(event\)$/m,
	'concurrent: and it depends on the paths function');

# ---- part 2: restoring as the role that owns the tables --------------------------------
$node->safe_psql('postgres', q{
	CREATE ROLE site LOGIN;
	CREATE DATABASE site_restored OWNER site;
});
$node->safe_psql('site_restored', 'CREATE EXTENSION dumper');
my ($rc, $err) = run_cmd([ 'pg_restore', @conn, '-U', 'site', '--no-owner', '-d', 'site_restored', $dump ]);
isnt($rc, 0, 'restore as the owner of the tables: pg_restore fails');
like($err, qr/permission denied to restore dumper's registrations into table dumper\.registration/,
	'it fails at the registrations with dumper\'s error, naming the table');
like($err, qr/permission denied to restore dumper's join tables into table dumper\.join_table/,
	'and at the join tables');
like($err, qr/HINT:  Restore as a superuser, or run dumper_register/,
	'with a hint saying what to do');
like($err, qr/permission denied to create dumper's trigger "dumper_row" on table "public\.icecream"/,
	'it fails at the trigger of a registered table, naming it');
like($err, qr/HINT:  Restore as a superuser, or after the restore run dumper_register\('public\.icecream'/,
	'with a hint naming the table to register again');
like($err, qr/permission denied to create dumper's trigger "dumper_join" on table "public\.scoop"/,
	'it fails at the trigger of a join table, naming it');
like($err, qr/permission denied to create dumper's trigger "dumper_truncate" on table "public\.event_2025"/,
	'and at the TRUNCATE trigger of a partition');
unlike($err, qr/permission denied for schema dumper/,
	'no point fails with PostgreSQL\'s bare "permission denied for schema dumper"');
like($err, qr/must be owner of extension dumper\nDETAIL:  Role "site" cannot restore dumper's registrations and triggers either.*\nHINT:  Restore as a superuser/,
	'the extension\'s comment fails with a detail and a hint');

# pg_restore --exit-on-error stops at the first error: the extension's
# comment, which says why and what to do.
$node->safe_psql('postgres', 'CREATE DATABASE site_stopped OWNER site');
$node->safe_psql('site_stopped', 'CREATE EXTENSION dumper');
($rc, $err) = run_cmd([ 'pg_restore', @conn, '-U', 'site', '--no-owner', '--exit-on-error',
		'-d', 'site_stopped', $dump ]);
isnt($rc, 0, 'restore as the owner of the tables with --exit-on-error: pg_restore fails');
like($err, qr/must be owner of extension dumper\nDETAIL:  Role "site" cannot restore dumper's registrations and triggers either.*\nHINT:  Restore as a superuser, or run dumper_register again/,
	'it stops at the extension\'s comment, saying what such a restore cannot do and what to do');
is($node->safe_psql('site_restored', 'SELECT count(*) FROM dumper.registration'), '0',
	'(nothing was registered)');

# What the hints say works: the owner of the tables registers them again.
$node->safe_psql('site_restored', q{
	SELECT dumper_register('icecream', 'icecream_paths');
	SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
	SELECT dumper_register('event', 'event_paths');
	SELECT dumper_register_join('scoop');
}, extra_params => [ '-U', 'site' ]);
is($node->safe_psql('site_restored', $triggers_sql), $source{triggers},
	'registered again by the owner of the tables: every dumper trigger, once');
is($node->safe_psql('site_restored', $registrations_sql), $source{registrations},
	'and the registrations of the source');
is($node->safe_psql('site_restored', $writes_sql, extra_params => [ '-U', 'site' ]),
	$source{writes}, 'and its writes gather their paths');

note(sprintf('test ran in %.1f s', time - $started));
$node->stop;
done_testing();
