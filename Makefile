# dumper: PGXS build.  The version is dumper.control's default_version.

EXTENSION = dumper

MODULE_big = dumper
OBJS = \
	src/dumper.o \
	src/spi.o \
	src/registry.o \
	src/registration.o \
	src/regcache.o \
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

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
PROVE_FLAGS = -I test/perl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on every header
# of ours, so that a changed struct never meets an object built against the
# old layout.
$(OBJS): $(wildcard src/*.h)

.PHONY: test demo bench
test:
	bash test/run.sh
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
