# The Django adoption steps of docs/django.md, followed literally on
# Debian 12: the test reads each block marked "<!-- adoption:NAME -->" out
# of the document and runs it, so a block that stops working fails here.
# In a fresh `django-admin startproject mysite` (Debian's Django 3.2) with
# an app "shop" whose models are the document's, against a node configured
# by the document's postgresql.conf lines (its worker delivering to a real
# Redis) and served by gunicorn from the document's virtual environment:
#   1. the install block (python3 -m venv --system-site-packages, pip
#      install --no-build-isolation, offline) gives a Python that imports
#      dumper_django, with no PYTHONPATH;
#   2. the settings block appended to settings.py: `manage.py check` passes
#      (Django's default middleware stay, so no admin.E408-E410);
#   3. the migration block registers both tables (a function, templates)
#      as the site's own role, not a superuser;
#   4. the preview block shows each row's paths;
#   5. a page is cached (X-Dumper-Cache: hit, one render), a psql UPDATE
#      and a many-to-many DELETE invalidate it;
#   6. the check block's `manage.py dumper_check` passes.
# The test replaces only the values a site chooses: the Redis URL, the
# cache directory, the project's and dumper's directories and the port.
# The apt-get line is checked (the packages are installed), not run.
# Every wait is a bounded poll.  About 30 s.
use strict;
use warnings;
use Cwd ();
use HTTP::Tiny;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DumperTest;

my $root = $ENV{TESTDIR} // Cwd::getcwd();
my $tmp  = PostgreSQL::Test::Utils::tempdir();
my $project = "$tmp/mysite";
my $render_log = "$tmp/renders.log";
my $doc = slurp_file("$root/docs/django.md");

# The body of the block marked NAME in docs/django.md.
sub block
{
	my ($name) = @_;
	$doc =~ /^<!-- adoption:\Q$name\E -->\n```\w*\n(.*?)^```$/ms
	  or die "docs/django.md has no block adoption:$name";
	return $1;
}

# TEXT with each FROM replaced by TO; dies when a FROM is not there, so
# that the document and the test cannot drift apart silently.
sub replace
{
	my ($text, %subst) = @_;
	for my $from (sort keys %subst)
	{
		$text =~ s/\Q$from\E/$subst{$from}/g
		  or die "the block no longer contains '$from':\n$text";
	}
	return $text;
}

my $redis = DumperTest::Redis->start(dir => PostgreSQL::Test::Utils::tempdir());
my $port  = PostgreSQL::Test::Cluster::get_free_port();

# A Debian user's environment: Debian's python3 first, nothing on PYTHONPATH.
my %user_env = (PATH => '/usr/sbin:/usr/bin:/sbin:/bin', PYTHONPATH => undef,
	ADOPT_RENDER_LOG => $render_log);

# Run SCRIPT with bash -e in DIR as the user would; (exit status, output).
sub shell
{
	my ($dir, $script) = @_;
	local %ENV = (%ENV, %user_env);
	delete $ENV{PYTHONPATH};
	my $out = '';
	IPC::Run::run([ 'bash', '-e', '-c', "cd '$dir'\n$script" ],
		'<', \undef, '>&', \$out, IPC::Run::timeout(300));
	return ($? >> 8, $out);
}

# Write TEXT to FILE, replacing what it held.
sub write_file
{
	my ($file, $text) = @_;
	open(my $f, '>', $file) or die "cannot write $file: $!";
	print $f $text;
	close $f or die "cannot write $file: $!";
	return;
}

# ---- 1. PostgreSQL --------------------------------------------------------------
my $node = DumperTest::new_node('adopt', preload => 0);
$node->append_conf('postgresql.conf',
	replace(block('postgresql.conf'), 'redis://127.0.0.1:6379/0' => $redis->url)
	  . "dumper.naptime = '200ms'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE mysite LOGIN');
$node->safe_psql('postgres', 'CREATE DATABASE mysite OWNER mysite');
$node->restart;    # as the document says, after shared_preload_libraries
$node->safe_psql('mysite', block('create-extension'));
ok($node->poll_query_until('mysite', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'dumper worker' AND datname = 'mysite'}),
	'the worker serves the site database');

# ---- 2. install -----------------------------------------------------------------
# dumper's source tree, as a user has it (a copy: pip builds in it).
my ($rc, $out) = shell($tmp, "mkdir dumper && cp -r '$root/django' dumper/");
die $out if $rc;
($rc, $out) = shell($tmp, 'django-admin startproject mysite');
is($rc, 0, 'django-admin startproject mysite') or diag($out);

my $install = block('install');
my @apt = $install =~ /^apt-get install (.*)$/m or die 'no apt-get line';
my @missing = grep {
	my $s = `dpkg-query -W -f='\${Status}' $_ 2>/dev/null`;
	$s ne 'install ok installed'
} split ' ', $apt[0];
is("@missing", '', 'the packages of the apt-get line are installed');
$install =~ s/^apt-get install .*\n//m;
($rc, $out) = shell($tmp, replace($install,
	'/srv/mysite' => $project, '/usr/local/src/dumper' => "$tmp/dumper"));
is($rc, 0, 'the install block: a venv with --system-site-packages, pip install --no-build-isolation')
  or diag($out);
($rc, $out) = shell($project, 'venv/bin/python -c "import dumper_django, django, redis, psycopg2; '
	  . 'print(dumper_django.__file__, django.get_version())"');
like($out, qr{^\Q$project\E/venv/lib/python3[.\d]*/site-packages/dumper_django/__init__\.py 3\.2},
	"the venv's Python imports dumper_django from the venv, and Debian's Django");

# ---- 3. settings, the app ------------------------------------------------------
# Manage.py in the venv; (exit status, output).
sub manage { return shell($project, "venv/bin/python manage.py @_") }

($rc, $out) = manage('startapp shop');
is($rc, 0, 'manage.py startapp shop') or diag($out);
my $models = block('models');
$models =~ m{^# (shop/models\.py)\n} or die 'the models block names no file';
write_file("$project/$1", $models);

# The site's own code, not the document's: a page per ice cream that logs
# its renders, and the site already on PostgreSQL.
PostgreSQL::Test::Utils::append_to_file("$project/shop/views.py", <<'EOF');

import os

from django.http import HttpResponse

from shop.models import IceCream


def icecream(request, slug):
    with open(os.environ["ADOPT_RENDER_LOG"], "a") as log:
        log.write(request.path + "\n")
    return HttpResponse("<h1>%s</h1>" % IceCream.objects.get(slug=slug).name)
EOF
PostgreSQL::Test::Utils::append_to_file("$project/mysite/urls.py", <<'EOF');

from shop import views as shop_views  # noqa: E402

urlpatterns += [path("icecream/<slug:slug>/", shop_views.icecream)]
EOF
my ($host, $pgport) = ($node->host, $node->port);
PostgreSQL::Test::Utils::append_to_file("$project/mysite/settings.py", <<"EOF");

INSTALLED_APPS += ["shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "mysite",
                         "USER": "mysite", "HOST": "$host", "PORT": "$pgport"}}
EOF
# The document's blocks, as they are.
PostgreSQL::Test::Utils::append_to_file("$project/mysite/settings.py",
	"\n" . replace(block('settings'),
		'/var/cache/mysite' => "$tmp/cache", 'redis://127.0.0.1:6379/0' => $redis->url)
	  . block('status-header'));

my $check = block('check');
my ($check_line) = $check =~ /^(.*manage\.py check)$/m or die 'no manage.py check line';
($rc, $out) = shell($project, $check_line);
is($rc, 0, "the check block's manage.py check passes") or diag($out);
like($out, qr/System check identified no issues/, 'with no issue at all');
unlike($out, qr/admin\.E4\d\d/, "Django's default middleware stay: no admin.E408-E410");

# ---- 4. the migration ----------------------------------------------------------
($rc, $out) = manage('makemigrations shop');
like($out, qr/0001_initial/, 'makemigrations shop: 0001_initial') or diag($out);
my $migration = block('migration');
$migration =~ m{^# (shop/migrations/0002_dumper\.py)\n} or die 'the migration block names no file';
write_file("$project/$1", $migration);
($rc, $out) = shell($project, block('migrate'));
is($rc, 0, 'the migrate block, as the site role') or diag($out);
is($node->safe_psql('mysite', q{
	SELECT table_name || ' ' || coalesce(paths_function::text, templates::text)
	       || ' ' || join_tables::text
	FROM dumper_registrations ORDER BY table_name::text}),
	"shop_icecream dependent_paths(shop_icecream) {shop_icecream_sizes}\n"
	  . "shop_size {\"/size/{slug}/\"} {shop_icecream_sizes}",
	'both tables registered, the many-to-many table found');

# ---- 5. what a row maps to -----------------------------------------------------
$node->safe_psql('mysite', q{
	INSERT INTO shop_size (slug) VALUES ('small');
	INSERT INTO shop_icecream (slug, name) VALUES ('vanilla', 'Vanilla');
	INSERT INTO shop_icecream_sizes (icecream_id, size_id)
	    SELECT i.id, s.id FROM shop_icecream i, shop_size s;
}, extra_params => [ '-U', 'mysite' ]);
is($node->safe_psql('mysite', block('preview'), extra_params => [ '-U', 'mysite' ]),
	join("\n", '/icecream/vanilla/', '/icecreams/', '/size/small/',    # the function's
		'/size/small/',                                                 # the templates'
		'/icecream/pistachio/', '/icecreams/'),                         # a row not written
	"the preview block: each row's paths, for a function and for templates");

# ---- 6. served and invalidated -------------------------------------------------
ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:@live:mysite') eq '1' }, timeout => 30),
	'the worker keeps the liveness key of mysite in Redis');
my $serve = replace(block('serve'), '127.0.0.1:8000' => "127.0.0.1:$port");
my $web;
{
	local %ENV = (%ENV, %user_env);
	delete $ENV{PYTHONPATH};
	$web = IPC::Run::start([ 'bash', '-c', "cd '$project' && exec $serve" ],
		'<', \undef, '>', "$tmp/gunicorn.log", '2>&1');
}
END { $web->kill_kill(grace => 10) if defined $web; }

my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
my $url  = "http://127.0.0.1:$port/icecream/vanilla/";
sub renders { return -e $render_log ? scalar(() = slurp_file($render_log) =~ /\n/g) : 0 }
sub label { return $_[0]->{headers}{'x-dumper-cache'} // '' }

ok(DumperTest::wait_for(sub { $http->get($url)->{status} == 200 }, timeout => 30),
	'the serve block: gunicorn from the venv serves the page')
  or diag(slurp_file("$tmp/gunicorn.log"));
my $n = renders();
my $r = $http->get($url);
is(label($r) . ' ' . $r->{content}, 'hit <h1>Vanilla</h1>', 'fetched again: X-Dumper-Cache: hit');
is(renders(), $n, 'without a render');

# Wait until the worker delivered what the site database queued.
sub delivered
{
	return $node->poll_query_until('mysite', 'SELECT count(*) = 0 FROM dumper_pending');
}
$node->safe_psql('mysite', "UPDATE shop_icecream SET name = 'Vanilla Bean'");
ok(delivered(), 'a psql UPDATE is delivered');
$r = $http->get($url);
is(label($r) . ' ' . $r->{content}, 'miss <h1>Vanilla Bean</h1>', 'the page is invalidated: the new name');
is(label($http->get($url)), 'hit', 'and cached again');

$node->safe_psql('mysite', 'DELETE FROM shop_icecream_sizes');
ok(delivered(), 'a many-to-many DELETE is delivered');
is(label($http->get($url)), 'miss', 'it invalidates the ice cream page too');

# ---- 7. dumper_check -----------------------------------------------------------
my ($dumper_check) = $check =~ /^(.*manage\.py dumper_check)$/m or die 'no dumper_check line';
($rc, $out) = shell($project, $dumper_check);
is($rc, 0, "the check block's manage.py dumper_check passes") or diag($out);

done_testing();
