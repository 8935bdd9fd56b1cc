/*-------------------------------------------------------------------------
 *
 * rotate.c
 *	  Keeping the queue table small: rotation with TRUNCATE.
 *
 * Every committed write transaction inserts a queue row and the deliverers
 * delete it milliseconds later, so under steady load the queue's heap is
 * almost all dead tuples.  Autovacuum wakes at most every
 * autovacuum_naptime (a minute by default): at thousands of transactions a
 * second the table grows by megabytes in between, and new rows keep
 * extending it because no free space is recorded before a vacuum.  So the
 * worker rotates the table, as PgQ does: when it is larger than
 * ROTATE_MIN_BLOCKS, it takes the table's ACCESS EXCLUSIVE lock *without
 * waiting* (ConditionalLockRelationOid), copies the few rows still pending,
 * truncates the table (a new, empty file, transactional like any TRUNCATE)
 * and inserts the copies back, all in one transaction.
 *
 * Why it is safe: writers hold ROW EXCLUSIVE on the queue from their
 * pre-commit insert to the end of their transaction, and deliverers (who
 * claim rows by deleting them) hold it too, so once the lock is ours no
 * transaction that touched the queue is in progress (a prepared one keeps
 * its lock, and then rotation simply waits for another time).  A snapshot
 * taken after the lock sees every committed row and no delivered one, and
 * every row it sees goes back into the new file before anyone else can look.
 * A crash before the commit leaves the old file in place; a crash after it
 * cannot lose a writer's row, because that row was inserted after the
 * rotation committed.
 *
 * Costs: writers that commit during a rotation wait for it (a scan of at
 * most a few megabytes, a file creation and a commit).  Readers running in
 * REPEATABLE READ or SERIALIZABLE since before a rotation see the queue
 * empty afterwards, as with any TRUNCATE (dumper_pending shows nothing to
 * them; a dumper_deliver() there finds nothing, and the worker delivers the
 * rows).  On a hot standby the replayed lock briefly conflicts with queries
 * reading the queue.
 *
 * Errors: may ereport; the worker's error recovery aborts the transaction.
 * Memory: the copies live in a context deleted before returning.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "capture.h"
#include "delivery.h"
#include "spi.h"

/* Rotate once the heap is at least this many blocks (1 MB). */
#define ROTATE_MIN_BLOCKS		128

/*
 * Give up (and try again later) when the rows still pending take more than
 * this: they are delivered first, and then rotation is cheap.
 */
#define ROTATE_MAX_KEPT_BYTES	(8 * 1024 * 1024)

/*
 * The size of the queue's heap in blocks, or InvalidBlockNumber when the
 * extension does not exist.
 */
static BlockNumber
rotate_queue_blocks(Oid relid)
{
	Relation	rel;
	BlockNumber nblocks;

	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return InvalidBlockNumber;
	nblocks = RelationGetNumberOfBlocks(rel);
	relation_close(rel, AccessShareLock);
	return nblocks;
}

/*
 * Copy every row of the queue visible to a snapshot taken now into *kept
 * (allocated in the current memory context).  Returns false, with *kept
 * incomplete, when they exceed ROTATE_MAX_KEPT_BYTES.  The caller holds the
 * ACCESS EXCLUSIVE lock.
 */
static bool
rotate_copy_pending(Relation rel, List **kept)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan;
	HeapTuple	tuple;
	Size		bytes = 0;
	bool		fits = true;

	scan = table_beginscan(rel, snapshot, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		bytes += tuple->t_len;
		if (bytes > ROTATE_MAX_KEPT_BYTES)
		{
			fits = false;
			break;
		}
		*kept = lappend(*kept, heap_copytuple(tuple));
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return fits;
}

/*
 * See delivery.h.
 */
DumperRotation
dumper_queue_maybe_rotate(void)
{
	Oid			relid = dumper_queue_relid(true);
	BlockNumber before;
	MemoryContext cxt;
	MemoryContext old_cxt;
	List	   *kept = NIL;
	ListCell   *lc;
	Relation	rel;
	DumperRotation result = DUMPER_ROTATE_TOO_MANY_PENDING;

	if (!OidIsValid(relid))
		return DUMPER_ROTATE_NOT_NEEDED;
	before = rotate_queue_blocks(relid);
	if (before == InvalidBlockNumber || before < ROTATE_MIN_BLOCKS)
		return DUMPER_ROTATE_NOT_NEEDED;
	if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
		return DUMPER_ROTATE_LOCK_BUSY;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "dumper rotation",
								ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(cxt);

	rel = table_open(relid, NoLock);
	if (rotate_copy_pending(rel, &kept))
	{
		table_close(rel, NoLock);
		/* TRUNCATE's transactional new file, as the extension's owner. */
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		dumper_execute_as_owner("TRUNCATE dumper.queue", 0, NULL, NULL, NULL,
								SPI_OK_UTILITY);
		SPI_finish();
		PopActiveSnapshot();
		CommandCounterIncrement();

		/* The relation now has its new, empty file. */
		rel = table_open(relid, NoLock);
		foreach(lc, kept)
			simple_heap_insert(rel, (HeapTuple) lfirst(lc));
		result = DUMPER_ROTATE_DONE;
		ereport(DEBUG1,
				(errmsg("dumper rotated its queue: %u blocks, %d pending rows kept",
						before, list_length(kept))));
	}
	table_close(rel, NoLock);	/* the lock is released at commit */

	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(cxt);
	return result;
}
