/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  dumper's shared memory: where committing backends find the worker's
 *	  latch, and the delivery statistics shown by dumper_stats.
 *
 * The segment exists only when dumper is in shared_preload_libraries; every
 * function here is a no-op (or reports "no worker") without it.
 *
 * Locking: one spinlock protects the statistics and the worker's identity.
 * Committing backends read the latch pointer without the lock: it is written
 * once by the worker at start and cleared at exit, and setting a latch that
 * has meanwhile been taken by another process only causes a spurious wake-up
 * (the pattern walsender wake-ups use).  dumper_wake_worker runs in
 * XACT_EVENT_COMMIT and must not fail: it only reads and updates atomics
 * (marks blocks, or lowers scan_from), reads the latch pointer and calls
 * SetLatch (not while the worker backs off after a failure).
 *
 * The scan hint kept here (scan_from, scan_blocks, scan_spill): deliver.c's
 * header explains it (docs/design.md, "The scan hint").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/block.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "delivery.h"

/*
 * A commit's rows in at most this many consecutive blocks are marked block
 * by block; more (a transaction that spilled) lower the hint's "from".
 */
#define DUMPER_HINT_SPAN	8

typedef struct DumperShared
{
	slock_t		mutex;
	Latch	   *worker_latch;	/* NULL when no worker runs */
	pg_atomic_uint32 scan_from; /* scan every block from here on, or
								 * InvalidBlockNumber: the scan hint's "from" */
	pg_atomic_uint32 scan_blocks[DUMPER_HINT_WORDS];	/* its "blocks" */
	pg_atomic_uint32 scan_spill;	/* 1: scan dumper.spill_queue, the hint's "spill" */
	Oid			worker_dboid;	/* database the worker serves */

	/*
	 * Read-your-writes (service.c): every commit the worker serves takes a
	 * number after hinting; the worker publishes the highest number whose
	 * transactions' paths it has all delivered, and wakes the waiters.
	 */
	pg_atomic_uint64 commit_seq;	/* the last number taken */
	pg_atomic_uint64 delivered_seq; /* delivered through this number */
	ConditionVariable delivered_cv; /* broadcast when it advances */
	DumperStats stats;			/* the worker's identity and statistics */
} DumperShared;

static DumperShared *dumper_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Ask the postmaster for our segment. */
static void
dumper_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(DumperShared)));
}

/* Create or attach to the segment. */
static void
dumper_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dumper_shared = ShmemInitStruct("dumper", sizeof(DumperShared), &found);
	if (!found)
	{
		memset(dumper_shared, 0, sizeof(DumperShared));
		SpinLockInit(&dumper_shared->mutex);
		pg_atomic_init_u32(&dumper_shared->scan_from, InvalidBlockNumber);
		for (int i = 0; i < DUMPER_HINT_WORDS; i++)
			pg_atomic_init_u32(&dumper_shared->scan_blocks[i], 0);
		pg_atomic_init_u32(&dumper_shared->scan_spill, 0);
		pg_atomic_init_u64(&dumper_shared->commit_seq, 0);
		pg_atomic_init_u64(&dumper_shared->delivered_seq, 0);
		ConditionVariableInit(&dumper_shared->delivered_cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Install the shared memory hooks; from _PG_init while preloading. */
void
dumper_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dumper_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dumper_shmem_startup;
}

/* The worker announces itself: its latch, pid and database. */
void
dumper_worker_attach(Latch *latch, Oid dboid, const char *dbname)
{
	SpinLockAcquire(&dumper_shared->mutex);
	dumper_shared->stats.worker_pid = MyProcPid;
	dumper_shared->worker_dboid = dboid;
	strlcpy(dumper_shared->stats.worker_dbname, dbname, NAMEDATALEN);
	dumper_shared->stats.connection = DUMPER_CONN_DISCONNECTED;
	dumper_shared->worker_latch = latch;
	SpinLockRelease(&dumper_shared->mutex);
}

/* The worker leaves (on_shmem_exit). */
void
dumper_worker_detach(void)
{
	if (dumper_shared == NULL)
		return;
	SpinLockAcquire(&dumper_shared->mutex);
	if (dumper_shared->stats.worker_pid == MyProcPid)
	{
		dumper_shared->worker_latch = NULL;
		dumper_shared->stats.worker_pid = 0;
		dumper_shared->stats.connection = DUMPER_CONN_DISCONNECTED;
	}
	SpinLockRelease(&dumper_shared->mutex);
}

/*
 * Wake the worker after a commit that queued paths in its database, and
 * tell it which blocks of dumper.queue this transaction inserted into:
 * first to last (first InvalidBlockNumber: none, the rows had nowhere to
 * go; last InvalidBlockNumber: anywhere from first on), and whether it
 * inserted into dumper.spill_queue (spill).  Runs in XACT_EVENT_COMMIT:
 * updates atomics, reads without locking and sets a latch, nothing else.
 * Returns the commit's number for dumper_wait (0: no worker serves this
 * database).
 */
uint64
dumper_wake_worker(BlockNumber first, BlockNumber last, bool spill)
{
	volatile DumperShared *shared = dumper_shared;
	Latch	   *latch;
	uint64		seq;

	if (shared == NULL || shared->worker_dboid != MyDatabaseId)
		return 0;

	if (spill && pg_atomic_read_u32(&dumper_shared->scan_spill) == 0)
		pg_atomic_write_u32(&dumper_shared->scan_spill, 1);

	if (first == InvalidBlockNumber)
		 /* nothing to hint */ ;
	else if (last != InvalidBlockNumber && last < DUMPER_HINT_BLOCKS &&
			 last - first < DUMPER_HINT_SPAN)
	{
		/* A few blocks near the start, as under load: mark each. */
		for (BlockNumber b = first; b <= last; b++)
		{
			pg_atomic_uint32 *word = &dumper_shared->scan_blocks[b / 32];
			uint32		bit = UINT32_C(1) << (b % 32);

			if ((pg_atomic_read_u32(word) & bit) == 0)
				(void) pg_atomic_fetch_or_u32(word, bit);
		}
	}
	else
	{
		/* Many or far: every block from the first on, which may only go down. */
		uint32		from = pg_atomic_read_u32(&dumper_shared->scan_from);

		while (first < from &&
			   !pg_atomic_compare_exchange_u32(&dumper_shared->scan_from, &from,
											   first))
			;
	}

	/*
	 * The number comes after the hint (a full barrier): a worker that reads
	 * the counter before taking the hint and finds this number or more
	 * takes this hint too (dumper_commit_seq).
	 */
	seq = pg_atomic_add_fetch_u64(&dumper_shared->commit_seq, 1);

	/*
	 * A worker backing off after a failure would only wake, see that its
	 * back-off has not ended and sleep again: spare the writer the signal.
	 * (Read without the lock: a stale value costs a spurious wake-up, or a
	 * missed one that dumper.naptime covers.)
	 */
	latch = shared->worker_latch;
	if (latch != NULL && shared->stats.connection != DUMPER_CONN_BACKING_OFF)
		SetLatch(latch);
	return seq;
}

/*
 * The worker reads the commit counter before it takes the scan hint: every
 * commit numbered up to the result has hinted by then, so once the batches
 * from this one on have delivered everything they found and left nothing
 * behind, those commits are delivered (dumper_delivered_through).  0
 * without the segment.
 */
uint64
dumper_commit_seq(void)
{
	if (dumper_shared == NULL)
		return 0;
	/* A full barrier, so the hint's reads that follow cannot come first. */
	return pg_atomic_fetch_add_u64(&dumper_shared->commit_seq, 0);
}

/*
 * The worker has delivered every commit numbered up to seq: publish it and
 * wake the sessions in dumper_wait.
 */
void
dumper_delivered_through(uint64 seq)
{
	uint64		old;

	if (dumper_shared == NULL)
		return;
	old = pg_atomic_read_u64(&dumper_shared->delivered_seq);
	if (seq <= old)
		return;
	pg_atomic_write_u64(&dumper_shared->delivered_seq, seq);
	ConditionVariableBroadcast(&dumper_shared->delivered_cv);
}

/*
 * What dumper_wait needs: the highest commit number delivered so far, and
 * the condition variable broadcast when it grows.  NULL without the
 * segment.
 */
ConditionVariable *
dumper_delivered_cv(uint64 *delivered)
{
	if (dumper_shared == NULL)
		return NULL;
	*delivered = pg_atomic_read_u64(&dumper_shared->delivered_seq);
	return &dumper_shared->delivered_cv;
}

/*
 * Whether the segment exists, that is, dumper is in shared_preload_libraries
 * and a worker is (or will be) running.  dbname, when not NULL, receives
 * the name of the database the running worker serves, or an empty string
 * when none runs.
 */
bool
dumper_worker_database(char *dbname)
{
	if (dbname != NULL)
		dbname[0] = '\0';
	if (dumper_shared == NULL)
		return false;
	if (dbname != NULL)
	{
		SpinLockAcquire(&dumper_shared->mutex);
		if (dumper_shared->stats.worker_pid != 0)
			strlcpy(dbname, dumper_shared->stats.worker_dbname, NAMEDATALEN);
		SpinLockRelease(&dumper_shared->mutex);
	}
	return true;
}

/*
 * The worker takes the scan hint, the blocks committed into since it last
 * took it, and resets it.  Returns false when there is none.  Call it
 * before taking the snapshot of the scan.  Without the segment, a full
 * scan.
 */
bool
dumper_take_scan_hint(DumperScanHint *hint)
{
	bool		any;

	memset(hint->blocks, 0, sizeof(hint->blocks));
	if (dumper_shared == NULL)
	{
		hint->from = 0;
		hint->spill = true;
		return true;
	}
	hint->spill = (pg_atomic_read_u32(&dumper_shared->scan_spill) != 0 &&
				   pg_atomic_exchange_u32(&dumper_shared->scan_spill, 0) != 0);
	hint->from = pg_atomic_exchange_u32(&dumper_shared->scan_from, InvalidBlockNumber);
	any = (hint->from != InvalidBlockNumber) || hint->spill;
	for (int i = 0; i < DUMPER_HINT_WORDS; i++)
	{
		/* A look first: most words are zero, and stay unwritten. */
		if (pg_atomic_read_u32(&dumper_shared->scan_blocks[i]) != 0)
		{
			hint->blocks[i] = pg_atomic_exchange_u32(&dumper_shared->scan_blocks[i], 0);
			any |= (hint->blocks[i] != 0);
		}
	}
	return any;
}

/*
 * Has a writer left a hint that the worker has not taken yet?  A look only,
 * without taking it: the worker skips a batch that could find nothing.
 * (The latch protocol orders this read: a writer updates the hint before
 * it sets the latch, and the worker looks after resetting it.)
 */
bool
dumper_scan_hint_pending(void)
{
	if (dumper_shared == NULL)
		return true;
	if (pg_atomic_read_u32(&dumper_shared->scan_from) != InvalidBlockNumber ||
		pg_atomic_read_u32(&dumper_shared->scan_spill) != 0)
		return true;
	for (int i = 0; i < DUMPER_HINT_WORDS; i++)
		if (pg_atomic_read_u32(&dumper_shared->scan_blocks[i]) != 0)
			return true;
	return false;
}

/* Count a delivered batch of paths. */
void
dumper_stats_delivered(int64 paths)
{
	TimestampTz now;

	if (dumper_shared == NULL)
		return;
	now = GetCurrentTimestamp();	/* a system call: not under the spinlock */
	SpinLockAcquire(&dumper_shared->mutex);
	dumper_shared->stats.paths_delivered += paths;
	dumper_shared->stats.batches_delivered++;
	dumper_shared->stats.last_delivery_at = now;
	SpinLockRelease(&dumper_shared->mutex);
}

/* Count a failed delivery and remember why. */
void
dumper_stats_failure(const char *error)
{
	TimestampTz now = GetCurrentTimestamp();

	if (dumper_shared == NULL)
		return;
	SpinLockAcquire(&dumper_shared->mutex);
	dumper_shared->stats.failures++;
	dumper_shared->stats.last_error_at = now;
	strlcpy(dumper_shared->stats.last_error, error, DUMPER_ERROR_LEN);
	SpinLockRelease(&dumper_shared->mutex);
}

/* Record the state of the worker's Redis connection. */
void
dumper_stats_connection(DumperConnState state)
{
	if (dumper_shared == NULL)
		return;
	SpinLockAcquire(&dumper_shared->mutex);
	dumper_shared->stats.connection = state;
	SpinLockRelease(&dumper_shared->mutex);
}

/*
 * Copy the worker's identity and the delivery statistics into *snap, for
 * the dumper_stats view (views.c).  False, and *snap zeroed, without the
 * segment.
 */
bool
dumper_stats_snapshot(DumperStats *snap)
{
	memset(snap, 0, sizeof(*snap));
	if (dumper_shared == NULL)
		return false;
	SpinLockAcquire(&dumper_shared->mutex);
	*snap = dumper_shared->stats;
	SpinLockRelease(&dumper_shared->mutex);
	return true;
}
