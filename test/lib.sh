# shellcheck shell=bash
# test/lib.sh: the shell library of every script of the repository that
# builds dumper and starts servers.  Its users, and what they take from it:
#   test/run.sh, test/memcheck.sh   the test drivers and the rest
#   demo/run.sh, bench/run.sh, bench/django_hits.sh (and bench/lib.sh, which
#                                   builds on it): packages, build, the
#                                   temporary directory, the run user,
#                                   ports, Redis, PostgreSQL, polls
# It lives under test/ because the tests are its first user; a change here
# is a change to all of them.
#
# Source it from bash.  Every function is safe under `set -euo pipefail`: it
# reports a failure with a message on stderr and a non-zero status, and
# never leaves `set -e` to do it.  Names: functions dt_*, variables DT_*.
#
# What it offers:
#   DT_PG_CONFIG, DT_PG_BIN, DT_PG_REGRESS, DT_PG_ISOLATION_REGRESS, DT_PG_PERL
#                            the PostgreSQL used, all from pg_config (below)
#   dt_install_packages      install the Debian packages we need, if missing
#   dt_build_install DIR     make + make install a PGXS directory
#   dt_make_tmp              a temporary directory owned by the run user,
#                            removed (servers stopped first) when the script exits
#   dt_as_user CMD...        run CMD as the run user: "postgres" when we are
#                            root (PostgreSQL refuses root), else ourselves
#   dt_free_port VAR         a free TCP port on 127.0.0.1, stored in VAR
#   dt_redis_start DIR PORT  a throwaway redis-server on 127.0.0.1:PORT
#   dt_regress_conf FILE PORT [LINE...]
#                            the pg_regress --temp-config for a Redis on PORT
#   dt_pg_start DIR PORT [CONF-LINE...]
#                            initdb + start a PostgreSQL 15 cluster on
#                            127.0.0.1:PORT and a unix socket in $DT_TMP
#   dt_poll SECONDS CMD...   a bounded poll; dt_gone PID: the process is gone
#
# Environment read: PG_CONFIG (see below); DUMPER_KEEP_TMP=1 keeps the
# temporary directory (its path is printed at exit) for a look at logs after
# a run; TMPDIR.
#
# Rules: no fixed sleeps; every wait is a bounded poll.  Servers listen on
# loopback only.  Root does apt and `make install` directly; a normal user
# does them with sudo, and skips apt when every package is already there.

# shellcheck disable=SC2034  # constants for the scripts that source this file
# The PostgreSQL to build against and test with is the one of PG_CONFIG when
# set (the pg_config of another installation, or of a relocated copy of
# one), else of Debian 12's PostgreSQL 15.  Every other path comes from that
# pg_config, once it is installed: dt_pg_paths sets them now when it is,
# and dt_install_packages when it installs it.
DT_PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DT_PG_BIN=""                # postgres, initdb, pg_ctl, psql...
DT_PG_REGRESS=""            # pg_regress of PGXS
DT_PG_ISOLATION_REGRESS=""  # pg_isolation_regress of PGXS
DT_PG_PERL=""               # PostgreSQL::Test::* of PGXS

# Set the DT_PG_* paths from pg_config.
dt_pg_paths() {
	local pgxs
	DT_PG_BIN=$("$DT_PG_CONFIG" --bindir) || return 1
	pgxs=$("$DT_PG_CONFIG" --pgxs) || return 1
	# pgxs is .../lib/pgxs/src/makefiles/pgxs.mk; the test drivers are in
	# .../lib/pgxs/src/test.
	pgxs=${pgxs%/makefiles/pgxs.mk}/test
	DT_PG_REGRESS=$pgxs/regress/pg_regress
	DT_PG_ISOLATION_REGRESS=$pgxs/isolation/pg_isolation_regress
	DT_PG_PERL=$pgxs/perl
}
if [ -x "$DT_PG_CONFIG" ] || command -v "$DT_PG_CONFIG" >/dev/null 2>&1; then
	dt_pg_paths || true
fi

# Everything the build, the tests and the demo need from Debian.
DT_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 libhiredis-dev
	redis-server redis-tools
	libipc-run-perl perl
	make gcc libc6-dev
	clang libclang-rt-dev valgrind
	python3-django python3-redis python3-psycopg2 gunicorn
)

DT_TMP=""                 # the temporary directory (dt_make_tmp)
DT_APT_UPDATED=0          # apt-get update runs at most once
DT_REDIS_PIDFILES=()      # redis servers to stop at exit
DT_PG_DATADIRS=()         # clusters to stop at exit

# Print a progress line.
dt_say() { printf '==> %s\n' "$*"; }

# Print an error line on stderr.
dt_err() { printf 'error: %s\n' "$*" >&2; }

# True when we run as root.
dt_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when root, else through sudo (without a
# password prompt when there is no terminal, as in CI).
dt_root_cmd() {
	if dt_is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
	else
		dt_err "need root for: $* (run as root, or install sudo)"
		return 1
	fi
}

# The user that runs the servers and the tests.
dt_run_user() {
	if dt_is_root; then echo postgres; else id -un; fi
}

# Run a command as the run user, keeping the environment (runuser keeps it,
# except HOME, SHELL, USER and LOGNAME).  The current directory must be
# readable by that user: cd into $DT_TMP first.
dt_as_user() {
	if dt_is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Hand files or directories (recursively) to the run user.
dt_give() {
	if dt_is_root; then
		chown -R postgres:postgres "$@"
	fi
}

# Install the packages of DT_PACKAGES that are missing.  Nothing is run when
# all are installed, so a normal user without sudo can run the tests on a
# prepared machine.  Then set the DT_PG_* paths (pg_config is one of the
# packages).
dt_install_packages() {
	local missing=() p
	for p in "${DT_PACKAGES[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		dt_say "installing packages: ${missing[*]}"
		if [ "$DT_APT_UPDATED" -eq 0 ]; then
			dt_root_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
			DT_APT_UPDATED=1
		fi
		dt_root_cmd env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || return 1
	fi
	dt_pg_paths
}

# Build a PGXS directory as the current user, then install it as root.
dt_build_install() {
	local dir=$1
	dt_say "building $dir"
	make -C "$dir" -j"$(nproc)" PG_CONFIG="$DT_PG_CONFIG" || return 1
	dt_say "installing $dir"
	dt_root_cmd make -C "$dir" PG_CONFIG="$DT_PG_CONFIG" install || return 1
}

# Create $DT_TMP, owned by the run user, and arrange for dt_cleanup at exit.
# A script may define dt_after_cleanup, called last with the exit status.
dt_make_tmp() {
	DT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dumper.XXXXXX") || return 1
	if dt_is_root && ! runuser -u postgres -- test -w "$DT_TMP" 2>/dev/null; then
		# TMPDIR is somewhere postgres cannot reach (under /root, say).
		chown postgres:postgres "$DT_TMP"
		if ! runuser -u postgres -- test -w "$DT_TMP"; then
			rmdir "$DT_TMP"
			DT_TMP=$(mktemp -d /tmp/dumper.XXXXXX) || return 1
		fi
	fi
	dt_give "$DT_TMP"
	chmod 755 "$DT_TMP"
	trap 'dt__on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# The EXIT trap: stop servers, remove $DT_TMP, then dt_after_cleanup.
dt__on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	dt_cleanup
	if declare -F dt_after_cleanup >/dev/null; then
		dt_after_cleanup "$rc"
		rc=$?
	fi
	exit "$rc"
}

# Stop every server this script or its tests started under $DT_TMP, and
# remove $DT_TMP.  Idempotent.  PostgreSQL clusters are found by their
# postmaster.pid (pg_regress and TAP leave them behind when interrupted),
# Redis servers by a pid file named redis.pid (DumperTest.pm uses that name).
dt_cleanup() {
	local d f
	for d in "${DT_PG_DATADIRS[@]}"; do
		dt_pg_stop "$d" >/dev/null 2>&1 || true
	done
	if [ -n "$DT_TMP" ] && [ -d "$DT_TMP" ]; then
		while IFS= read -r f; do
			(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/pg_ctl" -D "$(dirname "$f")" \
				-m immediate -w -t 30 stop >/dev/null 2>&1) || true
		done < <(find "$DT_TMP" -name postmaster.pid 2>/dev/null)
		while IFS= read -r f; do
			DT_REDIS_PIDFILES+=("$f")
		done < <(find "$DT_TMP" -name redis.pid 2>/dev/null)
	fi
	for f in "${DT_REDIS_PIDFILES[@]}"; do
		dt__redis_stop_pidfile "$f"
	done
	DT_PG_DATADIRS=()
	DT_REDIS_PIDFILES=()
	if [ -n "$DT_TMP" ] && [ -d "$DT_TMP" ]; then
		if [ "${DUMPER_KEEP_TMP:-0}" = 1 ]; then
			echo "kept temporary directory $DT_TMP" >&2
		else
			rm -rf "$DT_TMP"
		fi
	fi
	DT_TMP=""
}

# Poll a command until it succeeds, at most SECONDS seconds, every 0.1 s.
# Usage: dt_poll SECONDS CMD...
dt_poll() {
	local tries=$(($1 * 10)) i
	shift
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# Store in variable VAR a TCP port that 127.0.0.1 can bind now, from 20000-
# 32767: below the kernel's ephemeral range (32768-60999) and pg_regress's
# own choice (51716 and up).  PostgreSQL::Test::Cluster also picks from
# 10200-32767, but only ports it can bind, so a running server is safe.
dt_free_port() {
	local var=$1 port i
	for ((i = 0; i < 200; i++)); do
		port=$((20000 + RANDOM % 12768))
		if perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(
				LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
				Proto => "tcp", Listen => 1, ReuseAddr => 1)' "$port"; then
			printf -v "$var" '%s' "$port"
			return 0
		fi
	done
	dt_err "no free port found on 127.0.0.1"
	return 1
}

# True when a redis-server answers PONG on 127.0.0.1:PORT.
dt_redis_ping() {
	[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

# Write FILE, the --temp-config of the pg_regress and isolation suites:
# dumper preloaded, delivering to the Redis on 127.0.0.1:PORT for database
# postgres (the suites run in contrib_regression, so their queue is never
# delivered behind their back), 2PC allowed; then any further lines.
dt_regress_conf() {
	local file=$1 port=$2 line
	shift 2
	{
		echo "shared_preload_libraries = 'dumper'"
		echo "dumper.redis_url = 'redis://127.0.0.1:$port/0'"
		echo "dumper.database = 'postgres'"
		echo "max_prepared_transactions = 10"
		for line in "$@"; do echo "$line"; done
	} >"$file" || { dt_err "cannot write $file"; return 1; }
	dt_give "$file"
}

# Start a redis-server on 127.0.0.1:PORT with its files in DIR (created):
# no persistence, log in DIR/redis.log, pid in DIR/redis.pid.  Waits up to
# 10 s for PONG.
dt_redis_start() {
	local dir=$1 port=$2 pid
	mkdir -p "$dir"
	dt_give "$dir"
	(cd "$dir" && dt__exec_as_user redis-server --port "$port" --bind 127.0.0.1 \
		--save '' --appendonly no --daemonize no --dir "$dir" \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
		</dev/null >/dev/null 2>&1) &
	pid=$!
	DT_REDIS_PIDFILES+=("$dir/redis.pid")
	if ! dt_poll 10 dt_redis_ping "$port"; then
		dt_err "redis-server did not answer on 127.0.0.1:$port within 10 s; its log:"
		cat "$dir/redis.log" >&2 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
		return 1
	fi
	dt_poll 10 test -s "$dir/redis.pid" || true
}

# Replace the current (sub)shell by a command run as the run user.
dt__exec_as_user() {
	if dt_is_root; then
		exec runuser -u postgres -- "$@"
	else
		exec "$@"
	fi
}

# Stop the redis-server of DIR (as started by dt_redis_start).
dt_redis_stop() {
	dt__redis_stop_pidfile "$1/redis.pid"
}

# Stop the redis-server whose pid is in FILE, waiting up to 10 s, then KILL.
# A stale pid file (a pid now used by another program) is ignored.
dt__redis_stop_pidfile() {
	local f=$1 pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	grep -q '^redis-server' "/proc/$pid/comm" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	if ! dt_poll 10 dt_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

# True when process PID no longer exists.
dt_gone() { ! kill -0 "$1" 2>/dev/null; }

# initdb a PostgreSQL 15 cluster in DATADIR (must not exist) as the run user,
# superuser "postgres", trust authentication, UTF8 with the C locale; listen on
# 127.0.0.1:PORT and on a unix socket in $DT_TMP; append the CONF-LINEs to
# postgresql.conf; start it (log: DATADIR.log) and wait until it accepts
# connections.  Connect with: psql -h "$DT_TMP" -p PORT -U postgres.
dt_pg_start() {
	local datadir=$1 port=$2 line
	shift 2
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/initdb" -D "$datadir" -U postgres \
		-A trust -E UTF8 --no-locale --no-sync >"$datadir.initdb.log" 2>&1) || {
		dt_err "initdb failed:"
		cat "$datadir.initdb.log" >&2
		return 1
	}
	{
		echo "# added by test/lib.sh"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$DT_TMP'"
		for line in "$@"; do echo "$line"; done
	} >>"$datadir/postgresql.conf"
	DT_PG_DATADIRS+=("$datadir")
	if ! (cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/pg_ctl" -D "$datadir" -l "$datadir.log" \
		-w -t 60 start >/dev/null); then
		dt_err "PostgreSQL did not start; its log:"
		cat "$datadir.log" >&2 2>/dev/null || true
		return 1
	fi
	if ! dt_poll 30 "$DT_PG_BIN/pg_isready" -q -h "$DT_TMP" -p "$port"; then
		dt_err "PostgreSQL on port $port is not ready after 30 s; its log:"
		cat "$datadir.log" >&2 2>/dev/null || true
		return 1
	fi
}

# Stop the cluster in DATADIR (fast shutdown), waiting up to 60 s.
dt_pg_stop() {
	local datadir=$1
	[ -f "$datadir/postmaster.pid" ] || return 0
	(cd "$DT_TMP" && dt_as_user "$DT_PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null)
}
