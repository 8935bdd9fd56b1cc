/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  Claiming committed invalidations from the queue and sending them to
 *	  Redis: dumper_deliver() and the batch step shared with the worker.
 *
 * A batch claims rows by deleting them (heap_delete without waiting, which
 * skips a row another deliverer has claimed), so several deliverers (the
 * worker, sessions calling dumper_deliver) never claim the same row and
 * never wait for each other; it sends every distinct path of the claimed
 * rows once, pipelined; and the deletions commit only after Redis
 * acknowledged every command.  A failure aborts the transaction, which puts
 * the rows back: at least once, never lost.  The scan's snapshot sees
 * committed rows only, so a path is sent after its transaction's commit is
 * visible to every new reader.  The queue is accessed directly (heap scan,
 * heap_delete): no SQL, no plan, one WAL record per claimed row.
 *
 * The scan hint: where the worker's scan looks.  This is its one full
 * account in the code (the design: docs/design.md, "The scan hint").
 * Under load the queue's heap is mostly rows already delivered, and each
 * writer fills a page of its own, so the worker reads only the blocks
 * where a committed, unclaimed row can be:
 *	- A committed writer hands over the blocks of dumper.queue its rows went
 *	  to (queue.c remembers the first and last), after its commit is
 *	  visible (shmem.c, dumper_wake_worker): a few consecutive blocks among
 *	  the first DUMPER_HINT_BLOCKS are marked one by one; more or farther
 *	  ones lower the hint's "from", every block from which is scanned.  A
 *	  writer that wrote into dumper.spill_queue (spilled paths, a prepared
 *	  transaction) sets "spill", and the worker scans that small table
 *	  whole.  A writer that finds its block already marked leaves it: the
 *	  worker has not taken the hint yet, so its coming batch sees this
 *	  commit too.
 *	- The worker swaps the hint for "nothing" before taking the batch's
 *	  snapshot, and scans (a) the hint and (b) every block from the first
 *	  where its previous batch left a visible row behind: one it stopped
 *	  before (max_paths) or one another deliverer was claiming (that claim
 *	  may roll back).
 *	- No committed, unclaimed row is elsewhere: if its writer's hint was
 *	  taken by this batch, this snapshot sees it; if by an earlier batch,
 *	  that batch saw it too, and either claimed it (a claim rolled back by a
 *	  failure is followed by a full scan) or left it behind; otherwise the
 *	  hint is still to come, with a wake-up.
 *	- Full scans: block numbers hold only within one file of the table, so
 *	  when its relfilenode changed since the worker's last scan (rotation,
 *	  VACUUM FULL, CLUSTER, a new extension) the scan is a full one; so are
 *	  the first batch after a failure and one every dumper.naptime.  A
 *	  prepared transaction's writer leaves no hint at its PREPARE: COMMIT
 *	  PREPARED hints the spill queue instead, or both queues whole when it
 *	  does not know what the transaction queued (twophase.c).
 * Each scan says how many blocks it read at DEBUG2.  Sessions calling
 * dumper_deliver always scan the whole queue, and leave alone the rows of
 * their own transaction (spilled paths), which only its commit may release.
 *
 * Encoding: the web tier computes its keys from paths in UTF-8.  A
 * database in another encoding (LATIN1, EUC_JP, ...) stores the paths in
 * its own, so each path is converted to UTF-8 here, at delivery; in a
 * UTF8 database there is nothing to do, and SQL_ASCII's bytes have no
 * known encoding and are sent as stored.  A conversion never raises an
 * error: a path with a character UTF-8 has no equivalent for is sent as
 * stored (it could match no UTF-8 key anyway), since a row that fails
 * every batch would stop delivery for everyone.
 *
 * Privileges: the queue has no trigger, rule or policy, so the direct access
 * runs no one's code and checks no privilege: EXECUTE on dumper_deliver() is
 * what a role must be granted.
 *
 * Memory: a batch allocates in a child context of the caller's, deleted at
 * its end.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "capture.h"
#include "delivery.h"
#include "dumper.h"

/* The queue's file at the worker's last scan; block numbers hold in it. */
static Oid	deliver_scanned_file = InvalidOid;

/* Is block b one the scan must look at? */
static inline bool
deliver_wanted(const DumperScanHint *hint, BlockNumber b)
{
	return b >= hint->from ||
		(b < DUMPER_HINT_BLOCKS && (hint->blocks[b / 32] & (UINT32_C(1) << (b % 32))) != 0);
}

/*
 * The next run of consecutive blocks to scan at or after *pos and before
 * nblocks.  Returns false when there is none; otherwise sets *start and
 * *count, and moves *pos past the run.
 */
static bool
deliver_next_run(const DumperScanHint *hint, BlockNumber nblocks, BlockNumber *pos,
				 BlockNumber *start, BlockNumber *count)
{
	BlockNumber b = *pos;
	BlockNumber end;

	while (b < nblocks && !deliver_wanted(hint, b))
	{
		/* Past the marks, only "from" is left to find. */
		if (b >= DUMPER_HINT_BLOCKS)
			b = Min(hint->from, nblocks);
		else
			b++;
	}
	if (b >= nblocks)
		return false;
	end = b + 1;
	while (end < nblocks && deliver_wanted(hint, end))
		end++;
	*start = b;
	*count = end - b;
	*pos = end;
	return true;
}

/*
 * Add a batch's path to its set of distinct paths (open addressing over
 * the slots, a power of two more than twice the paths): the same hot path
 * is often queued by many transactions, and is sent once.  Returns whether
 * it was new.
 */
static bool
deliver_add_distinct(const char **slots, uint32 mask, const char *path)
{
	uint32		i = hash_bytes((const unsigned char *) path, strlen(path)) & mask;

	while (slots[i] != NULL)
	{
		if (strcmp(slots[i], path) == 0)
			return false;
		i = (i + 1) & mask;
	}
	slots[i] = path;
	return true;
}

/*
 * The conversion procedure from the database's encoding to UTF-8, or
 * InvalidOid when paths are sent as stored: a UTF8 or SQL_ASCII database,
 * or no conversion known (see the header).  Needs a transaction.
 */
static Oid
deliver_utf8_proc(void)
{
	int			encoding = GetDatabaseEncoding();

	if (encoding == PG_UTF8 || encoding == PG_SQL_ASCII)
		return InvalidOid;
	return FindDefaultConversionProc(encoding, PG_UTF8);
}

/*
 * A path (NUL-terminated, in the database's encoding) in UTF-8 through the
 * conversion procedure proc (deliver_utf8_proc), or as stored when proc is
 * invalid or a character has no UTF-8 equivalent.  Never raises an error.
 */
static char *
deliver_utf8(char *path, Oid proc)
{
	int			len;
	int			destlen;
	unsigned char *dest;

	if (!OidIsValid(proc))
		return path;
	len = strlen(path);
	destlen = len * MAX_CONVERSION_GROWTH + 1;
	dest = palloc(destlen);
	if (pg_do_encoding_conversion_buf(proc, GetDatabaseEncoding(), PG_UTF8,
									  (unsigned char *) path, len,
									  dest, destlen, true) < len)
	{
		pfree(dest);
		return path;
	}
	pfree(path);
	return (char *) dest;
}

/*
 * Append the paths of one claimed queue row to the batch's array, in UTF-8
 * through conversion procedure proc (deliver_utf8).
 */
static void
deliver_collect(HeapTuple tuple, TupleDesc tupdesc, Oid proc,
				const char ***paths, int *npaths, int *maxpaths)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, Anum_queue_paths, tupdesc, &isnull);
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	if (isnull)
		return;
	array = DatumGetArrayTypeP(value);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	if (*npaths + nelems > *maxpaths)
	{
		*maxpaths = Max(*maxpaths * 2, *npaths + nelems);
		*paths = repalloc_huge(*paths, *maxpaths * sizeof(char *));
	}
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			(*paths)[(*npaths)++] = deliver_utf8(TextDatumGetCString(elems[i]), proc);
}

/* A batch's claimed paths, and what claiming needs. */
typedef struct DeliverClaim
{
	CommandId	cid;			/* the batch's command, deleting */
	Oid			utf8_proc;		/* see deliver_utf8_proc */
	int			max_paths;		/* stop claiming past this many paths */
	const char **paths;			/* the claimed rows' paths, in UTF-8 */
	int			npaths;
	int			maxpaths;
	int64		claimed;		/* rows */
} DeliverClaim;

/* What deliver_claim did with a row. */
typedef enum DeliverClaimResult
{
	DELIVER_CLAIMED,			/* deleted, its paths collected */
	DELIVER_SKIPPED,			/* this transaction's own: left for its commit */
	DELIVER_BUSY,				/* another deliverer has it: look again later */
	DELIVER_FULL				/* max_paths reached: not claimed, the rest is next */
} DeliverClaimResult;

/*
 * Claim one visible row of queue table rel (either queue) for the batch:
 * delete it without waiting and collect its paths.
 */
static DeliverClaimResult
deliver_claim(DeliverClaim *claim, Relation rel, HeapTuple tuple)
{
	TM_FailureData tmfd;

	CHECK_FOR_INTERRUPTS();
	if (claim->npaths >= claim->max_paths)
		return DELIVER_FULL;

	/*
	 * This transaction's own rows (paths it spilled) wait for its commit,
	 * like everyone's: sent now, they could precede the writes they
	 * invalidate, or belong to a rollback.
	 */
	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data)))
		return DELIVER_SKIPPED;
	if (heap_delete(rel, &tuple->t_self, claim->cid, InvalidSnapshot,
					false, &tmfd, false) != TM_Ok)
		return DELIVER_BUSY;
	claim->claimed++;
	deliver_collect(tuple, RelationGetDescr(rel), claim->utf8_proc,
					&claim->paths, &claim->npaths, &claim->maxpaths);
	return DELIVER_CLAIMED;
}

/*
 * The claim/send step; see delivery.h.
 *
 * A row is claimed by deleting it: heap_delete without waiting fails on a
 * row that another deliverer has deleted (committed or not), which is
 * SKIP LOCKED without a separate row lock, so each claimed row costs one
 * WAL record.  The scan runs under a fresh snapshot after a command counter
 * increment, as an SPI statement would, so successive batches of one
 * transaction see each other's deletions and, at READ COMMITTED, rows
 * committed since.  The deletions become final only when the caller
 * commits after Redis acknowledged; a failure returns -1 and the caller's
 * abort puts the rows back.
 */
int64
dumper_deliver_batch(DumperRedis *redis, int max_paths, BlockNumber *scan_from,
					 bool *scan_spill, int64 *nrows, char *err, size_t errlen)
{
	MemoryContext batch_cxt;
	MemoryContext old_cxt;
	Relation	rel;
	Relation	spillrel = NULL;
	DeliverClaim claim;
	DumperScanHint hint;
	BlockNumber nblocks = 0;
	BlockNumber pos = 0;
	BlockNumber run_start;
	BlockNumber run_count;
	BlockNumber blocks_read = 0;
	BlockNumber left_behind = InvalidBlockNumber;
	bool		full = false;
	bool		scan_main = true;
	bool		spill = true;
	bool		started = false;
	bool		stopped = false;
	TableScanDesc scan;
	const char **slots;
	uint32		nslots;
	int			ndistinct = 0;
	int64		result;

	*nrows = 0;
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "dumper batch",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(batch_cxt);
	memset(&claim, 0, sizeof(claim));
	claim.max_paths = max_paths;
	claim.maxpaths = 256;
	claim.paths = palloc(claim.maxpaths * sizeof(char *));

	/* The hint must be taken before the snapshot (see the header). */
	if (scan_from != NULL)
	{
		bool		marked = false;

		Assert(!IsolationUsesXactSnapshot());
		(void) dumper_take_scan_hint(&hint);
		hint.from = Min(hint.from, *scan_from);
		*scan_from = InvalidBlockNumber;
		spill = hint.spill || *scan_spill;
		*scan_spill = false;
		for (int i = 0; i < DUMPER_HINT_WORDS && !marked; i++)
			marked = (hint.blocks[i] != 0);
		scan_main = (hint.from != InvalidBlockNumber || marked);
		if (!scan_main && !spill)
		{
			result = 0;			/* nothing committed or left since */
			goto done;
		}
	}
	else
		full = true;

	/*
	 * The snapshot comes after the locks: a rewrite of the table by someone
	 * else (VACUUM FULL, CLUSTER) that the lock waited for has then moved
	 * every row committed before it, hinted in the old file or not, into
	 * the new file, and this snapshot sees them there.
	 */
	rel = table_open(dumper_queue_relid(false), RowExclusiveLock);
	dumper_queue_check(rel);
	/* (Installed at 1.0 and not yet updated: no spill queue yet.) */
	if (spill && OidIsValid(dumper_spill_queue_relid(true)))
	{
		spillrel = table_open(dumper_spill_queue_relid(true), RowExclusiveLock);
		dumper_queue_check(spillrel);
	}
	claim.utf8_proc = deliver_utf8_proc();
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	claim.cid = GetCurrentCommandId(true);
	if (scan_main && scan_from != NULL && rel->rd_node.relNode != deliver_scanned_file)
	{
		full = true;			/* a new file: block numbers changed */
		deliver_scanned_file = rel->rd_node.relNode;
	}
	if (full)
	{
		hint.from = 0;
		memset(hint.blocks, 0, sizeof(hint.blocks));
	}

	if (scan_main)
	{
		/* Block order from the start, not a synchronized scan's. */
		scan = table_beginscan_strat(rel, GetActiveSnapshot(), 0, NULL, true, false);
		nblocks = ((HeapScanDesc) scan)->rs_nblocks;

		/*
		 * Run by run of wanted blocks.  A hinted block at or past the end is
		 * one that VACUUM truncated away (empty, so nothing pending was
		 * there).
		 */
		while (!stopped &&
			   deliver_next_run(&hint, nblocks, &pos, &run_start, &run_count))
		{
			HeapTuple	tuple;

			/* A run's limits are set on a scan not yet started. */
			if (started)
				table_rescan(scan, NULL);
			started = true;
			heap_setscanlimits(scan, run_start, run_count);
			blocks_read += run_count;
			while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
			{
				BlockNumber block = ItemPointerGetBlockNumber(&tuple->t_self);
				DeliverClaimResult r = deliver_claim(&claim, rel, tuple);

				if (r == DELIVER_FULL)
				{
					left_behind = Min(left_behind, block);	/* the rest is next */
					blocks_read -= run_start + run_count - 1 - block;
					stopped = true;
					break;
				}
				if (r == DELIVER_BUSY)
					left_behind = Min(left_behind, block);
			}
		}
		table_endscan(scan);
		elog(DEBUG2, "dumper read %u of the %u blocks of its queue and claimed " INT64_FORMAT " rows",
			 blocks_read, nblocks, claim.claimed);
	}
	table_close(rel, NoLock);	/* keep the lock until commit */

	/*
	 * The spill queue, whole: a committed writer wrote into it since the
	 * last batch took the hint, a row was left behind there, or the scan is
	 * a full one.  It is small (queue.c).
	 */
	if (spillrel != NULL)
	{
		int64		before = claim.claimed;
		bool		again = stopped;
		HeapTuple	tuple;

		if (!stopped)
		{
			scan = table_beginscan_strat(spillrel, GetActiveSnapshot(), 0, NULL, true, false);
			while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
			{
				DeliverClaimResult r = deliver_claim(&claim, spillrel, tuple);

				if (r == DELIVER_FULL)
				{
					again = true;
					break;
				}
				if (r == DELIVER_BUSY)
					again = true;
			}
			elog(DEBUG2, "dumper read the %u blocks of its spill queue and claimed " INT64_FORMAT " rows",
				 ((HeapScanDesc) scan)->rs_nblocks, claim.claimed - before);
			table_endscan(scan);
		}
		table_close(spillrel, NoLock);
		if (scan_spill != NULL && again)
			*scan_spill = true;
	}
	PopActiveSnapshot();
	if (scan_from != NULL)
		*scan_from = left_behind;

	*nrows = claim.claimed;
	if (claim.claimed == 0)
	{
		result = 0;
		goto done;
	}

	/* Each distinct path once, in the order of the queue. */
	for (nslots = 16; nslots < (uint32) claim.npaths * 2; nslots *= 2)
		;
	slots = palloc0(nslots * sizeof(const char *));
	for (int i = 0; i < claim.npaths; i++)
		if (deliver_add_distinct(slots, nslots - 1, claim.paths[i]))
			claim.paths[ndistinct++] = claim.paths[i];

	if (!dumper_redis_invalidate(redis, dumper_redis_prefix, dumper_publish_channel,
								 claim.paths, ndistinct, dumper_redis_timeout,
								 err, errlen))
	{
		result = -1;
		goto done;
	}
	result = ndistinct;
	dumper_stats_delivered(ndistinct);

done:
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

	/* Claiming deletes queue rows, which the heap access does not check. */
	PreventCommandDuringRecovery("dumper_deliver()");
	PreventCommandIfReadOnly("dumper_deliver()");
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
									 NULL, NULL, &nrows, err, sizeof(err));
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
