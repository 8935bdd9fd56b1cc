/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Writing a transaction's paths into the durable queue, dumper.queue.
 *
 * The queue is an ordinary WAL-logged heap table, so its rows commit or
 * vanish with the transaction that wrote them, survive a crash and follow a
 * failover.  The writer skips the executor: one heap_insert per chunk of
 * paths, at pre-commit, with no index, no sequence and no trigger.  Ordinary
 * roles have no privilege on the table; the insert is the extension's own
 * doing on their behalf.  Concurrent writers never wait for each other here
 * (no unique key: the same hot path may be queued by many transactions and is
 * de-duplicated at delivery).
 *
 * Every row is kept below the heap's maximum tuple size (paths are at most
 * DUMPER_MAX_PATH_LEN bytes), and the column's storage is PLAIN, so nothing is
 * ever TOASTed and no snapshot is needed at pre-commit.
 *
 * The writer remembers the first and last blocks it inserted into, which
 * the commit hands to the worker as where its next scan must look
 * (shmem.c).
 *
 * Errors: may ereport; it runs at pre-commit or pre-prepare, where an error
 * still aborts the transaction cleanly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "dumper.h"

/* Largest array payload of one queue row, leaving room for the header. */
#define QUEUE_ROW_PAYLOAD	(MaxHeapTupleSize - 512)
/* Up to this many paths (or queue columns) need no palloc to be written. */
#define QUEUE_WRITE_FEW		16

static Oid	queue_relid = InvalidOid;
/* The lowest and highest blocks this transaction inserted into. */
static BlockNumber queue_first_block = InvalidBlockNumber;
static BlockNumber queue_last_block = InvalidBlockNumber;
static bool queue_callback_registered = false;

/*
 * Forget the cached OID of the queue when it (or everything) is invalidated:
 * DROP EXTENSION and CREATE EXTENSION give it a new OID.
 */
static void
queue_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (relid == InvalidOid || relid == queue_relid)
		queue_relid = InvalidOid;
}

/*
 * The OID of dumper.queue, cached per backend.  InvalidOid when the extension
 * does not exist in this database and missing_ok.
 */
Oid
dumper_queue_relid(bool missing_ok)
{
	if (!OidIsValid(queue_relid))
	{
		Oid			nspid = get_namespace_oid(DUMPER_SCHEMA, missing_ok);

		if (OidIsValid(nspid))
			queue_relid = get_relname_relid("queue", nspid);
		if (!OidIsValid(queue_relid) && !missing_ok)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("dumper's queue table does not exist"),
					 errhint("Run CREATE EXTENSION dumper in this database.")));
		if (!queue_callback_registered)
		{
			CacheRegisterRelcacheCallback(queue_relcache_callback, (Datum) 0);
			queue_callback_registered = true;
		}
	}
	return queue_relid;
}

/*
 * Check that dumper.queue still has the columns that dumper_queue_write
 * forms and deliver.c reads by position: (xid xid8, enqueued_at timestamptz,
 * paths text[]), then only dropped columns.  A superuser may have altered
 * the table; the direct heap access must not misread it.
 */
void
dumper_queue_check(Relation rel)
{
	static const Oid types[Natts_queue] = {XID8OID, TIMESTAMPTZOID, TEXTARRAYOID};
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = desc->natts >= Natts_queue;

	for (int i = 0; ok && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (i < Natts_queue)
			ok = !att->attisdropped && att->atttypid == types[i];
		else
			ok = att->attisdropped;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dumper's queue table \"%s.queue\" has been altered",
						DUMPER_SCHEMA),
				 errdetail("Its columns must be xid xid8, enqueued_at timestamptz and paths text[], in this order."),
				 errhint("Restore the table's definition; the queued rows are kept until then.")));
}

/*
 * Build a one-dimensional text[] of paths[first..last) directly, without
 * making a text datum per path.
 */
static ArrayType *
queue_build_array(const char *const *paths, const int *lens, int first, int last)
{
	int			n = last - first;
	Size		nbytes = ARR_OVERHEAD_NONULLS(1);
	ArrayType  *array;
	char	   *p;

	for (int i = first; i < last; i++)
		nbytes += INTALIGN(VARHDRSZ + lens[i]);

	array = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(array, nbytes);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = TEXTOID;
	ARR_DIMS(array)[0] = n;
	ARR_LBOUND(array)[0] = 1;

	p = ARR_DATA_PTR(array);
	for (int i = first; i < last; i++)
	{
		SET_VARSIZE(p, VARHDRSZ + lens[i]);
		memcpy(VARDATA(p), paths[i], lens[i]);
		p += INTALIGN(VARHDRSZ + lens[i]);
	}
	return array;
}

/*
 * Insert paths[0..npaths) into the queue as part of the current transaction,
 * in as few rows as fit in a heap page each.  When the extension has been
 * dropped, in this very transaction or by one that committed meanwhile,
 * there is nowhere to deliver: the paths are discarded.
 */
void
dumper_queue_write(const char *const *paths, int npaths)
{
	Oid			relid;
	Relation	rel;
	int			natts;
	Datum	   *values;
	bool	   *nulls;
	int		   *lens;
	int			first = 0;

	/* A single-row write's few paths and the queue's columns: no palloc. */
	Datum		values_buf[QUEUE_WRITE_FEW];
	bool		nulls_buf[QUEUE_WRITE_FEW];
	int			lens_buf[QUEUE_WRITE_FEW];

	/*
	 * DROP EXTENSION in another session may have committed since the OID
	 * was cached (it takes no lock this transaction holds).  Taking the lock
	 * reads the invalidations, whose callback then forgets the OID: look
	 * the queue up again, gone or created anew (a rotation's TRUNCATE
	 * invalidates it too, and finds the same OID).
	 */
	for (;;)
	{
		relid = dumper_queue_relid(true);
		if (!OidIsValid(relid))
			return;
		LockRelationOid(relid, RowExclusiveLock);
		if (queue_relid == relid)
			break;
		UnlockRelationOid(relid, RowExclusiveLock);
	}
	rel = table_open(relid, NoLock);	/* locked above */

	lens = (npaths <= QUEUE_WRITE_FEW) ? lens_buf : palloc(npaths * sizeof(int));
	for (int i = 0; i < npaths; i++)
		lens[i] = strlen(paths[i]);
	dumper_queue_check(rel);
	/* Dropped columns after the three, if any, are NULL. */
	natts = RelationGetDescr(rel)->natts;
	values = (natts <= QUEUE_WRITE_FEW) ? values_buf : palloc(natts * sizeof(Datum));
	nulls = (natts <= QUEUE_WRITE_FEW) ? nulls_buf : palloc(natts * sizeof(bool));
	memset(values, 0, natts * sizeof(Datum));
	memset(nulls, true, natts * sizeof(bool));
	nulls[Anum_queue_xid - 1] = false;
	nulls[Anum_queue_enqueued_at - 1] = false;
	nulls[Anum_queue_paths - 1] = false;
	values[Anum_queue_xid - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[Anum_queue_enqueued_at - 1] = TimestampTzGetDatum(GetCurrentTimestamp());

	while (first < npaths)
	{
		Size		payload = 0;
		int			last = first;
		HeapTuple	tuple;
		ArrayType  *array;
		BlockNumber block;

		while (last < npaths &&
			   (last == first ||
				payload + INTALIGN(VARHDRSZ + lens[last]) <= QUEUE_ROW_PAYLOAD))
			payload += INTALIGN(VARHDRSZ + lens[last++]);

		array = queue_build_array(paths, lens, first, last);
		values[Anum_queue_paths - 1] = PointerGetDatum(array);
		tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
		simple_heap_insert(rel, tuple);
		block = ItemPointerGetBlockNumber(&tuple->t_self);
		queue_first_block = Min(queue_first_block, block);
		if (queue_last_block == InvalidBlockNumber || block > queue_last_block)
			queue_last_block = block;
		heap_freetuple(tuple);
		pfree(array);
		first = last;
	}

	table_close(rel, NoLock);		/* keep the lock until commit */
	if (values != values_buf)
		pfree(values);
	if (nulls != nulls_buf)
		pfree(nulls);
	if (lens != lens_buf)
		pfree(lens);
}

/*
 * The first block of dumper.queue the current transaction inserted into,
 * and the last in *last (both InvalidBlockNumber: none), forgotten by the
 * call; called at every end of transaction.
 */
BlockNumber
dumper_queue_take_blocks(BlockNumber *last)
{
	BlockNumber block = queue_first_block;

	*last = queue_last_block;
	queue_first_block = InvalidBlockNumber;
	queue_last_block = InvalidBlockNumber;
	return block;
}
