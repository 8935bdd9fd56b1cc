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
 * Two tables: dumper.queue takes the rows written in the commit itself
 * (pre-commit), by a transaction that ends milliseconds later; the worker
 * rotates it (rotate.c), which needs its lock free for a moment.
 * dumper.spill_queue takes the rows written before the commit: the paths a
 * transaction spills (dumper.work_mem, pathset.c) and a prepared
 * transaction's (written at PREPARE, committed by COMMIT PREPARED).  Such a
 * transaction holds its lock on the table it wrote until it ends, however
 * long it stays open, so those rows never go into dumper.queue: a writer
 * idle in its transaction, or a forgotten prepared transaction, cannot stop
 * the rotation.  The spill queue is small (few transactions spill or
 * prepare) and left to autovacuum.
 *
 * The writer remembers the first and last blocks of dumper.queue it
 * inserted into, and whether it wrote into the spill queue, for the scan
 * hint (deliver.c's header; docs/design.md, "The scan hint").
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

#include "capture.h"
#include "dumper.h"

/* Largest array payload of one queue row, leaving room for the header. */
#define QUEUE_ROW_PAYLOAD	(MaxHeapTupleSize - 512)
/* Up to this many paths (or queue columns) need no palloc to be written. */
#define QUEUE_WRITE_FEW		16

/* The cached OIDs of dumper.queue and dumper.spill_queue. */
static Oid	queue_relids[2] = {InvalidOid, InvalidOid};
static const char *const queue_names[2] = {"queue", "spill_queue"};
/* The lowest and highest blocks of dumper.queue this transaction inserted into. */
static BlockNumber queue_first_block = InvalidBlockNumber;
static BlockNumber queue_last_block = InvalidBlockNumber;
/* Whether this transaction inserted into dumper.spill_queue. */
static bool queue_spilled = false;
static bool queue_callback_registered = false;

/*
 * Forget the cached OID of a queue when it (or everything) is invalidated:
 * DROP EXTENSION and CREATE EXTENSION give it a new OID.
 */
static void
queue_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	for (int i = 0; i < 2; i++)
		if (relid == InvalidOid || relid == queue_relids[i])
			queue_relids[i] = InvalidOid;
}

/*
 * The OID of dumper.queue (spill false) or dumper.spill_queue (spill true),
 * cached per backend.  InvalidOid when the extension does not exist in this
 * database and missing_ok.
 */
static Oid
queue_relid(bool spill, bool missing_ok)
{
	Oid		   *cached = &queue_relids[spill ? 1 : 0];

	if (!OidIsValid(*cached))
	{
		Oid			nspid = get_namespace_oid(DUMPER_SCHEMA, missing_ok);

		if (OidIsValid(nspid))
			*cached = get_relname_relid(queue_names[spill ? 1 : 0], nspid);
		if (!OidIsValid(*cached) && !missing_ok)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("dumper's queue table \"%s.%s\" does not exist",
							DUMPER_SCHEMA, queue_names[spill ? 1 : 0]),
					 errhint("Run CREATE EXTENSION dumper in this database, or ALTER EXTENSION dumper UPDATE.")));
		if (!queue_callback_registered)
		{
			CacheRegisterRelcacheCallback(queue_relcache_callback, (Datum) 0);
			queue_callback_registered = true;
		}
	}
	return *cached;
}

/* The OID of dumper.queue; see queue_relid. */
Oid
dumper_queue_relid(bool missing_ok)
{
	return queue_relid(false, missing_ok);
}

/* The OID of dumper.spill_queue; see queue_relid. */
Oid
dumper_spill_queue_relid(bool missing_ok)
{
	return queue_relid(true, missing_ok);
}

/*
 * Whether a queue table still has the columns that dumper_queue_write
 * forms and deliver.c reads by position: (xid xid8, enqueued_at timestamptz,
 * paths text[]), then only dropped columns.  A superuser may have altered
 * the table; the direct heap access must not misread it.
 */
bool
dumper_queue_shape_ok(Relation rel)
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
	return ok;
}

/* Refuse a queue table whose columns are not dumper_queue_shape_ok's. */
void
dumper_queue_check(Relation rel)
{
	if (!dumper_queue_shape_ok(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dumper's queue table \"%s.%s\" has been altered",
						DUMPER_SCHEMA, RelationGetRelationName(rel)),
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
 * Insert paths[0..npaths) into dumper.queue (spill false: at pre-commit)
 * or dumper.spill_queue (spill true: before the commit, see the header) as
 * part of the current transaction, in as few rows as fit in a heap page
 * each.  When the extension has been dropped, in this very transaction or
 * by one that committed meanwhile, there is nowhere to deliver: the paths
 * are discarded.
 */
void
dumper_queue_write(const char *const *paths, int npaths, bool spill)
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
		/* Installed at 1.0, not yet updated: the spill queue is to come. */
		if (spill && !OidIsValid(queue_relid(true, true)))
			spill = false;
		relid = queue_relid(spill, true);
		if (!OidIsValid(relid))
			return;
		LockRelationOid(relid, RowExclusiveLock);
		if (queue_relids[spill ? 1 : 0] == relid)
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
		if (spill)
			queue_spilled = true;
		else
		{
			queue_first_block = Min(queue_first_block, block);
			if (queue_last_block == InvalidBlockNumber || block > queue_last_block)
				queue_last_block = block;
		}
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
 * and the last in *last (both InvalidBlockNumber: none), and in *spilled
 * whether it inserted into dumper.spill_queue, forgotten by the call;
 * called at every end of transaction.
 */
BlockNumber
dumper_queue_take_blocks(BlockNumber *last, bool *spilled)
{
	BlockNumber block = queue_first_block;

	*last = queue_last_block;
	*spilled = queue_spilled;
	queue_first_block = InvalidBlockNumber;
	queue_last_block = InvalidBlockNumber;
	queue_spilled = false;
	return block;
}
