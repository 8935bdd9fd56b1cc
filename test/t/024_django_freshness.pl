# Freshness you can trust (issue 25), the Django half, end to end: the demo
# shop on gunicorn over HTTP, a real PostgreSQL whose worker delivers to a
# real Redis.  Covers:
#   1. liveness: pages are cached only while the worker's liveness key
#      (dumper:@live:demo) is in Redis; without it they are served uncached
#      and the app says so, once per process; caching resumes with it;
#   2. render leases: concurrent requests after an invalidation render a
#      slow page once; a leader killed mid-render blocks the others no
#      longer than DUMPER_RENDER_WAIT_SECONDS plus one render;
#   3. read-your-writes: a POST that renames and answers 303, then a GET of
#      the page at once, shows the new name even while Redis holds back the
#      delivery (CLIENT PAUSE WRITE); a site with DUMPER_WAIT_SECONDS = 0
#      shows the old page there, which is what the wait is for;
#   4. system checks: each dumper_django check fires on its misconfiguration
#      (settings modules written below, importing demo.settings);
#   5. manage.py dumper_check passes on the demo and names the broken link
#      for a wrong Redis URL, a wrong key prefix, a database the worker does
#      not serve, a database without the extension, and Redis down;
#   6. RegisterPaths in a database without the extension names it.
# Renders are counted in the demo's render log (DEMO_RENDER_LOG); every wait
# is a bounded poll.
use strict;
use warnings;
use Cwd ();
use HTTP::Tiny;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use DumperTest;

my $root   = $ENV{TESTDIR} // Cwd::getcwd();
my $python = '/usr/bin/python3';
my $tmp    = PostgreSQL::Test::Utils::tempdir();
mkdir "$tmp/$_" or die "mkdir $_: $!" for qw(pause settings);
my $render_log = "$tmp/renders.log";
my $live_key   = 'dumper:@live:demo';
my $bound      = 2.0;    # DUMPER_RENDER_WAIT_SECONDS (the default)
my $slow_ms    = 500;    # how long /slow/ renders

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('fresh', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'",
		"shared_preload_libraries = 'dumper,pg_stat_statements'" ]);
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE web LOGIN');
$node->safe_psql('postgres', 'CREATE DATABASE demo OWNER web');
$node->safe_psql('postgres', 'CREATE DATABASE plain OWNER web');    # no extension
$node->safe_psql('demo', 'CREATE EXTENSION dumper; CREATE EXTENSION pg_stat_statements');

# Point the worker at database DB (reload) and wait until it serves it.
sub serve_database
{
	my ($db) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET dumper.database = '$db'");
	$node->reload;
	return $node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'dumper worker' AND datname = '$db'});
}
ok(serve_database('demo'), 'the worker serves the app database');

# A settings module NAME in $tmp/settings: demo.settings, then BODY.
sub settings_module
{
	my ($name, $body) = @_;
	open(my $f, '>', "$tmp/settings/$name.py") or die "cannot write $name.py: $!";
	print $f "from demo.settings import *  # noqa\n$body\n";
	close $f;
	return $name;
}
settings_module('fresh', "DUMPER_RENDER_WAIT_SECONDS = $bound");
settings_module('nowait', 'DUMPER_WAIT_SECONDS = 0');

my %app_env = DumperTest::demo_env(root => $root, node => $node, redis => $redis,
	tmp => $tmp,
	DJANGO_SETTINGS_MODULE => 'fresh',
	PYTHONPATH             => "$tmp/settings:$root/django:$root/django/demo",
	DEMO_PAUSE_DIR         => "$tmp/pause",
	DEMO_SLOW_MS           => $slow_ms);

# Run manage.py with ARGS, the app's environment overridden by %$ENV_OVER;
# (exit status, stdout and stderr together).
sub manage_rc
{
	my ($env_over, @args) = @_;
	local %ENV = (%ENV, %app_env, %$env_over);
	my $out = '';
	IPC::Run::run([ $python, "$root/django/demo/manage.py", @args ],
		'<', \undef, '>&', \$out, IPC::Run::timeout(120));
	return ($? >> 8, $out);
}

# Run manage.py with ARGS in the app's environment; die on failure.
sub manage
{
	my ($rc, $out) = manage_rc({}, @_);
	die "manage.py @_ failed: $out" if $rc;
	return $out;
}

manage('migrate', '--no-input');
like(manage('demo_data'), qr/3 ice creams, 2 sizes/, 'migrations and sample data');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', $live_key) eq '1' }, timeout => 30),
	"the worker keeps its liveness key $live_key in Redis");

# gunicorn serving SETTINGS on a free port, WORKERS processes of 4 threads;
# (harness, base URL).
sub gunicorn
{
	my ($settings, $workers, $log) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	local %ENV = (%ENV, %app_env, DJANGO_SETTINGS_MODULE => $settings);
	my $h = IPC::Run::start(
		[ '/usr/bin/gunicorn', '--chdir', "$root/django/demo", '--bind', "127.0.0.1:$port",
		  '--workers', $workers, '--threads', '4', 'demo.wsgi:application' ],
		'<', \undef, '>', $log, '2>&1');
	return ($h, "http://127.0.0.1:$port");
}
my ($web, $base) = gunicorn('fresh', 2, "$tmp/gunicorn.log");
my ($web0, $base0) = gunicorn('nowait', 1, "$tmp/gunicorn-nowait.log");
END { $_->kill_kill(grace => 10) for grep { defined } $web, $web0; }

my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0, max_redirect => 0);

# GET (or METHOD) PATH on BASE with HEADERS (and CONTENT); HTTP::Tiny's response.
sub request
{
	my ($b, $path, %h) = @_;
	my $method  = delete $h{method} // 'GET';
	my $content = delete $h{content};
	return $http->request($method, "$b$path",
		{ headers => \%h, defined $content ? (content => $content) : () });
}
sub get { return request($base, @_) }

# The X-Dumper-Cache label of a response ('' without one).
sub label { return $_[0]->{headers}{'x-dumper-cache'} // '' }

ok(DumperTest::wait_for(sub { get('/healthz/')->{status} == 200 }, timeout => 30),
	'gunicorn serves the demo')
  or diag(slurp_file("$tmp/gunicorn.log"));
ok(DumperTest::wait_for(sub { request($base0, '/healthz/')->{status} == 200 }, timeout => 30),
	'and a second site without read-your-writes (DUMPER_WAIT_SECONDS = 0)')
  or diag(slurp_file("$tmp/gunicorn-nowait.log"));

# Render log lines of PATH, as [path, language, pid].
sub render_lines
{
	my ($path) = @_;
	return () unless -e $render_log;
	return grep { $_->[0] eq $path } map { [ split /\t/ ] } split /\n/, slurp_file($render_log);
}
sub renders { return scalar(my @l = render_lines(@_)) }

# ---- 1. liveness -------------------------------------------------------------------
my $path = '/icecream/vanilla/';
get($path);
my $n = renders($path);
$redis->cmd('CONFIG', 'RESETSTAT');
is(label(get($path)), 'hit', 'with the liveness key: the page is served from the cache');
is(renders($path), $n, 'without rendering');
my %calls = map { /^cmdstat_(\w+):calls=(\d+)/ ? ($1 => $2) : () } $redis->cmd('INFO', 'commandstats');
delete @calls{qw(set del info config)};    # the worker's liveness SET and DELs; ours
is(join(' ', map { "$_=$calls{$_}" } sort keys %calls), 'mget=1',
	'a hit costs one Redis round trip: MGET of the stamp and the liveness key');

# The worker serves another database: nothing vouches for demo's stamps.
my $log_start = -s "$tmp/gunicorn.log";
ok(serve_database('postgres'), 'the worker now serves database postgres');
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', $live_key) eq '0' }, timeout => 15),
	'the liveness key of demo is gone from Redis');
$n = renders($path);
my @labels = map { label(get($path)) } 1 .. 6;
is("@labels", join(' ', ('uncached') x 6), 'without it: every GET is served uncached');
is(renders($path), $n + 6, 'and rendered');
ok(!defined get($path)->{headers}{etag}, 'with no ETag');

# ---- 5a. dumper_check: the database is not served ------------------------------------
my ($rc, $out) = manage_rc({}, 'dumper_check', '--timeout', '3');
isnt($rc, 0, 'dumper_check fails while the worker serves another database');
like($out, qr/worker: the dumper worker serves database "postgres", not "demo"/,
	'and names the link: the worker and the database it serves');
like($out, qr/hint: dumper\.database = 'demo'/, 'with the fix');

ok(serve_database('demo'), 'the worker serves demo again');
ok(DumperTest::wait_for(sub { label(get($path)) eq 'hit' }, timeout => 30),
	'its liveness key is back: caching resumes');
my $log = substr(slurp_file("$tmp/gunicorn.log"), $log_start);
my $missing = () = $log =~ /liveness key \Q$live_key\E is missing in Redis/g;
ok($missing >= 1 && $missing <= 2,
	"the app warned that pages are served uncached, once per process ($missing)");
like($log, qr/liveness key \Q$live_key\E is back .*caching resumes/, 'and that caching resumed');

# ---- 5b. dumper_check on the working chain -------------------------------------------
($rc, $out) = manage_rc({}, 'dumper_check');
is($rc, 0, 'dumper_check passes on the demo') or diag($out);
like($out, qr/ok  delivery: a committed probe deleted dumper:\@probe:[0-9a-f]{32}/,
	'it proved delivery with a probe');
like($out, qr/ok  liveness: liveness key \Q$live_key\E/, 'and found the liveness key');
is(scalar(my @k = grep { /\@probe:/ } $redis->cmd('KEYS', '*')), 0, 'leaving no probe key behind');

# ---- 2. one render per invalidation ----------------------------------------------------
# Invalidate PATH through dumper and wait until its stamp is gone.
sub invalidate
{
	my ($p) = @_;
	$redis->cmd('SET', "dumper:$p", 'old-stamp');
	$node->safe_psql('demo', "SELECT dumper_invalidate('$p')");
	return DumperTest::wait_for(sub { $redis->cmd('EXISTS', "dumper:$p") eq '0' });
}

# Start N GETs of PATH at once (a barrier file), in their own processes,
# with header Accept-Language: LANG (default en); return a sub that waits
# for them and returns their "status label seconds body-digest" lines.
sub concurrent_gets
{
	my ($nreq, $p, $lang) = @_;
	my $go = "$tmp/go." . Time::HiRes::time();
	my @kids;
	for my $i (1 .. $nreq)
	{
		my $out = '';
		my $h = IPC::Run::start(
			[ $^X, '-MHTTP::Tiny', '-MTime::HiRes=time,sleep', '-MDigest::MD5=md5_hex', '-e', q{
				my ($url, $go, $lang) = @ARGV;
				my $until = time + 30;
				sleep 0.002 until -e $go || time > $until;
				my $t0 = time;
				my $r = HTTP::Tiny->new(timeout => 60)->get($url, { headers => { 'Accept-Language' => $lang } });
				printf "%s %s %.3f %s\n", $r->{status}, $r->{headers}{'x-dumper-cache'} // '-',
					time - $t0, md5_hex($r->{content} // '');
			}, "$base$p", $go, $lang // 'en' ],
			'<', \undef, '>', \$out, '2>&1', IPC::Run::timeout(90));
		push @kids, [ $h, \$out ];
	}
	open(my $f, '>', $go) or die "cannot create $go: $!";
	close $f;
	return sub {
		$_->[0]->finish for @kids;
		return map { my $o = ${ $_->[1] }; chomp $o; $o } @kids;
	};
}

$path = '/slow/';
for my $round (1 .. 2)
{
	ok(invalidate($path), "lease round $round: /slow/ invalidated (a fresh stamp)");
	$n = renders($path);
	my @res = concurrent_gets(6, $path)->();
	is(scalar(grep { /^200 / } @res), 6, "lease round $round: 6 concurrent GETs all answered 200")
	  or diag(join "\n", @res);
	is(renders($path), $n + 1, "lease round $round: the slow view rendered once")
	  or diag(join "\n", @res);
	my %labels;
	$labels{ (split / /)[1] }++ for @res;
	is($labels{miss}, 1, "lease round $round: one request rendered (miss), the others were hits")
	  or diag(join "\n", @res);
	my %bodies = map { (split / /)[3] => 1 } @res;
	is(scalar(keys %bodies), 1, "lease round $round: all got the same page");
	my @slow = grep { (split / /)[2] > $bound + 1 } @res;
	is(scalar(@slow), 0, "lease round $round: none waited longer than the bound")
	  or diag(join "\n", @res);
}

# Another language under the same stamp: its lease names its own page key
# (the variant list is known now), so it too renders once.
$n = renders($path);
my @fr = concurrent_gets(4, $path, 'fr')->();
is(renders($path), $n + 1, 'lease by page key: 4 concurrent GETs of the French variant render it once')
  or diag(join "\n", @fr);
is(scalar(grep { /^200 (miss|hit) / } @fr), 4, 'lease by page key: all answered from that render')
  or diag(join "\n", @fr);

# A page that turns out not cacheable (it sets a cookie): the lease goes
# away without a page, and the waiters render at once, not one by one.
$n = renders('/visit/');
my @visit = concurrent_gets(4, '/visit/')->();
is(scalar(grep { /^200 / } @visit), 4, 'not cacheable: 4 concurrent GETs answered');
is(renders('/visit/'), $n + 4, 'not cacheable: each rendered its own');
is(scalar(grep { (split / /)[2] > 1.0 } @visit), 0, 'not cacheable: none waited for the bound')
  or diag(join "\n", @visit);

# A leader killed while it renders: its lease expires after the bound.  Its
# client is a bare socket: HTTP::Tiny would retry a GET whose connection
# was closed, and the retry would take the lease again.  Its Host header
# has the port, as the others': the URL is part of the lease's name.
ok(invalidate($path), 'dead leader: /slow/ invalidated');
my $leader_out = '';
my $leader = IPC::Run::start(
	[ $^X, '-MIO::Socket::INET', '-e', q{
		my $s = IO::Socket::INET->new($ARGV[0]) or die "connect: $!";
		print $s "GET /slow/ HTTP/1.0\r\nHost: $ARGV[0]\r\nX-Demo-Pause: dead\r\n\r\n";
		local $/;
		my $reply = <$s>;
		print defined $reply && length $reply ? 'answered' : 'closed';
	}, $base =~ s{^http://}{}r ],
	'<', \undef, '>', \$leader_out, '2>&1', IPC::Run::timeout(90));
ok(DumperTest::wait_for(sub { -e "$tmp/pause/dead.paused" }, timeout => 30),
	'dead leader: a request took the lease and is rendering (paused)');
my $pid = (render_lines($path))[-1][2];
my $t0 = Time::HiRes::time();
ok(kill('KILL', $pid), "dead leader: its gunicorn worker (pid $pid) is killed");
$leader->finish;
is($leader_out, 'closed', "dead leader: its client's connection was closed unanswered");
$n = renders($path);
my $res = get($path);
my $waited = Time::HiRes::time() - $t0;
is("$res->{status} " . label($res), '200 miss', 'dead leader: the next request rendered the page');
cmp_ok($waited, '>', 1.0, 'dead leader: it waited for the dead lease (it renders no sooner)');
cmp_ok($waited, '<', $bound + $slow_ms / 1000 + 1.5,
	sprintf('dead leader: it waited no longer than the bound plus one render (%.2f s)', $waited));
is(renders($path), $n + 1, 'dead leader: rendered once');
is(label(get($path)), 'hit', 'dead leader: then cached');
ok(DumperTest::wait_for(sub { get('/healthz/')->{status} == 200 }, timeout => 30),
	'gunicorn replaced the killed worker');

# ---- 3. read-your-writes -------------------------------------------------------------------
# POST a new NAME for chocolate to site BASE while Redis holds back writes
# for a second (the worker's DEL waits), then GET the redirect at once;
# (POST response, GET response).
sub rename_and_get
{
	my ($b, $name) = @_;
	request($b, '/icecream/chocolate/') for 1 .. 2;    # cached
	$redis->cmd('CLIENT', 'PAUSE', '1000', 'WRITE');
	my $post = request($b, '/icecream/chocolate/rename/', method => 'POST',
		'Content-Type' => 'application/x-www-form-urlencoded', content => "name=$name");
	my $page = request($b, $post->{headers}{location} // '/none/');
	$redis->cmd('CLIENT', 'UNPAUSE');
	return ($post, $page);
}

# Calls of dumper_wait by the app's role, per pg_stat_statements.
sub waits
{
	return $node->safe_psql('demo', q{
		SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		WHERE userid = 'web'::regrole AND query LIKE '%dumper_wait%'});
}

my $w = waits();
for my $i (1 .. 3)
{
	my ($post, $page) = rename_and_get($base, "Choco$i");
	is("$post->{status} " . ($post->{headers}{location} // ''), '303 /icecream/chocolate/',
		"read-your-writes $i: the POST answered 303 to the page");
	like($page->{content}, qr{<h1>Choco$i</h1>}, "read-your-writes $i: the page shows the new name");
}
is(waits(), $w + 3, 'the app called dumper_wait once per POST');
my ($post0, $page0) = rename_and_get($base0, 'Stale');
like($page0->{content}, qr{<h1>Choco3</h1>},
	'without the wait (DUMPER_WAIT_SECONDS = 0) the redirect showed the old page');
ok(DumperTest::wait_for(sub { get('/icecream/chocolate/')->{content} =~ m{<h1>Stale</h1>} }),
	'until the delivery');

# ---- 4. system checks ------------------------------------------------------------------------
my $U = q{"dumper_django.middleware.UpdateCacheMiddleware"};
my $F = q{"dumper_django.middleware.FetchFromCacheMiddleware"};
my $C = q{"django.middleware.common.CommonMiddleware"};
my $L = q{"django.middleware.locale.LocaleMiddleware"};
my $S = q{"django.contrib.sessions.middleware.SessionMiddleware"};
my $free_port = PostgreSQL::Test::Cluster::get_free_port();
my @cases = (
	[ 'E001', 'DUMPER_RENDER_WAIT_SECONDS = "soon"', qr/DUMPER_RENDER_WAIT_SECONDS must be a number/ ],
	[ 'E002', "MIDDLEWARE = [$L, $C, $F]", qr/has \S+FetchFromCacheMiddleware but not \S+UpdateCacheMiddleware/ ],
	[ 'E003', "MIDDLEWARE = [$F, $L, $C, $U]", qr/FetchFromCacheMiddleware before/ ],
	[ 'E004', "MIDDLEWARE = [$S, $U, $L, $C, $F]", qr/SessionMiddleware before \S+UpdateCacheMiddleware/ ],
	[ 'E005', "MIDDLEWARE = [$U, $C, $F, $L]", qr/LocaleMiddleware after \S+FetchFromCacheMiddleware/ ],
	[ 'W001', "MIDDLEWARE = [$L, $C]", qr/neither of its middleware/ ],
	[ 'W002', 'CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}',
	  qr/LocMemCache\) keeps pages per process/ ],
	[ 'W003', "DUMPER_REDIS_URL = 'redis://127.0.0.1:$free_port/0'",
	  qr/Redis at DUMPER_REDIS_URL \(127\.0\.0\.1:$free_port\) does not answer/ ]);
for my $case (@cases)
{
	my ($id, $body, $what) = @$case;
	settings_module("check_$id", $body);
	($rc, $out) = manage_rc({ DJANGO_SETTINGS_MODULE => "check_$id" }, 'check');
	like($out, qr/\(dumper_django\.$id\)/, "system check dumper_django.$id fires") or diag($out);
	like($out, $what, "dumper_django.$id names the misconfiguration");
	like($out, qr/\(dumper_django\.$id\).*\n\s*HINT: \S/, "dumper_django.$id has a hint");
	if ($id =~ /^E/) { isnt($rc, 0, "dumper_django.$id is an error: check fails") }
	else { is($rc, 0, "dumper_django.$id is a warning: check passes") }
}
($rc, $out) = manage_rc({}, 'check');
is("$rc $out", "0 System check identified no issues (0 silenced).\n", 'the demo passes every check');

# ---- 5c. dumper_check names the broken link --------------------------------------------------
my $other = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
settings_module('other_prefix', 'DUMPER_KEY_PREFIX = "other:"');
my @broken = (
	[ 'another Redis', { DUMPER_REDIS_URL => $other->url },
	  qr/delivery: the worker delivered the probe, but dumper:\@probe:\S+ is still in the Redis at DUMPER_REDIS_URL \(127\.0\.0\.1:${\ $other->port}\): it delivers to another Redis or prefix/ ],
	[ 'another key prefix', { DJANGO_SETTINGS_MODULE => 'other_prefix' },
	  qr/delivery: .*dumper\.redis_prefix is 'dumper:' but DUMPER_KEY_PREFIX is 'other:'/ ],
	[ 'a database without the extension', { DEMO_DB_NAME => 'plain' },
	  qr/database: the extension "dumper" is not installed in database "plain"\n\s*hint: a superuser runs CREATE EXTENSION dumper/ ],
	[ 'Redis down', { DUMPER_REDIS_URL => "redis://127.0.0.1:$free_port/0" },
	  qr/redis: Redis at DUMPER_REDIS_URL \(127\.0\.0\.1:$free_port\) failed/ ]);
for my $case (@broken)
{
	my ($what, $env, $re) = @$case;
	($rc, $out) = manage_rc($env, 'dumper_check', '--timeout', '2');
	isnt($rc, 0, "dumper_check fails with $what");
	like($out, $re, "dumper_check names the link broken by $what") or diag($out);
}
$other->stop;

# ---- 6. RegisterPaths without the extension ----------------------------------------------------
($rc, $out) = manage_rc({ DEMO_DB_NAME => 'plain' }, 'shell', '-c', q{
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from dumper_django.operations import RegisterPaths
state = MigrationLoader(None).project_state(("shop", "0001_initial"))
with connection.schema_editor() as editor:
    RegisterPaths("icecream").database_forwards("shop", editor, state, state)
});
isnt($rc, 0, 'RegisterPaths in a database without the extension fails');
like($out, qr/the extension "dumper" is not installed in database "plain"; hint: a superuser runs CREATE EXTENSION dumper/,
	'naming the database and the fix');
unlike($out, qr/explicit type casts/, "not with PostgreSQL's hint about type casts");

$_->kill_kill(grace => 10) for $web, $web0;
($web, $web0) = ();
$log = slurp_file("$tmp/gunicorn.log") . slurp_file("$tmp/gunicorn-nowait.log");
unlike($log, qr/Traceback/, 'the middleware never raised') or diag($log);
$node->stop;
$redis->stop;
done_testing();
