/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  Claiming committed invalidations from the queue and sending them to
 *	  Redis: dumper_deliver() and the batch step shared with the worker.
 *
 * A batch claims rows with SELECT ... FOR UPDATE SKIP LOCKED, so several
 * deliverers (the worker, sessions calling dumper_deliver) never claim the
 * same row and never wait for each other; it sends every distinct path of
 * the claimed rows once, pipelined; and only after Redis acknowledged every
 * command does it delete the rows, in the same transaction.  A failure
 * leaves the rows where they were: at least once, never lost.  The reader's
 * snapshot sees committed rows only, so a path is sent after its
 * transaction's commit is visible to every new reader.
 *
 * Privileges: the queue is read and written as the extension's owner;
 * EXECUTE on dumper_deliver() is what a role must be granted.
 *
 * Memory: a batch allocates in a child context of the caller's, deleted at
 * its end.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "storage/itemptr.h"

#include "deliver.h"
#include "dumper.h"
#include "shmem.h"

/* qsort comparator of C strings. */
static int
deliver_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The claim/send/delete step; see deliver.h.  Runs SPI as the extension's
 * owner.
 */
int64
dumper_deliver_batch(DumperRedis *redis, int max_paths, int64 *nrows,
					 char *err, size_t errlen)
{
	MemoryContext batch_cxt;
	MemoryContext old_cxt;
	Oid			save_userid;
	int			save_sec_context;
	Portal		portal;
	SPIPlanPtr	plan;
	const char **paths;
	int			npaths = 0;
	int			maxpaths = 256;
	Datum	   *ctids;
	int			nctids = 0;
	int			maxctids = 64;
	int			ndistinct = 0;
	int64		result;

	*nrows = 0;
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "dumper batch",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(batch_cxt);
	paths = palloc(maxpaths * sizeof(char *));
	ctids = palloc(maxctids * sizeof(Datum));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(dumper_internal_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Claim rows until the batch holds max_paths paths or the queue is dry. */
	plan = SPI_prepare("SELECT ctid, paths FROM dumper.queue FOR UPDATE SKIP LOCKED",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	while (npaths < max_paths)
	{
		/*
		 * Rows are locked as they are fetched: fetch one at a time, so that
		 * no row beyond the batch is locked.  (A row locked but left unsent
		 * would only be delayed, never lost.)
		 */
		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[r];
			TupleDesc	tupdesc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		ctid = SPI_getbinval(tuple, tupdesc, 1, &isnull);
			ArrayType  *array;
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			MemoryContextSwitchTo(batch_cxt);
			if (nctids >= maxctids)
			{
				maxctids *= 2;
				ctids = repalloc(ctids, maxctids * sizeof(Datum));
			}
			ctids[nctids] = PointerGetDatum(palloc(sizeof(ItemPointerData)));
			ItemPointerCopy((ItemPointer) DatumGetPointer(ctid),
							(ItemPointer) DatumGetPointer(ctids[nctids]));
			nctids++;

			array = DatumGetArrayTypeP(SPI_getbinval(tuple, tupdesc, 2, &isnull));
			deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &nelems);
			if (npaths + nelems > maxpaths)
			{
				maxpaths = Max(maxpaths * 2, npaths + nelems);
				paths = repalloc_huge(paths, maxpaths * sizeof(char *));
			}
			for (int i = 0; i < nelems; i++)
				if (!nulls[i])
					paths[npaths++] = TextDatumGetCString(elems[i]);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(batch_cxt);

	*nrows = nctids;
	if (nctids == 0)
	{
		result = 0;
		goto done;
	}

	/* The same hot path is often queued by many transactions: send it once. */
	qsort(paths, npaths, sizeof(char *), deliver_strcmp);
	for (int i = 0; i < npaths; i++)
		if (ndistinct == 0 || strcmp(paths[ndistinct - 1], paths[i]) != 0)
			paths[ndistinct++] = paths[i];

	if (!dumper_redis_invalidate(redis, dumper_redis_prefix, dumper_publish_channel,
								 paths, ndistinct, dumper_redis_timeout,
								 err, errlen))
	{
		result = -1;
		goto done;
	}

	/* Acknowledged: now the rows may go. */
	{
		Oid			argtypes[1] = {TIDARRAYOID};
		Datum		args[1];
		int			ret;

		args[0] = PointerGetDatum(construct_array(ctids, nctids, TIDOID,
												  sizeof(ItemPointerData), false,
												  TYPALIGN_SHORT));
		ret = SPI_execute_with_args("DELETE FROM dumper.queue"
									" WHERE ctid OPERATOR(pg_catalog.=) ANY ($1)",
									1, argtypes, args, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	}
	result = ndistinct;
	dumper_stats_delivered(ndistinct);

done:
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(batch_cxt);
	return result;
}

PG_FUNCTION_INFO_V1(dumper_deliver);

/*
 * dumper_deliver(max_paths int DEFAULT NULL): deliver committed, pending
 * invalidations from this session, in batches of dumper.batch_size, until the
 * queue is empty or about max_paths paths were sent.  Returns the number of
 * paths sent.  The deletions commit with the caller's transaction.
 */
Datum
dumper_deliver(PG_FUNCTION_ARGS)
{
	int64		limit = PG_ARGISNULL(0) ? PG_INT64_MAX : PG_GETARG_INT32(0);
	volatile int64 total = 0;
	char		err[512];
	DumperRedis *volatile redis = NULL;

	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_paths must not be negative")));
	if (limit == 0)
		PG_RETURN_INT64(0);

	redis = dumper_redis_connect(dumper_redis_url, dumper_redis_timeout,
								 err, sizeof(err));
	if (redis == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not deliver invalidations to Redis"),
				 errdetail("%s", err),
				 errhint("Check dumper.redis_url and that Redis is running; the invalidations stay queued.")));

	PG_TRY();
	{
		while (total < limit)
		{
			int64		n;
			int64		nrows;

			CHECK_FOR_INTERRUPTS();
			n = dumper_deliver_batch(redis,
									 (int) Min(limit - total, (int64) dumper_batch_size),
									 &nrows, err, sizeof(err));
			if (n < 0)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("could not deliver invalidations to Redis"),
						 errdetail("%s", err),
						 errhint("The invalidations stay queued; retry once Redis is healthy.")));
			if (n == 0)
				break;
			total += n;
		}
	}
	PG_FINALLY();
	{
		dumper_redis_close(redis);
	}
	PG_END_TRY();

	PG_RETURN_INT64(total);
}
