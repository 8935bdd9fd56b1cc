# The web tier end to end: the Django demo shop (django/demo) with
# dumper_django's middleware, served by gunicorn on loopback, driven over
# real HTTP (HTTP::Tiny), against a node whose worker delivers to a real
# Redis.  Covers: pages served from the cache without view or SQL; psql
# writes, ORM many-to-many writes, rollbacks; Accept-Language variants; the
# stamp protocol's race (a render that read the old row and stores after
# delivery is never served); conditional GET (ETag, 304); a Redis outage.
#
# How "the view did not run" is shown: the demo's views append a line to a
# render log (DEMO_RENDER_LOG) each time they render.  How "no SQL reached
# PostgreSQL" is shown: pg_stat_statements, whose counters are updated when
# each statement ends (before the response is sent), summed over the app's
# own role "web": the test's psql sessions run as postgres, and the
# worker's statements are not the app's, so any statement at all of the
# app (even its connection set-up) moves the sum.
use strict;
use warnings;
use Cwd ();
use HTTP::Tiny;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $root   = $ENV{TESTDIR} // Cwd::getcwd();
my $python = '/usr/bin/python3';
my $tmp    = PostgreSQL::Test::Utils::tempdir();
mkdir "$tmp/pause" or die "mkdir: $!";
my $render_log = "$tmp/renders.log";

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('web', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'",
		"shared_preload_libraries = 'dumper,pg_stat_statements'" ]);
$node->start;

# The app's role, not a superuser, owns its database and tables, and its
# migrations register them.  CREATE EXTENSION needs a superuser: done here.
ok(DumperTest::demo_database($node, 'pg_stat_statements'),
	'the worker serves the app database');

my %app_env = DumperTest::demo_env(root => $root, node => $node, redis => $redis,
	tmp => $tmp, DEMO_PAUSE_DIR => "$tmp/pause");

# Run manage.py with ARGS in the app's environment; die on failure.
sub manage
{
	my @args = @_;
	local %ENV = (%ENV, %app_env);
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, "$root/django/demo/manage.py", @args ],
		'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(120))
	  or die "manage.py @args failed: $err$out";
	return $out;
}

manage('migrate', '--no-input');
like(manage('demo_data'), qr/3 ice creams, 2 sizes/, 'migrations and sample data through Django');
# Pages are cached only while the worker's liveness key is in Redis.
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:@live:demo') eq '1' }, timeout => 30),
	'the worker keeps its liveness key in Redis');
is($node->safe_psql('demo',
	q{SELECT string_agg(table_name || ':' || join_tables::text, ' ' ORDER BY 1) FROM dumper_registrations}),
	'shop_icecream:{shop_icecream_sizes} shop_size:{shop_icecream_sizes}',
	'the migration registered both tables; dumper found the many-to-many table');

# gunicorn on a free loopback port, two processes of four threads (the
# page cache is in files, shared by both).
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $gunicorn;
{
	local %ENV = (%ENV, %app_env);
	$gunicorn = IPC::Run::start(
		[ '/usr/bin/gunicorn', '--chdir', "$root/django/demo", '--bind', "127.0.0.1:$port",
		  '--workers', '2', '--threads', '4', 'demo.wsgi:application' ],
		'<', \undef, '>', "$tmp/gunicorn.log", '2>&1');
}
END { $gunicorn->kill_kill(grace => 10) if $gunicorn; }

# A new connection per request: a POST on a connection the server closed
# meanwhile would not be retried.
my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);

# GET (or another METHOD) PATH with request HEADERS; HTTP::Tiny's response.
sub get
{
	my ($path, %headers) = @_;
	my $method = delete $headers{method} // 'GET';
	return $http->request($method, "$base$path", { headers => \%headers });
}

ok(DumperTest::wait_for(sub { get('/healthz/')->{status} == 200 }, timeout => 30),
	'gunicorn serves the demo')
  or diag(slurp_file("$tmp/gunicorn.log"));

# How many times the view of PATH rendered (in language LANG, if given).
sub renders
{
	my ($path, $lang) = @_;
	return 0 unless -e $render_log;
	my $n = 0;
	for my $line (split /\n/, slurp_file($render_log))
	{
		my ($p, $l) = split /\t/, $line;
		$n++ if $p eq $path && (!defined $lang || $l eq $lang);
	}
	return $n;
}

# Statements the app's role has run, per pg_stat_statements.
sub app_statements
{
	return $node->safe_psql('demo',
		q{SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE userid = 'web'::regrole});
}

# The price a detail page shows, or the price of NAME on the list page.
sub price
{
	my ($res, $name) = @_;
	my $re = defined $name
	  ? qr{>\Q$name\E</a>: <span class="price">(\d+)</span>}
	  : qr{Price: <span class="price">(\d+)</span>};
	return $res->{content} =~ $re ? $1 : -1;
}

# A committed write proves that the worker has looked at the queue since:
# once its marker key is gone, every earlier commit was delivered.
my $marker = 0;
sub worker_caught_up
{
	$marker++;
	$redis->cmd('SET', "dumper:/marker/$marker/", 'stamp');
	$node->safe_psql('demo', "SELECT dumper_invalidate('/marker/$marker/')");
	return DumperTest::wait_for(sub { $redis->cmd('EXISTS', "dumper:/marker/$marker/") eq '0' });
}

# ---- 1. a second GET is served from the cache -------------------------------
ok($node->poll_query_until('demo', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the sample data is delivered before the first page');
my $path = '/icecream/vanilla/';
my ($n, $q) = (renders($path), app_statements());
my $first = get($path);
is($first->{status}, 200, 'detail page: 200');
is(price($first), 300, 'detail page: the price from the database');
is(renders($path), $n + 1, 'first GET: the view rendered');
cmp_ok(app_statements(), '>', $q, 'first GET: the app queried PostgreSQL');
$q = app_statements();
my $second = get($path);
is($second->{content}, $first->{content}, 'second GET: the same page');
is(renders($path), $n + 1, 'second GET: the view did not run');
is(app_statements(), $q, 'second GET: no SQL statement reached PostgreSQL');
is($second->{headers}{'x-dumper-cache'}, 'hit', 'second GET: labelled a cache hit');
like($first->{headers}{'cache-control'}, qr/max-age=0/, 'browsers must not keep it without asking (max-age=0)');
like($first->{headers}{'cache-control'}, qr/must-revalidate/, 'and must revalidate');
like($first->{headers}{etag} // '', qr{^W/"[0-9a-f]+"$}, 'a weak ETag');
my $head = get($path, method => 'HEAD');
is("$head->{status} " . ($head->{headers}{'x-dumper-cache'} // ''), '200 hit',
	'HEAD is served from the cached GET');
is(renders($path), $n + 1, 'without rendering');

# ---- 2. a psql UPDATE changes the page and the list --------------------------
get('/icecreams/') for 1 .. 2;
is(price(get('/icecreams/'), 'Vanilla'), 300, 'list page cached with the old price');
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 310 WHERE slug = 'vanilla'");
ok(DumperTest::wait_for(sub { price(get($path)) == 310 }),
	'after a psql UPDATE the detail page shows the new price');
ok(DumperTest::wait_for(sub { price(get('/icecreams/'), 'Vanilla') == 310 }),
	'and the list page too');
$n = renders($path);
is(price(get($path)), 310, 'the new page ...');
is(renders($path), $n, '... is cached again');

# ---- 3. many-to-many through the ORM -------------------------------------------
my ($ice, $size) = ('/icecream/strawberry/', '/size/large/');
get($_) for $ice, $size, $ice, $size;
my ($ni, $ns) = (renders($ice), renders($size));
get($_) for $ice, $size;
is(renders($ice) + renders($size), $ni + $ns, 'ice cream and size pages are cached');
unlike(get($ice)->{content}, qr/class="size">Large</, 'strawberry has no large size yet');
manage('shell', '-c', q{from shop.models import IceCream, Size; }
	  . q{IceCream.objects.get(slug="strawberry").sizes.add(Size.objects.get(slug="large"))});
ok(DumperTest::wait_for(sub { get($ice)->{content} =~ /class="size">Large</ }),
	'sizes.add() through the ORM: the ice cream page shows the size');
ok(DumperTest::wait_for(sub { get($size)->{content} =~ /class="icecream">Strawberry</ }),
	'and the size page shows the ice cream');
manage('shell', '-c', q{from shop.models import IceCream, Size; }
	  . q{IceCream.objects.get(slug="strawberry").sizes.remove(Size.objects.get(slug="large"))});
ok(DumperTest::wait_for(sub { get($ice)->{content} !~ /class="size">Large</ }),
	'sizes.remove(): the ice cream page no longer shows it');
ok(DumperTest::wait_for(sub { get($size)->{content} !~ /class="icecream">Strawberry</ }),
	'nor the size page');

# ---- 4. a rolled-back transaction changes nothing --------------------------------
$path = '/icecream/chocolate/';
get($path) for 1 .. 2;
$n = renders($path);
$node->safe_psql('demo', q{
	BEGIN;
	UPDATE shop_icecream SET price = 1 WHERE slug = 'chocolate';
	ROLLBACK;
});
ok(worker_caught_up(), 'the worker ran after the rollback');
is($redis->cmd('EXISTS', "dumper:$path"), '1', 'the page key is still there');
my $res = get($path);
is(price($res), 350, 'the page shows the committed price');
is(($res->{headers}{'x-dumper-cache'} // '') . ' ' . renders($path), "hit $n",
	'served from the cache as before');

# ---- 5. Accept-Language variants --------------------------------------------------
$path = '/icecream/vanilla/';
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 315 WHERE slug = 'vanilla'");
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', "dumper:$path") eq '0' }),
	'variants: the page starts invalidated');
my %lang = (en => 'English', fr => 'Anglais');
my %before = map { $_ => renders($path, $_) } keys %lang;
for my $l (sort keys %lang)
{
	for (1 .. 3)
	{
		like(get($path, 'Accept-Language' => $l)->{content}, qr/language: $l \($lang{$l}\)/,
			"Accept-Language $l: the $l page ($_)");
	}
	is(renders($path, $l), $before{$l} + 1, "Accept-Language $l: rendered once, then cached");
}
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 320 WHERE slug = 'vanilla'");
for my $l (sort keys %lang)
{
	ok(DumperTest::wait_for(sub { price(get($path, 'Accept-Language' => $l)) == 320 }),
		"after one write the $l variant shows the new price");
	get($path, 'Accept-Language' => $l);
	is(renders($path, $l), $before{$l} + 2, "the $l variant rendered once more, then cached");
}

# ---- 6. the race: a render that read the old row and stores late -----------------
# A paused render reads the row, the row changes and the invalidation is
# delivered, another request renders and caches the new page, then the
# paused render stores its (old) page.  The stamp protocol files it under a
# stamp nobody asks for any more.
$path = '/icecream/chocolate/';
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 360 WHERE slug = 'chocolate'");
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', "dumper:$path") eq '0' }),
	'race: the page starts invalidated');
my $slow_out = '';
my $slow = IPC::Run::start(
	[ $^X, '-MHTTP::Tiny', '-e', q{
		my $r = HTTP::Tiny->new(timeout => 90)->get($ARGV[0], { headers => { 'X-Demo-Pause' => 'race' } });
		print join("\n", $r->{status}, $r->{headers}{etag} // '', $r->{headers}{'x-dumper-cache'} // '',
			$r->{content});
	}, "$base$path" ],
	'<', \undef, '>', \$slow_out, '2>&1', IPC::Run::timeout(120));
ok(DumperTest::wait_for(sub { $slow->pump_nb; -e "$tmp/pause/race.paused" }, timeout => 30),
	'race: a render read the row (price 360) and is paused');
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 370 WHERE slug = 'chocolate'");
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', "dumper:$path") eq '0' }),
	'race: the UPDATE to 370 is delivered while it is paused');
$n = renders($path);
is(price(get($path)), 370, 'race: a new request renders the new price');
open(my $go, '>', "$tmp/pause/race.go") or die "cannot create race.go: $!";
close $go;
$slow->finish;
my ($slow_status, $slow_etag, $slow_cache, $slow_body) = split /\n/, $slow_out, 4;
is("$slow_status $slow_cache", '200 miss', 'race: the paused render finished and was stored');
is(price({ content => $slow_body }), 360, 'race: it had read the old row');
for my $i (1 .. 3)
{
	is(price(get($path)), 370, "race: the late store is never served ($i)");
}
is(renders($path), $n + 1, 'race: those came from the cache (the new render)');
my $reval = get($path, 'If-None-Match' => $slow_etag);
is("$reval->{status} " . price($reval), '200 370',
	'race: a browser holding the late page gets the new one on revalidation');

# ---- 7. conditional GET ------------------------------------------------------------
$path = '/icecream/vanilla/';
my $page = get($path);
my $etag = $page->{headers}{etag};
get($path);
($n, $q) = (renders($path), app_statements());
my $cond = get($path, 'If-None-Match' => $etag);
is($cond->{status}, 304, 'If-None-Match with the current ETag: 304 Not Modified');
is($cond->{content} // '', '', 'with no body');
is($cond->{headers}{etag}, $etag, 'and the same ETag');
is(renders($path) . ' ' . app_statements(), "$n $q", 'without rendering, without SQL');
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 330 WHERE slug = 'vanilla'");
ok(DumperTest::wait_for(sub { $cond = get($path, 'If-None-Match' => $etag); $cond->{status} == 200 }),
	'after a write the same If-None-Match gets 200');
is(price($cond), 330, 'with the new content');
isnt($cond->{headers}{etag}, $etag, 'and a new ETag');
is(get($path, 'If-None-Match' => $cond->{headers}{etag})->{status}, 304,
	'which is then answered 304');

# ---- what is never cached -------------------------------------------------------------
for my $case ([ '/visit/', 'a response that sets a cookie' ],
	[ '/live/', 'an ignored path (DUMPER_IGNORE_PATHS)' ])
{
	my ($p, $what) = @$case;
	$n = renders($p);
	my $r = get($p);
	get($p);
	is(renders($p), $n + 2, "$what: rendered every time");
	ok(!defined $r->{headers}{etag}, "$what: no ETag");
}
$n = renders($path);
get($path, method => 'POST') for 1 .. 2;
is(renders($path), $n + 2, 'POST: rendered every time');

# ---- 8. Redis down, then back ----------------------------------------------------------
$redis->stop;
$n = renders($path);
$res = get($path);
is("$res->{status} " . ($res->{headers}{'x-dumper-cache'} // ''), '200 uncached',
	'Redis down: the site still serves');
ok(!defined $res->{headers}{etag}, 'Redis down: no ETag (nothing to revalidate against)');
$node->safe_psql('demo', "UPDATE shop_icecream SET price = 340 WHERE slug = 'vanilla'");
is(price(get($path)), 340, 'Redis down: a write shows at once (pages are not cached)');
is(renders($path), $n + 2, 'Redis down: each GET rendered');
$redis->start;    # empty: the worker writes its liveness key again within a second
ok( DumperTest::wait_for(
		sub {
			get($path);
			my $m = renders($path);
			my $r = get($path);
			return renders($path) == $m && ($r->{headers}{'x-dumper-cache'} // '') eq 'hit';
		},
		timeout => 30),
	'Redis back: caching resumes');
is(price(get($path)), 340, 'Redis back: the fresh page');
ok($node->poll_query_until('demo', 'SELECT count(*) = 0 FROM dumper_pending'),
	'Redis back: the worker delivered what was pending');

$gunicorn->kill_kill(grace => 10);
undef $gunicorn;
my $app_log = slurp_file("$tmp/gunicorn.log");
like($app_log, qr/Redis at 127\.0\.0\.1:\d+ failed .*serving pages uncached/,
	'the app logged the outage');
unlike($app_log, qr/Traceback|\[ERROR\]/, 'and no error: the middleware never raised')
  or diag($app_log);
$node->stop;
$redis->stop;
done_testing();
