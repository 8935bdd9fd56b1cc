/*-------------------------------------------------------------------------
 *
 * liveness.c
 *	  The worker's presence in Redis: the liveness key that tells a web
 *	  tier it may cache, and the probe that ends a back-off early.
 *
 * The liveness key of a database is dumper.redis_prefix || '@live:' ||
 * its name (docs/redis-contract.md).  The worker sets it, with a lifetime
 * of dumper.liveness_timeout, only while it is connected and has delivered
 * every commit it was told of; it deletes it when it stops cleanly, when
 * the extension is dropped, and after an error of its own.  Otherwise the
 * key expires by itself after a failure, a back-off or a backlog.  Paths
 * begin with "/", so no path's key is a liveness key.
 *
 * Rules of this file: every call is bounded by dumper.redis_timeout (the
 * deletion at exit by less) and, like redis_client.c, never raises an
 * error for what Redis does; messages go to err.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "delivery.h"
#include "dumper.h"

/* Longest wait for the deletion of the key while the worker exits. */
#define LIVENESS_DROP_TIMEOUT_MS	200

/* The liveness key of database dbname, in buf. */
static void
liveness_key(StringInfo buf, const char *dbname)
{
	initStringInfo(buf);
	appendStringInfoString(buf, dumper_redis_prefix);
	appendStringInfoString(buf, "@live:");
	appendStringInfoString(buf, dbname);
}

/*
 * SET the liveness key to "<pid> <Unix time in ms>" for
 * dumper.liveness_timeout.  False, with a message, when Redis failed.
 */
bool
dumper_liveness_refresh(DumperRedis *r, const char *dbname,
						char *err, size_t errlen)
{
	StringInfoData key;
	char		value[64];
	char		ttl[16];
	const char *argv[5];
	size_t		argvlen[5];
	bool		ok;
	TimestampTz now = GetCurrentTimestamp();
	int64		unix_ms = (now / 1000) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	liveness_key(&key, dbname);
	snprintf(value, sizeof(value), "%d " INT64_FORMAT, MyProcPid, unix_ms);
	snprintf(ttl, sizeof(ttl), "%d", dumper_liveness_timeout);
	argv[0] = "SET";
	argv[1] = key.data;
	argv[2] = value;
	argv[3] = "PX";
	argv[4] = ttl;
	for (int i = 0; i < 5; i++)
		argvlen[i] = (i == 1) ? (size_t) key.len : strlen(argv[i]);
	ok = dumper_redis_command(r, 5, argv, argvlen, DUMPER_REDIS_REPLY_STATUS,
							  dumper_redis_timeout, err, errlen);
	pfree(key.data);
	return ok;
}

/*
 * DEL the liveness key, when r is a working connection; best effort (the
 * key expires anyway).  Interrupts are held off: this also runs while the
 * worker exits.
 */
void
dumper_liveness_drop(DumperRedis *r, const char *dbname)
{
	StringInfoData key;
	const char *argv[2];
	size_t		argvlen[2];
	char		err[256];

	if (r == NULL)
		return;
	liveness_key(&key, dbname);
	argv[0] = "DEL";
	argvlen[0] = 3;
	argv[1] = key.data;
	argvlen[1] = key.len;
	HOLD_INTERRUPTS();
	if (!dumper_redis_command(r, 2, argv, argvlen, DUMPER_REDIS_REPLY_INTEGER,
							  Min(dumper_redis_timeout, LIVENESS_DROP_TIMEOUT_MS),
							  err, sizeof(err)))
		elog(DEBUG1, "dumper worker could not delete its liveness key: %s", err);
	RESUME_INTERRUPTS();
	pfree(key.data);
}

/*
 * Connect to url and PING: a connection that answers, or NULL with a
 * message.  The worker uses it while it backs off, so that delivery
 * resumes as soon as Redis answers again.
 */
DumperRedis *
dumper_redis_probe(const char *url, int timeout_ms, char *err, size_t errlen)
{
	DumperRedis *r = dumper_redis_connect(url, timeout_ms, err, errlen);
	const char *argv[1] = {"PING"};
	size_t		argvlen[1] = {4};

	if (r == NULL)
		return NULL;
	if (!dumper_redis_command(r, 1, argv, argvlen, DUMPER_REDIS_REPLY_STATUS,
							  timeout_ms, err, errlen))
	{
		dumper_redis_close(r);
		return NULL;
	}
	return r;
}
