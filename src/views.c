/*-------------------------------------------------------------------------
 *
 * views.c
 *	  The functions behind the views dumper_pending and dumper_stats: what
 *	  the queue holds, shown to a reader only as far as it may see it.
 *
 * Paths are made of row data (slugs, names, any column a template names)
 * from tables the reader may not be allowed to SELECT, so, as PostgreSQL
 * does for pg_stat_activity's query text, the paths themselves (and the
 * last delivery error, dumper.stats() below) are shown only to
 * superusers and members of pg_read_all_stats (pg_monitor is one); other
 * roles see that a row is pending and since when, not what it holds.
 *
 * Locks: the queues are read with ACCESS SHARE, released as soon as they
 * have been read, not at the end of the reader's transaction.  The worker
 * rotates the queue (rotate.c) only when it can take the table's ACCESS
 * EXCLUSIVE lock without waiting, so a reader that kept its lock while idle
 * in a transaction (a monitoring tool polling dumper_stats, say) would stop
 * rotation for as long as it stays idle.  The rows are copied into the
 * function's result before the lock goes.
 *
 * A queue table someone altered (writers and deliverers refuse it, and
 * the worker's last_error says so) is still counted, but its rows are not
 * read by position: dumper_pending shows none of them, and
 * oldest_pending_age ignores them, so monitoring keeps working.
 *
 * Snapshot: the lock is taken during execution, after the statement's
 * snapshot, which a rotation committed meanwhile (a TRUNCATE, and the rows
 * it kept inserted again) would leave seeing an empty queue.  At READ
 * COMMITTED the queues are therefore read under a snapshot taken once both
 * are locked, as a statement naming them would; a REPEATABLE READ reader
 * keeps its transaction's, and sees the queue as it was then (docs/design.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "delivery.h"

/*
 * Whether the current role may see what the queue and the statistics hold:
 * a superuser or a member of pg_read_all_stats.
 */
bool
dumper_may_read_all(void)
{
	return superuser() || has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

/*
 * Open dumper.queue (which 0) or dumper.spill_queue (which 1) for a view's
 * read, or NULL when the extension is gone.  The caller scans it under the
 * snapshot of views_open_queues and closes it with views_close_queue, which
 * releases the lock at once.
 */
static Relation
views_open_queue(int which)
{
	Oid			relid = (which == 0) ? dumper_queue_relid(true) : dumper_spill_queue_relid(true);

	if (!OidIsValid(relid))
		return NULL;
	return try_relation_open(relid, AccessShareLock);
}

/* Close the queue and release its lock now (see the header). */
static void
views_close_queue(Relation rel)
{
	table_close(rel, AccessShareLock);
}

/*
 * Add one row per path of queue table rel (path, enqueued_at,
 * transaction_id) visible to snapshot to a materialized result, the path
 * NULL unless may_read.
 */
static void
views_put_paths(ReturnSetInfo *rsinfo, Relation rel, Snapshot snapshot, bool may_read)
{
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		bool		isnull;
		Datum		paths;
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;

		CHECK_FOR_INTERRUPTS();
		values[1] = heap_getattr(tuple, Anum_queue_enqueued_at, desc, &nulls[1]);
		values[2] = heap_getattr(tuple, Anum_queue_xid, desc, &nulls[2]);
		paths = heap_getattr(tuple, Anum_queue_paths, desc, &isnull);
		if (isnull)
			continue;
		deconstruct_array(DatumGetArrayTypeP(paths), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elemnulls, &nelems);
		for (int i = 0; i < nelems; i++)
		{
			values[0] = elems[i];
			nulls[0] = elemnulls[i] || !may_read;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		pfree(elems);
		pfree(elemnulls);
	}
	table_endscan(scan);
}

/*
 * Lock both queues (views_open_queue) and choose the snapshot to read them
 * under (see the header); *snapshot is to be given to views_close_queues.
 */
static void
views_open_queues(Relation rels[2], Snapshot *snapshot)
{
	for (int which = 0; which < 2; which++)
		rels[which] = views_open_queue(which);
	*snapshot = IsolationUsesXactSnapshot() ? GetActiveSnapshot() :
		RegisterSnapshot(GetLatestSnapshot());
}

/* Release what views_open_queues took. */
static void
views_close_queues(Relation rels[2], Snapshot snapshot)
{
	if (!IsolationUsesXactSnapshot())
		UnregisterSnapshot(snapshot);
	for (int which = 0; which < 2; which++)
		if (rels[which] != NULL)
			views_close_queue(rels[which]);
}

PG_FUNCTION_INFO_V1(dumper_pending_paths);

/*
 * dumper.pending_paths(): one row per queued path of both queues (path,
 * enqueued_at, transaction_id), the path NULL for a role that may not
 * read it.
 */
Datum
dumper_pending_paths(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		may_read = dumper_may_read_all();
	Relation	rels[2];
	Snapshot	snapshot;

	InitMaterializedSRF(fcinfo, 0);
	views_open_queues(rels, &snapshot);
	for (int which = 0; which < 2; which++)
		if (rels[which] != NULL && dumper_queue_shape_ok(rels[which]))
			views_put_paths(rsinfo, rels[which], snapshot, may_read);
	views_close_queues(rels, snapshot);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(dumper_pending_summary);

/*
 * dumper.pending_summary(OUT pending_rows int8, OUT oldest_pending_age
 * interval): how many queue rows (committed transactions, or chunks of
 * one, in either queue) wait, and for how long the oldest has.  Shown to every role: it is
 * about delivery, not about anyone's data.
 */
Datum
dumper_pending_summary(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, true};
	Relation	rels[2];
	Snapshot	snapshot;
	int64		rows = 0;
	TimestampTz oldest = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	views_open_queues(rels, &snapshot);
	for (int which = 0; which < 2; which++)
	{
		Relation	rel = rels[which];
		TableScanDesc scan;
		HeapTuple	tuple;
		bool		shape_ok;

		if (rel == NULL)
			continue;
		shape_ok = dumper_queue_shape_ok(rel);
		scan = table_beginscan(rel, snapshot, 0, NULL);
		while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			bool		isnull = true;
			TimestampTz at = 0;

			CHECK_FOR_INTERRUPTS();
			rows++;
			if (shape_ok)
				at = DatumGetTimestampTz(heap_getattr(tuple, Anum_queue_enqueued_at,
													  RelationGetDescr(rel), &isnull));
			if (!isnull && (nulls[1] || at < oldest))
			{
				oldest = at;
				nulls[1] = false;
			}
		}
		table_endscan(scan);
	}
	views_close_queues(rels, snapshot);
	values[0] = Int64GetDatum(rows);
	if (!nulls[1])
		values[1] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
										TimestampTzGetDatum(oldest));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(dumper_stats);

/*
 * dumper.stats(): the shared statistics as one row; the dumper_stats view
 * adds what the queue says.
 */
Datum
dumper_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10] = {0};
	DumperStats snap;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (!dumper_stats_snapshot(&snap))
	{
		nulls[0] = true;
		values[1] = CStringGetTextDatum("no worker");
	}
	else
	{
		const char *conn;

		if (snap.worker_pid == 0)
			conn = "no worker";
		else if (snap.connection == DUMPER_CONN_CONNECTED)
			conn = "connected";
		else if (snap.connection == DUMPER_CONN_BACKING_OFF)
			conn = "backing off";
		else
			conn = "disconnected";
		values[0] = Int32GetDatum(snap.worker_pid);
		nulls[0] = (snap.worker_pid == 0);
		values[1] = CStringGetTextDatum(conn);
	}
	values[2] = Int64GetDatum(snap.paths_delivered);
	values[3] = Int64GetDatum(snap.batches_delivered);
	values[4] = Int64GetDatum(snap.failures);
	values[5] = CStringGetTextDatum(snap.last_error);
	/* Like a query's text in pg_stat_activity (dumper_may_read_all). */
	nulls[5] = (snap.last_error[0] == '\0') || !dumper_may_read_all();
	values[6] = TimestampTzGetDatum(snap.last_error_at);
	nulls[6] = (snap.last_error_at == 0);
	values[7] = TimestampTzGetDatum(snap.last_delivery_at);
	nulls[7] = (snap.last_delivery_at == 0);
	/* Since 1.2 (a 1.1 definition has eight columns; the rest is unread). */
	values[8] = CStringGetDatum("");
	nulls[8] = (snap.worker_pid == 0);
	if (!nulls[8])
		values[8] = DirectFunctionCall1(namein, CStringGetDatum(snap.worker_dbname));
	values[9] = BoolGetDatum(dumper_serves_this_database());

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
