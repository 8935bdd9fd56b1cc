# dumper: PGXS build.  The version is dumper.control's default_version.

EXTENSION = dumper

MODULE_big = dumper
OBJS = \
	src/dumper.o \
	src/spi.o \
	src/registry.o \
	src/registration.o \
	src/regcache.o \
	src/tablecache.o \
	src/trigger.o \
	src/join.o \
	src/template.o \
	src/template_parse.o \
	src/template_expr.o \
	src/truncate.o \
	src/partition.o \
	src/ddl.o \
	src/restore.o \
	src/rewrite.o \
	src/pathset.o \
	src/twophase.o \
	src/utility.o \
	src/queue.o \
	src/deliver.o \
	src/rotate.o \
	src/redis_url.o \
	src/redis_client.o \
	src/shmem.o \
	src/service.o \
	src/liveness.o \
	src/views.o \
	src/preview.o \
	src/worker.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)

SHLIB_LINK += -lhiredis
# PostgreSQL's headers are system headers: -Wextra applies to our code only.
PG_CPPFLAGS += -Isrc -isystem $(includedir_server)
PG_CFLAGS += -Wall -Wextra -Werror

# `make installcheck`: the pg_regress suites (test/sql) and the isolation
# specs (test/specs) against the running server that PG_CONFIG's
# installation starts, as the user running make (a superuser role of that
# name, or PGUSER=postgres).  It first installs test/c_paths (a paths
# function in C that the register test loads), so it runs where
# `make install` does: as root, or with sudo.  The server needs, once, in
# its postgresql.conf and then a restart:
#     shared_preload_libraries = 'dumper'
#     dumper.redis_url = 'redis://127.0.0.1:6379/0'   # any Redis it may write to
#     dumper.database = 'postgres'
#     max_prepared_transactions = 10
# The suites run in database contrib_regression, which the worker never
# delivers from (dumper.database is another): they need the Redis for
# nothing but the worker's connection.  The TAP tests (test/t) start their
# own servers: run them with test/run.sh.
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --encoding=UTF8 --no-locale
REGRESS_PREP = install-c-paths
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --encoding=UTF8 --no-locale

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The isolation specs run in the pg_regress suites' database, as under
# test/run.sh: its name appears in warnings they expect.  (Set after the
# include, which sets it to isolation_regression.)
ISOLATION_TESTDB = contrib_regression

# PGXS tracks no header dependencies: every object depends on every header
# of ours, so that a changed struct never meets an object built against the
# old layout.
$(OBJS): $(wildcard src/*.h)

.PHONY: test check-fast demo bench install-c-paths
# The whole suite, as CI runs it (test/run.sh; about 15 minutes).
test:
	bash test/run.sh
# The fast tier: every pg_regress and isolation test and the quick TAP
# tests (test/run.sh --fast; about 2 1/2 minutes).
check-fast:
	bash test/run.sh --fast
# The register test's paths function in C, built as a user would build one.
install-c-paths:
	$(MAKE) -C test/c_paths PG_CONFIG=$(PG_CONFIG) install
clean: clean-c-paths
.PHONY: clean-c-paths
clean-c-paths:
	$(MAKE) -C test/c_paths PG_CONFIG=$(PG_CONFIG) clean
demo:
	bash demo/run.sh
# The benchmark suite: one table of ratios (bench/run.sh; about 12-14 minutes).
bench:
	bash bench/run.sh

# Memory safety (docs/development.md, "Memory safety and fuzzing").
.PHONY: fuzz check-valgrind
# Both libFuzzer targets (test/fuzz) for FUZZ_SECONDS each (default 60).
fuzz:
	$(MAKE) -C test/fuzz run
# The pg_regress and isolation suites with the server under valgrind
# (test/memcheck.sh; about 80 s).
check-valgrind:
	bash test/memcheck.sh
