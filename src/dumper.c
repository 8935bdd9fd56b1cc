/*-------------------------------------------------------------------------
 *
 * dumper.c
 *	  Module initialisation and configuration (GUCs) of dumper.
 *
 * dumper keeps web page caches fresh: every committed write to a registered
 * table invalidates the URL paths its paths function returns, by deleting
 * per-path keys in Redis after commit.  This file only wires the subsystems
 * together; see dumper.h for the data flow.
 *
 * Rules: _PG_init may run in any backend that loads the library (through
 * shared_preload_libraries or at the first call of a dumper function), so
 * everything registered here must be harmless in a database where the
 * extension does not exist.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "capture.h"
#include "delivery.h"
#include "dumper.h"
#include "redis_url.h"
#include "registration.h"

PG_MODULE_MAGIC;

char	   *dumper_redis_url = NULL;
char	   *dumper_redis_prefix = NULL;
char	   *dumper_publish_channel = NULL;
char	   *dumper_database = NULL;
int			dumper_batch_size = 10000;
int			dumper_redis_timeout = 2000;
int			dumper_naptime = 1000;
int			dumper_liveness_timeout = 5000;
int			dumper_work_mem = 8192;	/* kB */
int			dumper_batch_delay = 2;	/* ms */
bool		dumper_enabled = true;

void		_PG_init(void);

/*
 * Check hook of dumper.redis_url: reject a URL that does not parse, so that a
 * typo is reported by SET, ALTER SYSTEM or the reload, not by delivery.
 */
static bool
dumper_redis_url_check(char **newval, void **extra pg_attribute_unused(),
					   GucSource source pg_attribute_unused())
{
	DumperRedisUrl url;
	const char *problem;

	problem = dumper_redis_url_parse(*newval, &url);
	if (problem != NULL)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("invalid value for parameter \"dumper.redis_url\"");
		GUC_check_errdetail("%s", problem);
		GUC_check_errhint("Use redis://[user:password@]host[:port][/db] or unix://[user:password@]/path/to/redis.sock[?db=N].");
		return false;
	}
	return true;
}

/*
 * Define the GUCs and set up the per-backend subsystems.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("dumper.redis_url",
							   "URL of the Redis server that receives invalidations.",
							   "redis://[user:password@]host[:port][/db] or unix://[user:password@]/path/to/redis.sock[?db=N]. "
							   "May hold a password, so only superusers can see it.",
							   &dumper_redis_url,
							   "redis://127.0.0.1:6379/0",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   dumper_redis_url_check, NULL, NULL);

	DefineCustomStringVariable("dumper.redis_prefix",
							   "Prefix of every Redis key dumper deletes.",
							   "The invalidation key of path P is this prefix followed by P.",
							   &dumper_redis_prefix,
							   "dumper:",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("dumper.publish_channel",
							   "Redis channel on which each delivered path is also published.",
							   "Empty (the default) publishes nothing.",
							   &dumper_publish_channel,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("dumper.database",
							   "Database whose queue the background worker delivers.",
							   "Not PGC_POSTMASTER, so that the library can also be loaded "
							   "without shared_preload_libraries.",
							   &dumper_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.batch_size",
							"Most paths delivered to Redis in one round trip.",
							NULL,
							&dumper_batch_size,
							10000, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.work_mem",
							"Memory for a transaction's gathered paths before they are spilled to the queue.",
							"Past it, the paths gathered so far are written to the queue as part of the "
							"transaction and forgotten; later duplicates are queued again.",
							&dumper_work_mem,
							8192, 64, MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.redis_timeout",
							"Longest wait for Redis in any one call: connect, or a whole batch.",
							NULL,
							&dumper_redis_timeout,
							2000, 10, 600000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("dumper.enabled",
							 "Gather invalidation paths from writes to registered tables.",
							 "Off skips gathering, e.g. for a bulk load; dumper_invalidate() still works.",
							 &dumper_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.batch_delay",
							"Pause of the background worker after a batch that delivered something.",
							"Under load, commits arriving during the pause are delivered together in "
							"the next batch, and cost their backends no wake-up: less CPU for at "
							"most this much more latency.  0 delivers as soon as possible.",
							&dumper_batch_delay,
							2, 0, 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.naptime",
							"Longest sleep of the background worker between looks at the queue.",
							"Commits (COMMIT PREPARED too) wake the worker at once; this interval "
							"covers missed wake-ups.",
							&dumper_naptime,
							1000, 10, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dumper.liveness_timeout",
							"Lifetime of the liveness key the background worker keeps in Redis.",
							"The worker refreshes the key while it is connected and caught up; a web "
							"tier caches pages only while the key exists.  After the worker fails, "
							"backs off or falls behind, pages may be served stale for at most this long.",
							&dumper_liveness_timeout,
							5000, 1000, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("dumper");

	if (process_shared_preload_libraries_in_progress)
	{
		dumper_shmem_init();
		dumper_worker_register();
		dumper_twophase_init();
		dumper_utility_init();
	}

	dumper_pathset_init();
	dumper_regcache_init();
	dumper_join_init();
}
