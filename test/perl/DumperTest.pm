# test/perl/DumperTest.pm: real Redis servers and dumper-ready nodes for the TAP tests.

=pod

=head1 NAME

DumperTest - real Redis servers and dumper-ready PostgreSQL nodes for TAP tests

=head1 SYNOPSIS

  use PostgreSQL::Test::Cluster;
  use PostgreSQL::Test::Utils;
  use Test::More;
  use DumperTest;

  my $redis = DumperTest::Redis->start;     # a real redis-server, free port
  my $node  = DumperTest::new_node('main', redis => $redis);
  $node->start;
  $node->safe_psql('postgres', 'CREATE EXTENSION dumper');

  $redis->cmd('SET', 'dumper:/a/', 'x');
  $node->safe_psql('postgres', "SELECT dumper_invalidate('/a/')");
  ok(DumperTest::wait_for(sub { $redis->cmd('EXISTS', 'dumper:/a/') eq '0' }),
     'key deleted');

  $redis->stop;    # a Redis outage ...
  $redis->start;   # ... and back, on the same port (empty: no persistence)

test/run.sh runs the tests with PERL5LIB holding PostgreSQL's test modules
and test/perl; by hand, from the repository root after C<make install>:

  PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
  PGXS_TEST=$(dirname "$($PG_CONFIG --pgxs)")/../test
  TESTDIR=$PWD PATH=$($PG_CONFIG --bindir):$PATH \
  PG_REGRESS=$PGXS_TEST/regress/pg_regress \
  PERL5LIB=$PGXS_TEST/perl:test/perl \
  prove -v test/t/001_something.pl

=head1 FUNCTIONS

=over

=item DumperTest::new_node($name, %opts)

A L<PostgreSQL::Test::Cluster> node, initialized (UTF8 encoding, C locale,
whatever the environment says) but not started, whose postgresql.conf has
C<max_prepared_transactions = 10> and:

  preload => 1       shared_preload_libraries = 'dumper' (the default; 0: none)
  redis   => $redis  dumper.redis_url: a DumperTest::Redis, or a URL string
  extra   => [...]   more postgresql.conf lines, appended last
  init    => {...}   arguments for $node->init (allows_streaming => 1,
                     extra => [initdb options], ...)

=item DumperTest::icecream_table($node, $rows)

In the started C<$node>'s postgres database: CREATE EXTENSION dumper, a
table C<icecream (id int PRIMARY KEY, slug text, price int)> registered with
the template C</icecream/{slug}/>, and C<$rows> rows (slug C<f1>, C<f2>,
...).  Waits (bounded) until the worker has delivered their paths and
returns whether it did.

=item DumperTest::demo_database($node, @extensions)

In the started C<$node>: the Django demo's role C<web> (not a superuser)
owning database C<demo>, which gets C<CREATE EXTENSION dumper> and each of
C<@extensions>; then C<dumper.database = 'demo'> and a restart.  Waits
(bounded) until the worker serves C<demo> and returns whether it does.

=item DumperTest::demo_env(root => $root, node => $node, redis => $redis, tmp => $tmp, %more)

The environment of C<django/demo>'s manage.py and gunicorn for that
database: C<demo.settings>, the repository's C<django/> and
C<django/demo> on PYTHONPATH, the node, the Redis, the page cache in
C<$tmp/cache> and the render log C<$tmp/renders.log>.  Pairs in C<%more>
are added or replace these (C<DJANGO_SETTINGS_MODULE>, C<DEMO_SLOW_MS>...).

=item DumperTest::set_redis_url($node, $url)

Point the node's worker at another Redis: ALTER SYSTEM SET
dumper.redis_url and a reload (which also ends a back-off).

=item DumperTest::wait_for(sub { ... }, timeout => 10, interval => 0.05)

Call the sub until it returns true, at most C<timeout> seconds (default 10),
sleeping C<interval> seconds between calls.  Returns true as soon as the sub
does, false at the deadline.  The bounded poll for every asynchronous result:
never a fixed sleep.

=back

=head1 DumperTest::Redis

=over

=item DumperTest::Redis->start(dir => $dir, port => $port, socket => 1)

Start a redis-server on 127.0.0.1 (C<--save '' --appendonly no>, so it
holds nothing across a restart) with its log and pid file in C<dir>
(default: a new directory under tmp_check), on C<port> (default: a free one,
reserved with PostgreSQL::Test::Cluster::get_free_port, so nodes never take
it).  With C<socket>, it also listens on a unix socket, C<redis.sock> in a
new directory under the system's temporary directory (a socket's path must
fit in 107 bytes), open to every user.  Waits until it answers PING, at
most 10 s, or dies showing its log.

=item $redis->start

Start a stopped server again, on the same port and directory.

=item $redis->stop(signal => 'TERM')

Stop it: SIGTERM, then SIGKILL after 10 s.  C<signal =E<gt> 'KILL'> kills at
once (a crash).  Servers still running when the test ends are stopped too.

=item $redis->port, $redis->url, $redis->dir, $redis->logfile, $redis->socket_path

Its port, C<redis://127.0.0.1:PORT/0>, directory, log file and unix socket
(undef without one).

=item $redis->cmd(@args)

Run one command with C<redis-cli -h 127.0.0.1 -p PORT @args> and return
its output in redis-cli's raw mode (its default when the output is not a
terminal) with the trailing newline removed: C<OK>, C<1>, a value as is, an
empty string for nil, an error reply as text (C<ERR ...>); multi-bulk replies
one element a line.  In list context, the lines.  Arguments go to redis-cli
as an argument list, not through a shell, so keys may hold any byte but NUL.
Dies when redis-cli fails (the server is down, for instance).

=item $redis->wait_for(sub { ... }, %opts)

Same as DumperTest::wait_for.

=item $redis->subscribe(@channels)

A DumperTest::Redis::Subscriber: its own connection, SUBSCRIBEd to the
channels (it returns once Redis confirmed them, so nothing published after
is missed).  It reads Redis' protocol itself, so payloads are byte-exact.

  $sub->wait_for_message($payload, timeout => 10)  true once a message with
                       that payload arrived (on any of its channels), false
                       at the deadline
  $sub->messages       every message so far, as [ $channel, $payload ] pairs
  $sub->stop           close the connection

=item $redis->record($channel)

redis-cli SUBSCRIBEd to the channel, writing what is published there to a
file (fast enough for tens of thousands of messages a second, where the
subscriber above is not).  Returns the IPC::Run harness (kill_kill it when
done) and the file's path, once Redis counts the subscription.

=item DumperTest::published_paths($file)

The paths in a file written by $redis->record, as a hash reference
path => 1.

=item DumperTest::published_items($node, $subscriber, $file, $last_id)

For tests whose table C<item> has paths C</item/E<lt>idE<gt>/>: wait (at most
30 s) until the record file holds the path of item C<$last_id>, stop the
recording harness, and return (whether that path appeared, the
published_paths of the file, a reference to the ids of C<item> whose path is
missing, in order).

=back

=cut

package DumperTest;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT_OK = qw(new_node wait_for);

# Poll $code until it returns true or timeout seconds have passed.
sub wait_for
{
	my ($code, %opts) = @_;
	my $timeout  = $opts{timeout}  // 10;
	my $interval = $opts{interval} // 0.05;
	my $deadline = Time::HiRes::time() + $timeout;

	while (1)
	{
		return 1 if $code->();
		return 0 if Time::HiRes::time() >= $deadline;
		Time::HiRes::sleep($interval);
	}
}

# The icecream table of most worker tests, delivered (see the POD).
sub icecream_table
{
	my ($node, $rows) = @_;
	$node->safe_psql('postgres', qq{
		CREATE EXTENSION dumper;
		CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
		SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/']);
		INSERT INTO icecream SELECT g, 'f' || g, 1 FROM generate_series(1, $rows) g;
	});
	return $node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dumper_pending');
}

# The Django demo's database on $node, served by the worker (see the POD).
sub demo_database
{
	my ($node, @extensions) = @_;
	$node->safe_psql('postgres', 'CREATE ROLE web LOGIN');
	$node->safe_psql('postgres', 'CREATE DATABASE demo OWNER web');
	$node->safe_psql('demo', join("\n", map { "CREATE EXTENSION $_;" } 'dumper', @extensions));
	$node->append_conf('postgresql.conf', "dumper.database = 'demo'\n");
	$node->restart;
	return $node->poll_query_until('demo', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'dumper worker' AND datname = 'demo'});
}

# The environment of the Django demo on that database (see the POD).
sub demo_env
{
	my (%opts) = @_;
	my ($root, $node, $redis, $tmp) = delete @opts{qw(root node redis tmp)};
	return (
		DJANGO_SETTINGS_MODULE  => 'demo.settings',
		PYTHONPATH              => "$root/django:$root/django/demo",
		PYTHONDONTWRITEBYTECODE => 1,
		DEMO_DB_NAME            => 'demo',
		DEMO_DB_USER            => 'web',
		DEMO_DB_HOST            => $node->host,
		DEMO_DB_PORT            => $node->port,
		DUMPER_REDIS_URL        => $redis->url,
		DEMO_CACHE_DIR          => "$tmp/cache",
		DEMO_RENDER_LOG         => "$tmp/renders.log",
		%opts);
}

# ALTER SYSTEM SET dumper.redis_url and reload.
sub set_redis_url
{
	my ($node, $url) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET dumper.redis_url = '$url'");
	$node->reload;
	return;
}

# The paths a $redis->record file holds, as { path => 1 }.
sub published_paths
{
	my ($file) = @_;
	return { map { $_ => 1 } grep { m{^/} }
		  split /\n/, PostgreSQL::Test::Utils::slurp_file($file) };
}

# Wait for item $last_id's path, stop recording, list unpublished items (POD).
sub published_items
{
	my ($node, $subscriber, $file, $last_id) = @_;
	my $appeared = wait_for(
		sub { PostgreSQL::Test::Utils::slurp_file($file) =~ m{^/item/\Q$last_id\E/$}m },
		timeout => 30);
	$subscriber->kill_kill;
	my $seen = published_paths($file);
	my @missing = grep { !$seen->{"/item/$_/"} }
	  split /\n/, $node->safe_psql('postgres', 'SELECT id FROM item ORDER BY id');
	return ($appeared, $seen, \@missing);
}

# An initialized, not started node configured for dumper (see the POD).
sub new_node
{
	my ($name, %opts) = @_;
	my $preload = $opts{preload} // 1;
	my $node    = PostgreSQL::Test::Cluster->new($name);

	# UTF8 and the C locale whatever the environment's locale: paths are
	# UTF-8 text, and results must not depend on the machine.
	my %init = %{ $opts{init} // {} };
	$init{extra} = [ '--encoding=UTF8', '--no-locale', @{ $init{extra} // [] } ];
	$node->init(%init);

	my @conf = ('max_prepared_transactions = 10');
	push @conf, "shared_preload_libraries = 'dumper'" if $preload;
	if (defined $opts{redis})
	{
		my $url = ref $opts{redis} ? $opts{redis}->url : $opts{redis};
		push @conf, "dumper.redis_url = '$url'";
	}
	push @conf, @{ $opts{extra} // [] };
	$node->append_conf('postgresql.conf', join("\n", @conf) . "\n");
	return $node;
}

package DumperTest::Redis;

use strict;
use warnings;

use Carp;
use File::Temp ();
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();

my @servers;    # every server object, stopped at END

# Start a new server (class method) or a stopped one again (instance method).
sub start
{
	my ($self, %opts) = @_;

	if (!ref $self)
	{
		$self = bless {
			dir => $opts{dir} // PostgreSQL::Test::Utils::tempdir('redis'),
			port => $opts{port} // PostgreSQL::Test::Cluster::get_free_port(),
		}, $self;
		if ($opts{socket})
		{
			my $sockdir = File::Temp::tempdir('dumper_redis_XXXX', TMPDIR => 1, CLEANUP => 1);
			chmod 0755, $sockdir;
			$self->{socket} = "$sockdir/redis.sock";
		}
		push @servers, $self;
	}
	croak "redis on port $self->{port} is already running" if $self->{harness};

	# The pid file is named redis.pid: test/lib.sh's cleanup finds it there
	# if this test process dies without stopping the server.
	my @cmd = (
		'redis-server', '--port', $self->{port}, '--bind', '127.0.0.1',
		'--save', '', '--appendonly', 'no', '--daemonize', 'no',
		'--dir', $self->{dir}, '--pidfile', "$self->{dir}/redis.pid",
		'--logfile', $self->logfile,
		defined $self->{socket}
		? ('--unixsocket', $self->{socket}, '--unixsocketperm', '777')
		: ());
	$self->{harness} = IPC::Run::start(\@cmd, '<', \undef,
		'>', "$self->{dir}/redis.stdout", '2>&1');

	my $up = DumperTest::wait_for(
		sub {
			my $out = '';
			IPC::Run::run([ 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port}, 'PING' ],
				'<', \undef, '>', \$out, '2>', \my $err);
			return $out =~ /^PONG/;
		},
		timeout => 10);
	if (!$up)
	{
		my $log = -f $self->logfile ? PostgreSQL::Test::Utils::slurp_file($self->logfile) : '';
		$self->stop(signal => 'KILL');
		croak "redis-server on 127.0.0.1:$self->{port} did not answer PING in 10 s; log:\n$log";
	}
	return $self;
}

# Stop the server: TERM (KILL after 10 s), or KILL at once.
sub stop
{
	my ($self, %opts) = @_;
	my $h = delete $self->{harness} or return;
	if (($opts{signal} // 'TERM') eq 'KILL')
	{
		$h->signal('KILL');
		$h->finish;
	}
	else
	{
		$h->kill_kill(grace => 10);
	}
	return;
}

sub port    { return $_[0]->{port} }
sub dir     { return $_[0]->{dir} }
sub logfile { return "$_[0]->{dir}/redis.log" }
sub socket_path { return $_[0]->{socket} }
sub url     { return "redis://127.0.0.1:$_[0]->{port}/0" }

# One command through redis-cli; its raw output less the trailing newline.
sub cmd
{
	my ($self, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port}, @args ],
		'<', \undef, '>', \$out, '2>', \$err)
	  or croak "redis-cli @args failed (exit status " . ($? >> 8) . "): $err$out";
	$out =~ s/\n\z//;
	return wantarray ? split(/\n/, $out) : $out;
}

sub wait_for
{
	my $self = shift;
	return DumperTest::wait_for(@_);
}

sub subscribe
{
	my ($self, @channels) = @_;
	return DumperTest::Redis::Subscriber->new($self->{port}, @channels);
}

sub record
{
	my ($self, $channel) = @_;
	my $file = PostgreSQL::Test::Utils::tempdir() . "/published.$channel";
	my $err  = '';
	my $h    = IPC::Run::start(
		[ 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port}, 'SUBSCRIBE', $channel ],
		'<', \undef, '>', $file, '2>', \$err);
	$self->wait_for(sub { grep { /^1$/ } $self->cmd('PUBSUB', 'NUMSUB', $channel) })
	  or croak "redis-cli did not subscribe to $channel: $err";
	return ($h, $file);
}

END
{
	local $?;
	$_->stop for @servers;
}

package DumperTest::Redis::Subscriber;

use strict;
use warnings;

use Carp;
use IO::Select;
use IO::Socket::INET;

# Connect to 127.0.0.1:$port and subscribe; wait for the confirmations.
sub new
{
	my ($class, $port, @channels) = @_;
	my $sock = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto    => 'tcp') or croak "cannot connect to Redis on port $port: $!";
	binmode $sock;
	my $self = bless { sock => $sock, buf => '', messages => [], confirmed => 0 },
	  $class;

	my $req = '*' . (1 + @channels) . "\r\n";
	$req .= '$' . length($_) . "\r\n$_\r\n" for ('SUBSCRIBE', @channels);
	defined syswrite($sock, $req) or croak "cannot write to Redis: $!";
	DumperTest::wait_for(sub { $self->_read; $self->{confirmed} >= @channels })
	  or croak "Redis did not confirm SUBSCRIBE @channels";
	return $self;
}

# Read what has arrived, without blocking, and parse the complete replies.
sub _read
{
	my ($self) = @_;
	my $sel = IO::Select->new($self->{sock});
	while ($sel->can_read(0))
	{
		my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
		last unless $n;
	}
	while (my ($reply, $next) = _parse($self->{buf}, 0))
	{
		substr($self->{buf}, 0, $next) = '';
		next unless ref $reply eq 'ARRAY';
		if ($reply->[0] eq 'subscribe')
		{
			$self->{confirmed}++;
		}
		elsif ($reply->[0] eq 'message')
		{
			push @{ $self->{messages} }, [ $reply->[1], $reply->[2] ];
		}
	}
	return;
}

# Parse one RESP reply of $buf at $pos: (value, position after it), or ()
# when it is not complete yet.
sub _parse
{
	my ($buf, $pos) = @_;
	my $eol = index($buf, "\r\n", $pos);
	return if $eol < 0;
	my $type = substr($buf, $pos, 1);
	my $line = substr($buf, $pos + 1, $eol - $pos - 1);
	my $next = $eol + 2;

	return ($line, $next) if $type eq '+' || $type eq '-' || $type eq ':';
	if ($type eq '$')
	{
		return (undef, $next) if $line < 0;
		return if length($buf) < $next + $line + 2;
		return (substr($buf, $next, $line), $next + $line + 2);
	}
	if ($type eq '*')
	{
		my @elems;
		for (1 .. $line)
		{
			my ($v, $p) = _parse($buf, $next) or return;
			push @elems, $v;
			$next = $p;
		}
		return (\@elems, $next);
	}
	croak "unexpected reply from Redis: $line";
}

sub messages
{
	my ($self) = @_;
	$self->_read;
	return @{ $self->{messages} };
}

sub wait_for_message
{
	my ($self, $payload, %opts) = @_;
	return DumperTest::wait_for(
		sub {
			$self->_read;
			return scalar grep { $_->[1] eq $payload } @{ $self->{messages} };
		},
		%opts);
}

sub stop
{
	my ($self) = @_;
	close $self->{sock} if $self->{sock};
	delete $self->{sock};
	return;
}

1;
