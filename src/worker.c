/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: delivers committed invalidations to Redis
 *	  milliseconds after commit, through outages, crashes and failover.
 *
 * One worker serves the database named by dumper.database.  It is woken by
 * a latch that committing backends and COMMIT PREPARED set (never NOTIFY,
 * which serialises commits cluster-wide) and also every dumper.naptime,
 * which covers any missed wake-up.  Each pass drains the queue batch by
 * batch, each batch in its own transaction (deliver.c), then sleeps.
 *
 * Failures of Redis roll the batch back (the rows stay queued), drop the
 * connection and back off exponentially from 1 s to 30 s; success or a
 * configuration reload ends the back-off, and so does a probe (liveness.c)
 * that Redis answers: every 250 ms while backing off after Redis went
 * silent or away, not after an error reply, which a retry would get again.
 *
 * Caught up: after every look at the queue that left nothing behind, the
 * worker publishes the commit number it has delivered through (read before
 * the look; shmem.c, service.c's dumper_wait) and, at most every second,
 * refreshes the liveness key that lets web tiers cache (liveness.c).  It
 * deletes the key when it exits, when the extension is dropped, on a new
 * dumper.redis_url and after an error of its own.  The first failure on a
 * connection kept from an earlier batch, other than a timeout, is retried at
 * once on a new connection instead: Redis or a proxy may have closed it while
 * idle.  Any other error is reported, the transaction aborted, and the loop
 * goes on after the same back-off.
 *
 * The worker starts only once recovery has finished, so it sends nothing
 * from a standby and starts on promotion; not at all in the servers
 * pg_upgrade runs.  Once started, it brings its database's registrations up
 * to date with the schema (a pg_upgrade gives paths functions new OIDs).  It
 * waits quietly while the extension does not exist in its database (before
 * CREATE EXTENSION, after DROP EXTENSION).  SIGHUP re-reads the configuration and reconnects when
 * dumper.redis_url changed; a new dumper.database makes the worker exit so
 * that the postmaster restarts it there.  SIGTERM ends it within a second,
 * also while it waits for Redis (redis_client.c's waits leave the latch
 * out but last at most 100 ms, then serve interrupts).
 *
 * A batch scans only the blocks of dumper.queue the scan hint names
 * (deliver.c's header; docs/design.md, "The scan hint").
 *
 * Under load (a batch of several transactions), the worker pauses
 * dumper.batch_delay between batches, so that commits are delivered in
 * groups and most cost their backends no wake-up.  The queue's heap is then
 * mostly dead rows: between batches the worker rotates it when it has grown
 * (rotate.c).
 *
 * Memory: each pass runs in a context reset at its start; the Redis
 * connection is malloc'ed and kept across passes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "delivery.h"
#include "dumper.h"
#include "redis_client.h"
#include "registration.h"

#define WORKER_BACKOFF_MIN_MS	1000
#define WORKER_BACKOFF_MAX_MS	30000
/* Look again this soon at rows another deliverer was claiming. */
#define WORKER_LEFT_BEHIND_MS	100
/* Longest sleep of a batch pause between checks for interrupts. */
#define WORKER_PAUSE_SLICE_MS	100
#define WORKER_ROTATE_INTERVAL_MS	100 /* how often rotation is considered */
#define WORKER_ROTATE_BACKLOG_MS	1000	/* ... when too many rows were pending */
/* While backing off after Redis went silent or away, look this often. */
#define WORKER_PROBE_MS	250
/* Refresh the liveness key at least this often (and thrice per lifetime). */
#define WORKER_LIVE_REFRESH_MS	1000

PGDLLEXPORT void dumper_worker_main(Datum main_arg);

static DumperRedis *worker_redis = NULL;
static char *worker_redis_url = NULL;	/* the URL worker_redis was opened with */
static int	worker_backoff_ms = 0;	/* 0: not backing off */
static TimestampTz worker_rotate_at = 0;	/* next look at the queue's size */
static TimestampTz worker_retry_at = 0; /* 0: no back-off in progress */
static BlockNumber worker_scan_from = 0;	/* see dumper_deliver_batch */
static bool worker_scan_spill = true;	/* likewise */
static TimestampTz worker_full_scan_at = 0; /* next whole scan of the queue */
static bool worker_synced = false;	/* registrations synced since start */
static bool worker_probing = false; /* probe Redis during this back-off */
static TimestampTz worker_probe_at = 0; /* next probe */
static bool worker_extension = false;	/* the last look found the extension */
static TimestampTz worker_live_at = 0;	/* next refresh of the liveness key */

/*
 * Register the worker; from _PG_init while preloading.  Not in a server
 * pg_upgrade started (binary-upgrade mode): its connection would stop
 * pg_upgrade from dropping and re-creating the database it serves, and
 * nothing is delivered from the old cluster or into the new one's half-made
 * schema.  The upgraded cluster's worker delivers what was pending.
 */
void
dumper_worker_register(void)
{
	BackgroundWorker worker;

	if (IsBinaryUpgrade)
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "dumper");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dumper_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "dumper worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "dumper worker");
	RegisterBackgroundWorker(&worker);
}

/* Close the Redis connection, if any. */
static void
worker_disconnect(void)
{
	dumper_redis_close(worker_redis);
	worker_redis = NULL;
	worker_live_at = 0;			/* a new connection refreshes at once */
	dumper_stats_connection(DUMPER_CONN_DISCONNECTED);
}

/*
 * Make r, a new connection to dumper.redis_url, the worker's, remembering
 * the URL (a reload compares it).
 */
static void
worker_adopt(DumperRedis *r)
{
	worker_redis = r;
	if (worker_redis_url != NULL)
		pfree(worker_redis_url);
	worker_redis_url = MemoryContextStrdup(TopMemoryContext, dumper_redis_url);
}

/*
 * Connect to dumper.redis_url, unless connected.  False, with a message,
 * when that failed.
 */
static bool
worker_connect(char *err, size_t errlen)
{
	DumperRedis *r;

	if (worker_redis != NULL)
		return true;
	r = dumper_redis_connect(dumper_redis_url, dumper_redis_timeout, err, errlen);
	if (r == NULL)
		return false;
	worker_adopt(r);
	dumper_stats_connection(DUMPER_CONN_CONNECTED);
	return true;
}

/*
 * Delete the liveness key (liveness.c), when connected: web tiers stop
 * caching at once instead of when it expires.
 */
static void
worker_not_live(void)
{
	dumper_liveness_drop(worker_redis, dumper_database);
	worker_live_at = 0;
}

/* on_shmem_exit: tell the web tiers, and leave the shared state tidy. */
static void
worker_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	worker_not_live();
	dumper_redis_close(worker_redis);
	worker_redis = NULL;
	dumper_worker_detach();
}

/*
 * A delivery failed: count it, log it, and back off before the next try.
 * redis says whether Redis failed, or something else (an error raised in
 * the pass, already logged with its context).
 */
static void
worker_failed(const char *error, bool redis)
{
	dumper_stats_failure(error);

	/*
	 * Probe while backing off unless Redis answered with an error, which it
	 * would answer the probe's retry too.  After an error of ours, Redis
	 * still answers: stop the web tiers' caching now.
	 */
	worker_probing = redis && !dumper_redis_error_replied(worker_redis);
	if (!redis)
		worker_not_live();
	worker_live_at = 0;
	worker_disconnect();
	worker_scan_from = 0;		/* the batch's rows are back */
	worker_scan_spill = true;
	worker_backoff_ms = (worker_backoff_ms == 0) ? WORKER_BACKOFF_MIN_MS :
		Min(worker_backoff_ms * 2, WORKER_BACKOFF_MAX_MS);
	worker_retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  worker_backoff_ms);
	worker_probe_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  WORKER_PROBE_MS);
	dumper_stats_connection(DUMPER_CONN_BACKING_OFF);
	if (redis)
		ereport(LOG,
				(errmsg("dumper worker could not deliver invalidations to Redis, retrying in %d ms",
						worker_backoff_ms),
				 errdetail("%s", error)));
	else
		ereport(LOG,
				(errmsg("dumper worker could not deliver invalidations, retrying in %d ms",
						worker_backoff_ms),
				 errdetail("%s", error)));
}

/*
 * Reload the configuration.  A new dumper.database needs a new connection
 * to PostgreSQL: exit and let the postmaster restart us there.
 */
static void
worker_reload(void)
{
	char	   *old_database = pstrdup(dumper_database);

	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (strcmp(old_database, dumper_database) != 0)
	{
		ereport(LOG,
				(errmsg("dumper worker restarting to serve database \"%s\"",
						dumper_database)));
		proc_exit(1);
	}
	pfree(old_database);
	if (worker_redis_url == NULL || strcmp(worker_redis_url, dumper_redis_url) != 0)
	{
		/* The old server's web tiers must not go on caching. */
		worker_not_live();
		worker_disconnect();
	}
	/* The operator may have fixed something: retry now. */
	worker_backoff_ms = 0;
	worker_retry_at = 0;
}

/*
 * Whether the extension exists in this database; inside a transaction.  Its
 * queue table answers: the OID is cached and forgotten when the table is
 * dropped (queue.c), so a pass under load looks up no catalog.
 */
static bool
worker_extension_exists(void)
{
	return OidIsValid(dumper_queue_relid(true));
}

/*
 * Rotate the queue when it has grown (rotate.c), in a transaction of its
 * own.  Considered every WORKER_ROTATE_INTERVAL_MS; after every batch while
 * the lock was busy (under load a moment without a writer in its commit
 * comes soon); after WORKER_ROTATE_BACKLOG_MS when too many rows were
 * pending (they are delivered first: the scan under the lock stays short).
 */
static void
worker_maybe_rotate(void)
{
	TimestampTz now = GetCurrentTimestamp();
	DumperRotation result;

	if (now < worker_rotate_at)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "rotating the queue");
	result = dumper_queue_maybe_rotate();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	if (result == DUMPER_ROTATE_LOCK_BUSY)
		worker_rotate_at = 0;
	else
		worker_rotate_at = TimestampTzPlusMilliseconds(now,
													   result == DUMPER_ROTATE_TOO_MANY_PENDING ?
													   WORKER_ROTATE_BACKLOG_MS :
													   WORKER_ROTATE_INTERVAL_MS);
}

/*
 * After a batch of several transactions (a sign of load: a lone writer's
 * commit is delivered alone), pause dumper.batch_delay before the next
 * one, without waiting on the latch: a committing backend's
 * SetLatch then finds no sleeper to signal (no system call), and the
 * commits of the pause are claimed together.  The pause is slept in slices
 * of at most WORKER_PAUSE_SLICE_MS with interrupts served after each, so a
 * SIGTERM or a cancel is not kept waiting by a long dumper.batch_delay.
 */
static void
worker_batch_pause(void)
{
	TimestampTz end;

	if (dumper_batch_delay <= 0)
		return;
	end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), dumper_batch_delay);
	for (;;)
	{
		long		left = (long) ((end - GetCurrentTimestamp()) / 1000);

		if (left <= 0)
			break;
		(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, WORKER_PAUSE_SLICE_MS), PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Decide where the next batch starts looking, before its transaction: from
 * the start when a whole scan is due (every dumper.naptime).  Returns false
 * when the batch could find nothing at all: no writer's hint since the last
 * batch took it, no rows left behind by it, no whole scan due.  Such a
 * batch, the last of every wake-up, is skipped without a transaction.  A
 * commit after this look sets the latch, which the sleep that follows sees.
 */
static bool
worker_something_to_scan(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now >= worker_full_scan_at)
	{
		worker_scan_from = 0;
		worker_scan_spill = true;
		worker_full_scan_at = TimestampTzPlusMilliseconds(now, dumper_naptime);
	}
	return worker_scan_from != InvalidBlockNumber || worker_scan_spill ||
		dumper_scan_hint_pending();
}

/*
 * After a look at the queue (a batch, or finding nothing to scan) that
 * began when the commit counter read seq: when it left nothing behind,
 * every commit numbered up to seq is delivered (shmem.c).  Publish that
 * for dumper_wait and, when due, refresh the liveness key (liveness.c),
 * retrying once on a new connection when the kept one fails other than by
 * a timeout.  False when Redis failed (handled: back-off).
 */
static bool
worker_caught_up(uint64 seq)
{
	char		err[512];
	TimestampTz now;
	bool		reused;

	if (worker_scan_from != InvalidBlockNumber || worker_scan_spill)
		return true;			/* rows left behind: not caught up */
	dumper_delivered_through(seq);
	now = GetCurrentTimestamp();
	if (!worker_extension || now < worker_live_at)
		return true;
	for (int attempt = 0;; attempt++)
	{
		reused = (worker_redis != NULL);
		if (worker_connect(err, sizeof(err)) &&
			dumper_liveness_refresh(worker_redis, dumper_database, err, sizeof(err)))
			break;
		if (reused && attempt == 0 && !dumper_redis_timed_out(worker_redis))
		{
			worker_disconnect();
			continue;
		}
		worker_failed(err, true);
		return false;
	}
	worker_live_at = TimestampTzPlusMilliseconds(now,
												 Min(WORKER_LIVE_REFRESH_MS,
													 dumper_liveness_timeout / 3));
	return true;
}

/*
 * While backing off after Redis went silent or away: connect and PING.  An
 * answer ends the back-off, and the connection serves the next pass.
 */
static void
worker_probe(void)
{
	char		err[512];
	DumperRedis *r = dumper_redis_probe(dumper_redis_url, dumper_redis_timeout,
										err, sizeof(err));

	worker_probe_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  WORKER_PROBE_MS);
	if (r == NULL)
	{
		elog(DEBUG1, "dumper worker probed Redis: %s", err);
		return;
	}
	worker_disconnect();
	worker_adopt(r);
	worker_retry_at = 0;
}

/*
 * One pass: drain the queue batch by batch.  Returns false when the pass
 * failed (the caller backs off) or the extension is missing.
 */
static bool
worker_pass(bool *extension_missing)
{
	char		err[512];
	bool		retried = false;

	*extension_missing = false;
	for (;;)
	{
		int64		n;
		int64		nrows;
		bool		reused = (worker_redis != NULL);
		uint64		seq;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			worker_reload();
		/* Before the hint is looked at or taken: see worker_caught_up. */
		seq = dumper_commit_seq();
		if (!worker_something_to_scan())
			return worker_caught_up(seq);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "delivering invalidations");

		if (!worker_extension_exists())
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			pgstat_report_activity(STATE_IDLE, NULL);
			*extension_missing = true;
			worker_synced = false;
			worker_extension = false;
			return true;
		}
		worker_extension = true;

		/*
		 * Once per start (and per CREATE EXTENSION): after a pg_upgrade,
		 * record the paths functions' new OIDs and the triggers'
		 * dependencies on them, which the upgrade did not carry
		 * (dumper_sync_registrations), in a transaction of its own.  Not
		 * again if it fails.
		 */
		if (!worker_synced)
		{
			worker_synced = true;
			dumper_sync_registrations();
			/* Its own commit: a failed batch must not take it back. */
			PopActiveSnapshot();
			CommitTransactionCommand();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
		}

		if (!worker_connect(err, sizeof(err)))
		{
			PopActiveSnapshot();
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);
			worker_failed(err, true);
			return false;
		}

		n = dumper_deliver_batch(worker_redis, dumper_batch_size, &worker_scan_from,
								 &worker_scan_spill, &nrows, err, sizeof(err));
		PopActiveSnapshot();
		if (n < 0)
		{
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);

			/*
			 * A connection kept since an earlier pass may have been closed
			 * while idle (Redis's timeout setting, a proxy, a restart): try
			 * once more at once on a new one before calling it a failure.
			 * Not after a timeout: Redis is slow or unreachable, and a new
			 * connection would only wait as long again.
			 */
			if (reused && !retried && worker_backoff_ms == 0 &&
				!dumper_redis_timed_out(worker_redis))
			{
				ereport(DEBUG1,
						(errmsg("dumper worker connects to Redis again after an error on its kept connection"),
						 errdetail("%s", err)));
				worker_disconnect();
				worker_scan_from = 0;	/* the batch's rows are back */
				worker_scan_spill = true;
				retried = true;
				continue;
			}
			worker_failed(err, true);
			return false;
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		if (worker_backoff_ms != 0)
		{
			ereport(LOG, (errmsg("dumper worker delivers to Redis again")));
			worker_backoff_ms = 0;
		}
		dumper_stats_connection(DUMPER_CONN_CONNECTED);
		if (!worker_caught_up(seq))
			return false;
		worker_maybe_rotate();
		/*
		 * Done, unless a commit hinted during the batch: a lock or buffer
		 * wait in the batch may have reset the latch its commit set.
		 */
		if (n == 0 && !dumper_scan_hint_pending())
			return true;
		if (nrows > 1)
			worker_batch_pause();
	}
}

/*
 * Entry point of the worker.
 */
void
dumper_worker_main(Datum main_arg pg_attribute_unused())
{
	MemoryContext pass_cxt;
	sigjmp_buf	local_sigjmp_buf;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dumper_database, NULL, 0);

	/*
	 * The worker's own commits only delete delivered rows: losing one in a
	 * crash means a harmless redelivery, so they need not wait for a WAL
	 * flush, which would compete with the writers' commits.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* Each batch's scan needs a snapshot of its own (deliver.c). */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
	/* Rotation's TRUNCATE and the registration sync write. */
	SetConfigOption("default_transaction_read_only", "off",
					PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * The worker is a superuser: no search_path of the database's or of
	 * the role's settings (ALTER DATABASE ... SET) may name a schema whose
	 * operators its statements would find first.  Each statement pins it
	 * too (spi.c); this covers everything else the worker runs.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	dumper_worker_attach(&MyProc->procLatch, MyDatabaseId, dumper_database);
	on_shmem_exit(worker_exit, (Datum) 0);
	pgstat_report_appname("dumper worker");
	ereport(LOG, (errmsg("dumper worker started for database \"%s\"", dumper_database)));

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "dumper worker pass",
									 ALLOCSET_DEFAULT_SIZES);

	/*
	 * An error in a pass (other than a Redis failure, which is returned, not
	 * thrown) is reported and the loop goes on after a back-off, like
	 * autovacuum recovers from errors.
	 */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		char	   *message;
		ErrorData  *edata;

		/* The error's callbacks belonged to stack frames that are gone. */
		error_context_stack = NULL;
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(pass_cxt);
		edata = CopyErrorData();
		message = pstrdup(edata->message ? edata->message : "unknown error");
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		worker_failed(message, false);
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		bool		extension_missing = false;
		long		timeout;
		TimestampTz now;

		if (worker_retry_at != 0 && worker_probing &&
			GetCurrentTimestamp() >= worker_probe_at)
			worker_probe();
		if (worker_retry_at == 0 || GetCurrentTimestamp() >= worker_retry_at)
		{
			worker_retry_at = 0;
			MemoryContextReset(pass_cxt);
			MemoryContextSwitchTo(pass_cxt);
			(void) worker_pass(&extension_missing);
			if (extension_missing)
			{
				worker_not_live();
				worker_disconnect();
			}
		}

		/*
		 * Sleep until a commit sets the latch, the poll interval passes, the
		 * back-off ends or its next probe is due, or the liveness key needs
		 * refreshing; not long while another deliverer's claim kept rows
		 * back (its rollback wakes no one).  A commit's wake-up during a
		 * back-off is consumed without retrying early; its paths wait in the
		 * queue.
		 */
		now = GetCurrentTimestamp();
		if (worker_retry_at != 0)
		{
			timeout = (long) ((worker_retry_at - now) / 1000);
			if (worker_probing)
				timeout = Min(timeout, (long) ((worker_probe_at - now) / 1000));
		}
		else if (worker_scan_from != InvalidBlockNumber || worker_scan_spill)
			timeout = Min(dumper_naptime, WORKER_LEFT_BEHIND_MS);
		else
			timeout = dumper_naptime;
		if (worker_retry_at == 0 && worker_extension && worker_live_at != 0)
			timeout = Min(timeout, (long) ((worker_live_at - now) / 1000));
		timeout = Max(timeout, 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			worker_reload();
	}
}
