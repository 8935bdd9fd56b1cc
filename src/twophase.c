/*-------------------------------------------------------------------------
 *
 * twophase.c
 *	  Waking the background worker after COMMIT PREPARED.
 *
 * A prepared transaction writes its paths at PREPARE TRANSACTION, into
 * dumper.spill_queue (queue.c says why not dumper.queue), but its commit comes
 * later, from whichever session runs COMMIT PREPARED: no commit callback of
 * the writer is left to wake the worker.  The ProcessUtility hook
 * (utility.c) has this file do it instead, once the statement has committed the prepared transaction (its
 * rows are visible to new snapshots from then on).  ROLLBACK PREPARED wakes
 * nobody: its rows vanish.
 *
 * What to hint: at PREPARE, the preparing backend records, under the
 * transaction's GID in a table in shared memory (one slot per
 * max_prepared_transactions), whether it queued anything.  COMMIT PREPARED
 * takes the record and has the worker scan the spill queue, as the writer's
 * own commit would have, or wakes nobody when the transaction queued
 * nothing.  Without a record (the server restarted since the PREPARE, or
 * the prepare was not a PREPARE TRANSACTION statement), the worker is told
 * to scan both queues whole.
 * The record is made at XACT_EVENT_PREPARE, before PostgreSQL lets any
 * other backend finish the transaction, so COMMIT PREPARED cannot look
 * before it exists; COMMIT PREPARED takes it before it runs, while the GID
 * is still taken (the statement frees it before it returns, and another
 * transaction may be prepared under it at once).  So a slot still holding
 * a GID being prepared again is a leftover (a COMMIT PREPARED that failed
 * after its commit, or a transaction finished outside this hook) and is
 * reused.
 *
 * Rules: installed only with shared_preload_libraries (without the worker
 * there is nobody to wake); the table has shared memory hooks of its own.
 * Errors: none of its own; the record at PREPARE cannot fail (a full table only loses the hint: COMMIT
 * PREPARED then asks for a whole scan); a failing COMMIT PREPARED or
 * ROLLBACK PREPARED puts the record back, and the COMMIT PREPARED asks for
 * a whole scan.
 * Locking: one LWLock protects the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"

#include "capture.h"
#include "delivery.h"

#define TWOPHASE_TRANCHE	"dumper prepared transactions"

/* Whether one prepared transaction inserted into the spill queue. */
typedef struct TwoPhaseRecord
{
	char		gid[GIDSIZE];	/* "": a free slot */
	bool		queued;			/* false: queued nothing */
} TwoPhaseRecord;

typedef struct TwoPhaseShared
{
	LWLock	   *lock;
	int			nslots;			/* max_prepared_transactions */
	TwoPhaseRecord slots[FLEXIBLE_ARRAY_MEMBER];
} TwoPhaseShared;

static TwoPhaseShared *twophase_shared = NULL;

/* The GID of this backend's last PREPARE TRANSACTION statement; "": none. */
static char twophase_gid[GIDSIZE];

/* The size of the table. */
static Size
twophase_shmem_size(void)
{
	return add_size(offsetof(TwoPhaseShared, slots),
					mul_size(max_prepared_xacts, sizeof(TwoPhaseRecord)));
}

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Ask for the table and its lock (shmem_request_hook). */
static void
twophase_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(twophase_shmem_size()));
	RequestNamedLWLockTranche(TWOPHASE_TRANCHE, 1);
}

/* Create or attach to the table (shmem_startup_hook). */
static void
twophase_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	twophase_shared = ShmemInitStruct(TWOPHASE_TRANCHE, twophase_shmem_size(), &found);
	if (!found)
	{
		memset(twophase_shared, 0, twophase_shmem_size());
		twophase_shared->lock = &(GetNamedLWLockTranche(TWOPHASE_TRANCHE))->lock;
		twophase_shared->nslots = max_prepared_xacts;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The slot holding a record for gid, or NULL; *free: the first free slot
 * (NULL: none).  Called with the table's lock held.
 */
static TwoPhaseRecord *
twophase_lookup(const char *gid, TwoPhaseRecord **free)
{
	*free = NULL;
	for (int i = 0; i < twophase_shared->nslots; i++)
	{
		TwoPhaseRecord *slot = &twophase_shared->slots[i];

		if (slot->gid[0] == '\0')
		{
			if (*free == NULL)
				*free = slot;
		}
		else if (strcmp(slot->gid, gid) == 0)
			return slot;
	}
	return NULL;
}

/*
 * Take the record of the prepared transaction gid out of the table: true,
 * and in *queued whether it queued anything, if there was one.
 */
static bool
twophase_take(const char *gid, bool *queued)
{
	TwoPhaseRecord *slot;
	TwoPhaseRecord *free;

	if (twophase_shared == NULL)
		return false;
	LWLockAcquire(twophase_shared->lock, LW_EXCLUSIVE);
	slot = twophase_lookup(gid, &free);
	if (slot != NULL)
	{
		*queued = slot->queued;
		slot->gid[0] = '\0';
	}
	LWLockRelease(twophase_shared->lock);
	return slot != NULL;
}

/*
 * Store a record for gid in a free slot, or, when replace, in the slot of
 * a leftover under the same GID; a full table stores nothing.  Nothing
 * here can fail but the lock's acquisition.
 */
static void
twophase_store(const char *gid, bool queued, bool replace)
{
	TwoPhaseRecord *slot;
	TwoPhaseRecord *free;

	LWLockAcquire(twophase_shared->lock, LW_EXCLUSIVE);
	slot = twophase_lookup(gid, &free);
	if (slot == NULL)
		slot = free;
	else if (!replace)
		slot = NULL;
	if (slot != NULL)
	{
		strlcpy(slot->gid, gid, GIDSIZE);
		slot->queued = queued;
	}
	LWLockRelease(twophase_shared->lock);
}

/*
 * Record whether the transaction being prepared queued anything, under the
 * GID of this backend's PREPARE TRANSACTION; from the XACT_EVENT_PREPARE
 * callback (pathset.c).  Must not fail: a prepare with no GID known, or a
 * full table, records nothing.  A record already under this GID is a
 * leftover (see the header).
 */
void
dumper_twophase_prepared(bool queued)
{
	if (twophase_shared == NULL || twophase_gid[0] == '\0')
		return;
	twophase_store(twophase_gid, queued, true);
	twophase_gid[0] = '\0';
}

/*
 * From the ProcessUtility hook (utility.c): false, without running it, when
 * the statement is not PREPARE TRANSACTION, COMMIT PREPARED or ROLLBACK
 * PREPARED; otherwise run it through next and return true.
 * After a PREPARE TRANSACTION, remember its GID for the prepare to come at
 * the end of the statement.  COMMIT PREPARED and ROLLBACK PREPARED take the
 * record *before* running: the statement frees the GID before it returns,
 * and a transaction prepared under the same GID meanwhile must keep its own
 * record.  After a COMMIT PREPARED, wake the worker to scan the spill
 * queue, if the transaction queued anything.  If the statement fails, the
 * record goes back (unless the GID was prepared again), and a failed COMMIT
 * PREPARED asks for a whole scan, in case it failed after its commit.
 */
bool
dumper_twophase_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc,
						ProcessUtility_hook_type next)
{
	Node	   *parsetree = pstmt->utilityStmt;
	TransactionStmtKind kind = TRANS_STMT_BEGIN;	/* none of ours */
	char		gid[GIDSIZE];
	bool		taken_queued;

	/* Set before PG_TRY, read in PG_CATCH. */
	volatile bool have = false;
	volatile bool queued = false;

	if (IsA(parsetree, TransactionStmt))
	{
		TransactionStmt *stmt = (TransactionStmt *) parsetree;

		if (stmt->kind == TRANS_STMT_PREPARE ||
			stmt->kind == TRANS_STMT_COMMIT_PREPARED ||
			stmt->kind == TRANS_STMT_ROLLBACK_PREPARED)
		{
			kind = stmt->kind;
			strlcpy(gid, stmt->gid, GIDSIZE);	/* read before, not after */
		}
	}

	if (kind == TRANS_STMT_BEGIN)
		return false;

	if (kind != TRANS_STMT_PREPARE && twophase_take(gid, &taken_queued))
	{
		have = true;
		queued = taken_queued;
	}
	PG_TRY();
	{
		next(pstmt, queryString, readOnlyTree, context, params, queryEnv,
			 dest, qc);
	}
	PG_CATCH();
	{
		if (have)
			twophase_store(gid, queued, false);
		if (kind == TRANS_STMT_COMMIT_PREPARED)
			(void) dumper_wake_worker(0, InvalidBlockNumber, true);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (kind == TRANS_STMT_PREPARE)
		strlcpy(twophase_gid, gid, GIDSIZE);
	else if (kind == TRANS_STMT_COMMIT_PREPARED)
	{
		if (!have)
			dumper_note_commit(dumper_wake_worker(0, InvalidBlockNumber, true));
		else if (queued)
			dumper_note_commit(dumper_wake_worker(InvalidBlockNumber, InvalidBlockNumber, true));
	}
	return true;
}

/*
 * Install the shared memory hooks; from _PG_init, with
 * shared_preload_libraries only.
 */
void
dumper_twophase_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = twophase_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = twophase_shmem_startup;
}
