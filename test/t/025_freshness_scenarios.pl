# The acceptance scenarios of issue 25 ("Freshness you can trust"), end to
# end: the demo shop (django/demo) with dumper_django under gunicorn, over
# real HTTP, against a node whose worker delivers to a real Redis.
#
#   b. read-your-writes: 1,000 rounds of POST (a view saving through the
#      ORM, 303 to the page) then an immediate GET of that page: no stale
#      page.  The same rounds, interleaved, on a second gunicorn whose
#      settings turn the wait off (demo/settings_nowait.py) give what the
#      wait costs a POST (p50, p99) and what it prevents.
#   c. stampede: 32 concurrent clients (two languages, so two variants) on
#      one hot page whose render takes DEMO_SLOW_MS = 50 ms, 100
#      invalidations while they run: renders per invalidation, per
#      variant, median at most 1; no request takes longer than the
#      documented bound (DUMPER_RENDER_WAIT_SECONDS plus one render) plus
#      SCHED_ALLOWANCE for queueing 32 clients on a small machine.
#   a. outage: Redis stopped for 20 s (a write is queued meanwhile, so the
#      worker backs off), started again empty; the page cached again, then
#      its row UPDATEd through SQL and the page polled every 10 ms: fresh
#      within 1 s of the commit.
#
# Rules: every measurement is printed with diag() (the numbers of the
# issue's closing note come from here); assertions are the issue's
# acceptance criteria, not speed targets.  The load and the stopwatch are
# test/py/freshness_load.py, whose JSON this file checks.  Every wait for
# an asynchronous result is a bounded poll; the one fixed sleep is the
# outage's length, which is the scenario itself.  Runs in about 1 min 45 s
# (build included) on 2 CPUs; 19 subtests.
use strict;
use warnings;
use Cwd ();
use HTTP::Tiny;
use IPC::Run ();
use JSON::PP ();
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $root   = $ENV{TESTDIR} // Cwd::getcwd();
my $python = '/usr/bin/python3';
my $load   = "$root/test/py/freshness_load.py";
my $tmp    = PostgreSQL::Test::Utils::tempdir();
my $render_log = "$tmp/renders.log";
my $slow_ms = 50;             # the hot page's render time
my $outage_s = 20;            # how long Redis is down in scenario a
use constant SCHED_ALLOWANCE => 0.5;   # seconds, see the header

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $node = DumperTest::new_node('scen', redis => $redis, preload => 1,
	extra => [ "dumper.naptime = '200ms'" ]);
$node->start;
ok(DumperTest::demo_database($node), 'the worker serves the app database');

my %app_env = DumperTest::demo_env(root => $root, node => $node, redis => $redis,
	tmp => $tmp, DEMO_SLOW_MS => $slow_ms);

# Run manage.py with ARGS in the app's environment; its stdout, or die.
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
ok($node->poll_query_until('demo', 'SELECT count(*) = 0 FROM dumper_pending'),
	'the sample data is delivered');

# The documented bound of a wait for another request's render: the setting
# when dumper_django has it, else none (0: no request should wait at all).
my $render_wait = manage('shell', '-c', q{
from django.conf import settings
from dumper_django import conf
print(getattr(settings, "DUMPER_RENDER_WAIT_SECONDS", conf.DEFAULTS.get("DUMPER_RENDER_WAIT_SECONDS", 0)))
});
$render_wait =~ s/\s+//g;
$render_wait = 0 unless $render_wait =~ /^[0-9.]+$/;
diag("DUMPER_RENDER_WAIT_SECONDS = $render_wait");

# Start gunicorn serving the demo with settings module SETTINGS, WORKERS
# processes of THREADS threads, on a free port; (harness, base URL).
my @servers;
sub gunicorn
{
	my ($name, $settings, $workers, $threads) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	local %ENV = (%ENV, %app_env, DJANGO_SETTINGS_MODULE => $settings);
	my $h = IPC::Run::start(
		[ '/usr/bin/gunicorn', '--chdir', "$root/django/demo", '--bind', "127.0.0.1:$port",
		  '--workers', $workers, '--threads', $threads, 'demo.wsgi:application' ],
		'<', \undef, '>', "$tmp/gunicorn-$name.log", '2>&1');
	push @servers, $h;
	return ($h, "http://127.0.0.1:$port");
}
END { $_->kill_kill(grace => 10) for @servers; }

my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);

# GET BASE.PATH with request HEADERS; HTTP::Tiny's response.
sub get
{
	my ($base, $path, %headers) = @_;
	return $http->request('GET', "$base$path", { headers => \%headers });
}

# Run freshness_load.py with ARGS; its JSON output as a hash (dies on failure).
sub load
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, $load, @args ], '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(300))
	  or die "freshness_load.py @args failed: $err$out";
	return JSON::PP::decode_json($out);
}

# One line of numbers for diag(): "k=v" pairs of a (flat) hash, sorted.
sub fmt
{
	my ($h) = @_;
	return join(' ', map {
		my $v = $h->{$_};
		"$_=" . (ref $v ? JSON::PP->new->canonical->encode($v) : $v // 'null')
	} sort keys %$h);
}

# The site on 2 processes of 16 threads (32 clients at once for c), and the
# same site with the wait after unsafe requests off.
my (undef, $base) = gunicorn('main', 'demo.settings', 2, 16);
my (undef, $base_nowait) = gunicorn('nowait', 'demo.settings_nowait', 2, 4);
for my $b ($base, $base_nowait)
{
	ok(DumperTest::wait_for(sub { (get($b, '/healthz/')->{status} // 0) == 200 }, timeout => 30),
		"gunicorn serves the demo at $b");
}

# ---- b. read-your-writes ----------------------------------------------------------
my $t0 = Time::HiRes::time();
my $ryw = load('ryw', '--base', $base, '--base-nowait', $base_nowait,
	'--slug', 'vanilla', '--slug-nowait', 'chocolate', '--rounds', 1000);
diag(sprintf('b. read-your-writes (%.0f s)', Time::HiRes::time() - $t0));
diag("b.   with the wait:    " . fmt($ryw->{wait}));
diag("b.   without the wait: " . fmt($ryw->{nowait}));
diag(sprintf('b.   the wait adds to a POST: p50 %+.2f ms, p99 %+.2f ms',
	$ryw->{wait}{post_p50_ms} - $ryw->{nowait}{post_p50_ms},
	$ryw->{wait}{post_p99_ms} - $ryw->{nowait}{post_p99_ms}));
is($ryw->{wait}{bad_posts}, 0, 'b: every POST saved and answered 303 to the page');
is($ryw->{wait}{stale}, 0, 'b: 1,000 rounds of POST then GET: no stale page');

# ---- c. stampede ----------------------------------------------------------------------
my $hot = '/scen/slow/vanilla/';
$t0 = Time::HiRes::time();
my $st = load('stampede', '--base', $base, '--path', $hot, '--dsn', $node->connstr('demo'),
	'--render-log', $render_log, '--clients', 32, '--invalidations', 100,
	'--interval', 0.3, '--langs', 'en,fr');
diag(sprintf('c. stampede (%.0f s)', Time::HiRes::time() - $t0));
diag("c.   renders per invalidation, en: " . fmt($st->{renders}{en}));
diag("c.   renders per invalidation, fr: " . fmt($st->{renders}{fr}));
diag("c.   " . fmt({ map { $_ => $st->{$_} }
	qw(requests statuses errors longest_s longest_how p50_ms p99_ms not_rerendered) }));
ok($st->{warm}, 'c: both variants were served from the cache before the invalidations');
is($st->{errors}, 0, 'c: every request answered 200');
is($st->{not_rerendered}, 0, 'c: after each invalidation both variants were rendered again (within 5 s)');
for my $lang (qw(en fr))
{
	cmp_ok($st->{renders}{$lang}{median}, '<=', 1,
		"c: $lang: at most one render per invalidation in the median");
}
my $bound = $render_wait + $slow_ms / 1000 + SCHED_ALLOWANCE;
cmp_ok($st->{longest_s}, '<=', $bound,
	"c: no request waited longer than DUMPER_RENDER_WAIT_SECONDS + one render (+ allowance): $bound s");

# ---- a. outage -----------------------------------------------------------------------
my $page = '/icecream/strawberry/';

# True once BASE.PATH is served from the cache (X-Dumper-Cache: hit).
sub is_hit
{
	my ($path) = @_;
	return ((get($base, $path)->{headers}{'x-dumper-cache'} // '') eq 'hit');
}
ok(DumperTest::wait_for(sub { is_hit($page) }, timeout => 30),
	'a: the page is cached before the outage');
$redis->stop;
# A write during the outage: the worker fails to deliver it and backs off.
$node->safe_psql('demo', "SELECT dumper_invalidate('/outage/pending/')");
Time::HiRes::sleep($outage_s);    # the outage itself (not a wait for a result)
$redis->start;                     # back, and empty
$t0 = Time::HiRes::time();
ok(DumperTest::wait_for(sub { is_hit($page) }, timeout => 60, interval => 0.02),
	'a: after the outage the page is served from the cache again');
diag(sprintf('a. outage of %d s: the page was a cache hit again %.2f s after Redis answered',
	$outage_s, Time::HiRes::time() - $t0));
my $win = load('window', '--base', $base, '--path', $page, '--dsn', $node->connstr('demo'),
	'--sql', "UPDATE shop_icecream SET price = 777 WHERE slug = 'strawberry'",
	'--price', 777, '--interval', 0.01, '--timeout', 45);
diag("a.   " . fmt($win));
ok($win->{fresh}, 'a: the page showed the UPDATE (within 45 s)');
cmp_ok($win->{stale_window_s} // 999, '<=', 1.0, 'a: fresh within 1 s of the commit');

# ---- the app never failed ---------------------------------------------------------------
$_->kill_kill(grace => 10) for @servers;
@servers = ();
for my $name (qw(main nowait))
{
	my $log = slurp_file("$tmp/gunicorn-$name.log");
	unlike($log, qr/Traceback|\[ERROR\]/, "gunicorn $name: no error in its log")
	  or diag($log);
}
$node->stop;
$redis->stop;
done_testing();
