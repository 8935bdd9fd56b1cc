/*-------------------------------------------------------------------------
 *
 * service.c
 *	  Whether a worker serves this database, and waiting for it:
 *	  dumper_wait() (read-your-writes), and the warnings of
 *	  CREATE EXTENSION and dumper_register when nothing would deliver.
 *
 * Design: docs/design.md, "Read-your-writes".  A session remembers the number
 * its last commit that queued paths took (shmem.c), and dumper_wait sleeps
 * on a condition variable until the worker publishes that it delivered
 * through that number.
 *
 * Rules of this file:
 *	- dumper_note_commit runs in XACT_EVENT_COMMIT: it only assigns two
 *	  variables.
 *	- dumper_wait never raises an error for what happens to the wait: a
 *	  timeout, a cancel (or statement_timeout) and a missing worker end it
 *	  with a WARNING and false.  Cancels are held off while it sleeps and
 *	  the pending one is consumed; termination and postmaster death are
 *	  served as usual.
 *	- "Served" means dumper is preloaded and dumper.database names this
 *	  database: the worker configured for it, running or not (the
 *	  dumper_stats view says whether it runs).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "delivery.h"
#include "dumper.h"

/* Longest sleep between looks at the clock and at interrupts. */
#define SERVICE_WAIT_SLICE_MS	100

/* This session committed paths that dumper_wait has not yet waited for. */
static bool service_queued = false;

/* The highest commit number among them (0: no worker serves them). */
static uint64 service_seq = 0;

/* This session's registrations have warned that nothing would deliver. */
static bool service_register_warned = false;

/*
 * A commit of this session queued paths and took number seq (0 when no
 * worker serves the database).  Called in XACT_EVENT_COMMIT: cannot fail.
 */
void
dumper_note_commit(uint64 seq)
{
	service_queued = true;
	if (seq > service_seq)
		service_seq = seq;
}

/*
 * Whether a worker is configured to deliver this database's invalidations:
 * dumper is preloaded and dumper.database names this database.
 */
bool
dumper_serves_this_database(void)
{
	char	   *name;

	if (!dumper_worker_database(NULL))
		return false;
	name = get_database_name(MyDatabaseId);
	return name != NULL && strcmp(name, dumper_database) == 0;
}

/*
 * Warn, when no worker will deliver this database's invalidations, that
 * writes will commit and pages stay stale: what is the event that
 * triggered the look (CREATE EXTENSION, a registration).  Registrations
 * warn once per session: a migration registering ten tables needs to hear
 * it once.  Not in binary-upgrade mode (pg_upgrade re-creates objects with
 * no worker anywhere) nor in a single-user backend.
 */
void
dumper_warn_if_unserved(const char *what, bool registration)
{
	char	   *name;

	if (IsBinaryUpgrade || !IsUnderPostmaster)
		return;
	if (registration && service_register_warned)
		return;
	if (registration && !dumper_serves_this_database())
		service_register_warned = true;
	name = get_database_name(MyDatabaseId);
	if (!dumper_worker_database(NULL))
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("no dumper worker delivers the invalidations of database \"%s\"",
						name ? name : "?"),
				 errdetail("%s: dumper is not in shared_preload_libraries, so its writes queue invalidations that nothing sends to Redis.",
						   what),
				 errhint("Add dumper to shared_preload_libraries, set dumper.database = '%s', and restart the server.",
						 name ? name : "?")));
	else if (name != NULL && strcmp(name, dumper_database) != 0)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("no dumper worker delivers the invalidations of database \"%s\"",
						name),
				 errdetail("%s: the worker serves database \"%s\" (dumper.database).",
						   what, dumper_database),
				 errhint("Set dumper.database = '%s' in postgresql.conf and reload.",
						 name)));
}

PG_FUNCTION_INFO_V1(dumper_check_served);

/*
 * dumper.check_served(what): the warning of dumper_warn_if_unserved, for
 * the extension's scripts.
 */
Datum
dumper_check_served(PG_FUNCTION_ARGS)
{
	dumper_warn_if_unserved(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	PG_RETURN_VOID();
}

/*
 * End a wait that did not see its invalidations delivered: WARNING, false.
 */
static bool
service_wait_failed(const char *why)
{
	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("dumper_wait: %s", why),
			 errdetail("Pages of this session's writes may be served stale until the worker delivers them.")));
	return false;
}

/*
 * Sleep until the worker has delivered through seq, the timeout passes or
 * a cancel arrives.  True when delivered.
 */
static bool
service_sleep(uint64 seq, int timeout_ms)
{
	uint64		delivered;
	ConditionVariable *cv = dumper_delivered_cv(&delivered);
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	bool		done = false;
	bool		canceled = false;
	bool		timed_out = false;

	if (cv == NULL)
		return false;
	HOLD_CANCEL_INTERRUPTS();
	for (;;)
	{
		long		left;

		/* On the list before looking, so that no broadcast is missed. */
		ConditionVariablePrepareToSleep(cv);
		(void) dumper_delivered_cv(&delivered);
		if (delivered >= seq)
		{
			done = true;
			break;
		}
		left = (long) ((end - GetCurrentTimestamp()) / 1000);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, SERVICE_WAIT_SLICE_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (QueryCancelPending)
		{
			/*
			 * Consumed here, with the timeout that may have caused it: the
			 * statement ends with a WARNING instead.
			 */
			QueryCancelPending = false;
			timed_out = get_timeout_indicator(STATEMENT_TIMEOUT, true);
			canceled = true;
			break;
		}
	}
	ConditionVariableCancelSleep();
	RESUME_CANCEL_INTERRUPTS();
	if (canceled)
		return service_wait_failed(timed_out ?
								   "statement_timeout ended the wait before the invalidations of this session's commits were delivered" :
								   "canceled before the invalidations of this session's commits were delivered");
	if (!done)
		return service_wait_failed(psprintf("the invalidations of this session's commits were not delivered within %d ms",
											timeout_ms));
	return true;
}

PG_FUNCTION_INFO_V1(dumper_wait);

/*
 * dumper_wait(timeout_ms): wait until the invalidations queued by this
 * session's committed transactions are delivered to Redis.  True when
 * they are (at once when there are none), false with a WARNING otherwise.
 */
Datum
dumper_wait(PG_FUNCTION_ARGS)
{
	int			timeout_ms = PG_GETARG_INT32(0);
	uint64		seq = service_seq;
	bool		ok;

	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dumper_wait: timeout_ms must not be negative, not %d", timeout_ms)));
	if (!service_queued)
		PG_RETURN_BOOL(true);
	if (seq == 0 || !dumper_serves_this_database())
	{
		service_queued = false;
		PG_RETURN_BOOL(service_wait_failed("no dumper worker delivers the invalidations of this database"));
	}
	ok = service_sleep(seq, timeout_ms);
	/* A later call waits again only for later commits, or after a failure. */
	if (ok && service_seq == seq)
	{
		service_queued = false;
		service_seq = 0;
	}
	PG_RETURN_BOOL(ok);
}
