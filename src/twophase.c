/*-------------------------------------------------------------------------
 *
 * twophase.c
 *	  Waking the background worker after COMMIT PREPARED.
 *
 * A prepared transaction writes its paths into dumper.queue at
 * PREPARE TRANSACTION, like any other at pre-commit, but its commit comes
 * later, from whichever session runs COMMIT PREPARED: no commit callback of
 * the writer is left to wake the worker.  A ProcessUtility hook does it
 * instead, once the statement has committed the prepared transaction (its
 * rows are visible to new snapshots from then on).  ROLLBACK PREPARED wakes
 * nobody: its rows vanish.
 *
 * Which blocks to hint: at PREPARE, the preparing backend records, under
 * the transaction's GID in a table in shared memory (one slot per
 * max_prepared_transactions), the blocks of the queue it inserted into, or
 * that it inserted nothing.  COMMIT PREPARED takes the record and hints
 * those blocks, as the writer's own commit would have, or wakes nobody
 * when the transaction queued nothing.  Without a record (the server
 * restarted since the PREPARE, or the prepare was not a PREPARE TRANSACTION
 * statement), the worker is told to scan the queue from its first block.
 * The record is made at XACT_EVENT_PREPARE, before PostgreSQL lets any
 * other backend finish the transaction, so COMMIT PREPARED cannot look
 * before it exists.  GIDs are unique among prepared transactions: a slot
 * still holding a GID being prepared again is a leftover (its transaction
 * was finished outside this hook) and is reused.
 *
 * Rules: installed only with shared_preload_libraries (without the worker
 * there is nobody to wake); the hooks chain to the previous ones, and the
 * ProcessUtility hook adds no work to any other statement than a type test.
 * Errors: none of its own; the record at PREPARE cannot fail (a full table
 * only loses the hint: COMMIT PREPARED then asks for a whole scan); a
 * failing COMMIT PREPARED throws before the wake-up and keeps the record.
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

#include "dumper.h"

#define TWOPHASE_TRANCHE	"dumper prepared transactions"

/* What one prepared transaction inserted into the queue. */
typedef struct TwoPhaseBlocks
{
	char		gid[GIDSIZE];	/* "": a free slot */
	BlockNumber first;			/* InvalidBlockNumber: queued nothing */
	BlockNumber last;
} TwoPhaseBlocks;

typedef struct TwoPhaseShared
{
	LWLock	   *lock;
	int			nslots;			/* max_prepared_transactions */
	TwoPhaseBlocks slots[FLEXIBLE_ARRAY_MEMBER];
} TwoPhaseShared;

static TwoPhaseShared *twophase_shared = NULL;

/* The GID of this backend's last PREPARE TRANSACTION statement; "": none. */
static char twophase_gid[GIDSIZE];

static ProcessUtility_hook_type prev_process_utility = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The size of the table. */
static Size
twophase_shmem_size(void)
{
	return add_size(offsetof(TwoPhaseShared, slots),
					mul_size(max_prepared_xacts, sizeof(TwoPhaseBlocks)));
}

/* Ask the postmaster for the table and its lock. */
static void
twophase_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(twophase_shmem_size()));
	RequestNamedLWLockTranche(TWOPHASE_TRANCHE, 1);
}

/* Create or attach to the table. */
static void
twophase_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	twophase_shared = ShmemInitStruct("dumper prepared transactions",
									  twophase_shmem_size(), &found);
	if (!found)
	{
		memset(twophase_shared, 0, twophase_shmem_size());
		twophase_shared->lock = &(GetNamedLWLockTranche(TWOPHASE_TRANCHE))->lock;
		twophase_shared->nslots = max_prepared_xacts;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Take the record of the prepared transaction gid out of the table: true
 * and its blocks if there was one.
 */
static bool
twophase_take(const char *gid, BlockNumber *first, BlockNumber *last)
{
	bool		found = false;

	if (twophase_shared == NULL)
		return false;
	LWLockAcquire(twophase_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < twophase_shared->nslots; i++)
	{
		TwoPhaseBlocks *slot = &twophase_shared->slots[i];

		if (slot->gid[0] != '\0' && strcmp(slot->gid, gid) == 0)
		{
			*first = slot->first;
			*last = slot->last;
			slot->gid[0] = '\0';
			found = true;
			break;
		}
	}
	LWLockRelease(twophase_shared->lock);
	return found;
}

/*
 * Record the queue blocks of the transaction being prepared (first
 * InvalidBlockNumber: none) under the GID of this backend's PREPARE
 * TRANSACTION; from the XACT_EVENT_PREPARE callback (pathset.c).  Must not
 * fail: a prepare with no GID known, or a full table, records nothing.
 */
void
dumper_twophase_prepared(BlockNumber first, BlockNumber last)
{
	TwoPhaseBlocks *slot = NULL;

	if (twophase_shared == NULL || twophase_gid[0] == '\0')
		return;
	LWLockAcquire(twophase_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < twophase_shared->nslots; i++)
	{
		TwoPhaseBlocks *s = &twophase_shared->slots[i];

		if (s->gid[0] == '\0')
		{
			if (slot == NULL)
				slot = s;
		}
		else if (strcmp(s->gid, twophase_gid) == 0)
		{
			slot = s;			/* a leftover under the same GID */
			break;
		}
	}
	if (slot != NULL)
	{
		strlcpy(slot->gid, twophase_gid, GIDSIZE);
		slot->first = first;
		slot->last = last;
	}
	LWLockRelease(twophase_shared->lock);
	twophase_gid[0] = '\0';
}

/*
 * Run the statement; then, after a PREPARE TRANSACTION, remember its GID
 * for the prepare to come at the end of the statement; after a COMMIT
 * PREPARED, wake the worker with the recorded blocks; after a ROLLBACK
 * PREPARED, drop the record.
 */
static void
twophase_process_utility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	TransactionStmtKind kind = TRANS_STMT_BEGIN;	/* none of ours */
	char		gid[GIDSIZE];
	BlockNumber first;
	BlockNumber last;

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

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	switch (kind)
	{
		case TRANS_STMT_PREPARE:
			strlcpy(twophase_gid, gid, GIDSIZE);
			break;
		case TRANS_STMT_COMMIT_PREPARED:
			if (!twophase_take(gid, &first, &last))
				dumper_wake_worker(0, InvalidBlockNumber);
			else if (first != InvalidBlockNumber)
				dumper_wake_worker(first, last);
			break;
		case TRANS_STMT_ROLLBACK_PREPARED:
			(void) twophase_take(gid, &first, &last);
			break;
		default:
			break;
	}
}

/* Install the hooks; from _PG_init, with shared_preload_libraries only. */
void
dumper_twophase_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = twophase_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = twophase_shmem_startup;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = twophase_process_utility;
}
