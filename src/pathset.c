/*-------------------------------------------------------------------------
 *
 * pathset.c
 *	  The current transaction's de-duplicated set of paths, and its flush to
 *	  the queue at pre-commit.
 *
 * Each distinct path is kept once, in insertion order, however many rows
 * produced it.  Paths added inside a subtransaction are remembered by a
 * stack of marks (subtransaction id, first index) so that a rolled-back
 * subtransaction removes exactly the paths it added; top-level additions
 * need no mark, so a transaction without savepoints pays nothing for this.
 *
 * Memory: everything lives in a context under TopTransactionContext, so it
 * vanishes with the transaction whatever happens; the static pointers are
 * cleared at every transaction end.  Path bytes are carved from large
 * blocks (no per-path chunk header).  The set is bounded by dumper.work_mem:
 * past it, the paths the current (sub)transaction added are spilled, that
 * is written to the queue as part of that (sub)transaction, whose commit or
 * rollback they follow like any row, and forgotten; the set is rebuilt from
 * what remains.  A later duplicate of a spilled path is queued again
 * (delivery de-duplicates per batch).  Paths of enclosing subtransactions
 * cannot be written under the current one's id, so they stay in memory
 * until their own level spills; the bytes of rolled-back subtransactions'
 * paths are given back by a rebuild once they reach half the limit.
 * Memory is bounded by about twice dumper.work_mem per open
 * subtransaction level (pathset_shrink).
 *
 * Errors: adding may ereport (too long, out of memory).  The pre-commit and
 * pre-prepare flush may ereport, which aborts the transaction; nothing else
 * here runs at XACT_EVENT_COMMIT except waking the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "dumper.h"

/* One member of the set: the path (NUL-terminated) and its hash. */
typedef struct PathEntry
{
	const char *path;
	uint32		hash;
	char		status;
} PathEntry;

#define SH_PREFIX		pathhash
#define SH_ELEMENT_TYPE PathEntry
#define SH_KEY_TYPE		const char *
#define SH_KEY			path
#define SH_HASH_KEY(tb, key) hash_bytes((const unsigned char *) (key), strlen(key))
#define SH_EQUAL(tb, a, b)	(strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)	((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* Where a subtransaction's additions start in paths[]. */
typedef struct PathMark
{
	SubTransactionId subid;
	int			start;
	Size		bytes;			/* pathset_bytes when it began */
} PathMark;

#define PATHSET_BLOCK_SIZE	(64 * 1024)
/* What a path costs besides its bytes: hash entry and array slot, about. */
#define PATHSET_PER_PATH	40

static MemoryContext pathset_cxt = NULL;
static pathhash_hash *pathset_hash = NULL;
static const char **pathset_paths = NULL;	/* insertion order */
static int	pathset_npaths = 0;
static int	pathset_maxpaths = 0;
static Size pathset_bytes = 0;	/* bytes of the paths in the set, NULs included */
static Size pathset_garbage = 0;	/* bytes of removed paths, still in blocks */
static PathMark *pathset_marks = NULL;
static int	pathset_nmarks = 0;
static int	pathset_maxmarks = 0;
static char *pathset_block = NULL;	/* free space for path bytes */
static Size pathset_block_left = 0;
static bool pathset_flushed = false;	/* queued at pre-commit/pre-prepare */
static bool pathset_spilled = false;	/* some paths were spilled */
static bool pathset_wake = false;	/* wake the worker at commit */

/*
 * Forget the set; its memory goes with TopTransactionContext.
 */
static void
pathset_reset(void)
{
	pathset_cxt = NULL;
	pathset_hash = NULL;
	pathset_paths = NULL;
	pathset_npaths = pathset_maxpaths = 0;
	pathset_bytes = 0;
	pathset_garbage = 0;
	pathset_marks = NULL;
	pathset_nmarks = pathset_maxmarks = 0;
	pathset_block = NULL;
	pathset_block_left = 0;
	pathset_flushed = false;
	pathset_spilled = false;
}

/*
 * Copy len bytes of path, NUL-terminated, into the current block.
 */
static const char *
pathset_copy(const char *path, int len)
{
	char	   *copy;

	if (pathset_block_left < (Size) len + 1)
	{
		/* Small blocks when dumper.work_mem is small, so that it can hold many. */
		Size		size = Max(Min(PATHSET_BLOCK_SIZE, (Size) dumper_work_mem * 1024 / 8),
							   (Size) len + 1);

		pathset_block = MemoryContextAlloc(pathset_cxt, size);
		pathset_block_left = size;
	}
	copy = pathset_block;
	memcpy(copy, path, len);
	copy[len] = '\0';
	pathset_block += len + 1;
	pathset_block_left -= len + 1;
	return copy;
}

/*
 * Create the set's memory context, hash table and insertion-order array,
 * sized for about npaths paths.
 */
static void
pathset_create(int npaths)
{
	pathset_cxt = AllocSetContextCreate(TopTransactionContext,
										"dumper paths",
										ALLOCSET_DEFAULT_SIZES);
	pathset_hash = pathhash_create(pathset_cxt, Max(64, npaths), NULL);
	pathset_maxpaths = Max(64, npaths);
	pathset_paths = MemoryContextAllocHuge(pathset_cxt,
										   pathset_maxpaths * sizeof(char *));
	pathset_npaths = 0;
	pathset_bytes = 0;
	pathset_garbage = 0;
	pathset_block = NULL;
	pathset_block_left = 0;
}

/*
 * Append a path known not to be in the set (len bytes, hash its hash).
 */
static void
pathset_append(const char *path, int len, uint32 hash)
{
	bool		found;

	path = pathset_copy(path, len);
	(void) pathhash_insert_hash(pathset_hash, path, hash, &found);
	Assert(!found);
	if (pathset_npaths >= pathset_maxpaths)
	{
		pathset_maxpaths *= 2;
		pathset_paths = repalloc_huge(pathset_paths,
									  pathset_maxpaths * sizeof(char *));
	}
	pathset_paths[pathset_npaths++] = path;
	pathset_bytes += len + 1;
}

/*
 * Rebuild the set in a new context from its first keep paths, keeping the
 * marks (their indexes and byte counts still hold), and free the old one.
 * On an error (out of memory) the old set stays whole: a savepoint that
 * catches it must find marks and paths as they were.
 */
static void
pathset_rebuild(int keep)
{
	MemoryContext old_cxt = pathset_cxt;
	pathhash_hash *old_hash = pathset_hash;
	const char **old_paths = pathset_paths;
	int			old_npaths = pathset_npaths;
	int			old_maxpaths = pathset_maxpaths;
	Size		old_bytes = pathset_bytes;
	Size		old_garbage = pathset_garbage;
	char	   *old_block = pathset_block;
	Size		old_block_left = pathset_block_left;
	PathMark   *old_marks = pathset_marks;

	PG_TRY();
	{
		pathset_create(keep * 2);
		for (int i = 0; i < keep; i++)
		{
			int			len = strlen(old_paths[i]);

			pathset_append(old_paths[i], len,
						   hash_bytes((const unsigned char *) old_paths[i], len));
		}
		if (old_marks != NULL)
		{
			pathset_marks = MemoryContextAlloc(pathset_cxt,
											   pathset_maxmarks * sizeof(PathMark));
			memcpy(pathset_marks, old_marks, pathset_nmarks * sizeof(PathMark));
		}
	}
	PG_CATCH();
	{
		if (pathset_cxt != old_cxt)
			MemoryContextDelete(pathset_cxt);
		pathset_cxt = old_cxt;
		pathset_hash = old_hash;
		pathset_paths = old_paths;
		pathset_npaths = old_npaths;
		pathset_maxpaths = old_maxpaths;
		pathset_bytes = old_bytes;
		pathset_garbage = old_garbage;
		pathset_block = old_block;
		pathset_block_left = old_block_left;
		pathset_marks = old_marks;
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextDelete(old_cxt);
}

/*
 * The set's memory outgrew dumper.work_mem.  When the current
 * (sub)transaction's own paths take half of it or more, or are half of the
 * set or more (the older levels then hold little), spill them: write
 * them to the queue, as part of it, and rebuild the set from the paths of
 * enclosing levels.  Otherwise, when half of dumper.work_mem or more is
 * bytes of rolled-back subtransactions' paths (removed from the set, not
 * from its blocks), rebuild the set from what it holds.  Otherwise wait: the
 * enclosing levels' paths cannot be spilled under this level's id, and
 * spilling a small tail again and again would cost a rebuild each time.
 * Each rebuild follows at least half of dumper.work_mem of new paths or of
 * garbage, so its cost is amortized over them.
 */
static void
pathset_shrink(void)
{
	Size		limit = (Size) dumper_work_mem * 1024;
	int			start = 0;
	Size		start_bytes = 0;
	Size		own;

	if (pathset_nmarks > 0)
	{
		if (pathset_marks[pathset_nmarks - 1].subid != GetCurrentSubTransactionId())
			return;
		start = pathset_marks[pathset_nmarks - 1].start;
		start_bytes = pathset_marks[pathset_nmarks - 1].bytes;
	}
	own = (pathset_bytes - start_bytes) + (Size) (pathset_npaths - start) * PATHSET_PER_PATH;
	if (own >= limit / 2 || pathset_npaths - start >= pathset_npaths / 2)
	{
		dumper_queue_write(pathset_paths + start, pathset_npaths - start);
		pathset_spilled = true;
		pathset_rebuild(start);
	}
	else if (pathset_garbage >= limit / 2)
		pathset_rebuild(pathset_npaths);
}

/*
 * Report a path of len bytes, over DUMPER_MAX_PATH_LEN, whose first
 * startlen bytes (at least 40, or all of it) are start.
 */
void
dumper_path_too_long(const char *start, int startlen, int64 len)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("path is too long to invalidate: " INT64_FORMAT " bytes", len),
			 errdetail("The path starts with \"%s\".",
					   pnstrdup(start, pg_mbcliplen(start, startlen, 40))),
			 errhint("dumper accepts paths of at most %d bytes.",
					 DUMPER_MAX_PATH_LEN)));
}

/*
 * Add a path to the transaction's set unless it is there already.  An empty
 * path means "no path" and is ignored, like NULL.  A path containing a NUL
 * byte cannot come from a text value.
 */
void
dumper_pathset_add(const char *path, int len)
{
	uint32		hash;
	PathEntry  *entry;
	SubTransactionId subid;

	if (len == 0)
		return;
	if (len > DUMPER_MAX_PATH_LEN)
		dumper_path_too_long(path, len, len);
	if (pathset_flushed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot add paths after the transaction's invalidations were queued")));

	if (pathset_cxt == NULL)
		pathset_create(64);

	/* Look up with a NUL-terminated copy only when the path is new. */
	{
		char		stackbuf[256];
		char	   *key = (len < (int) sizeof(stackbuf)) ? stackbuf : palloc(len + 1);

		memcpy(key, path, len);
		key[len] = '\0';
		hash = hash_bytes((const unsigned char *) key, len);
		entry = pathhash_lookup_hash(pathset_hash, key, hash);
		if (entry != NULL)
		{
			if (key != stackbuf)
				pfree(key);
			return;
		}
		if (key != stackbuf)
			pfree(key);
	}

	/* Remember where a subtransaction's additions begin. */
	subid = GetCurrentSubTransactionId();
	if (subid != TopSubTransactionId &&
		(pathset_nmarks == 0 ||
		 pathset_marks[pathset_nmarks - 1].subid != subid))
	{
		if (pathset_nmarks >= pathset_maxmarks)
		{
			pathset_maxmarks = Max(8, pathset_maxmarks * 2);
			if (pathset_marks == NULL)
				pathset_marks = MemoryContextAlloc(pathset_cxt,
												   pathset_maxmarks * sizeof(PathMark));
			else
				pathset_marks = repalloc(pathset_marks,
										 pathset_maxmarks * sizeof(PathMark));
		}
		pathset_marks[pathset_nmarks].subid = subid;
		pathset_marks[pathset_nmarks].start = pathset_npaths;
		pathset_marks[pathset_nmarks].bytes = pathset_bytes;
		pathset_nmarks++;
	}

	pathset_append(path, len, hash);
	if (MemoryContextMemAllocated(pathset_cxt, false) > (Size) dumper_work_mem * 1024)
		pathset_shrink();
}

/* Add every non-NULL element of a text[] to the transaction's set. */
void
dumper_pathset_add_array(ArrayType *paths)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	deconstruct_array(paths, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		dumper_pathset_add(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	pfree(elems);
	pfree(nulls);
}

/* Number of distinct paths gathered so far by this transaction. */
int
dumper_pathset_count(void)
{
	return pathset_npaths;
}

/* The i-th path gathered, in insertion order. */
const char *
dumper_pathset_get(int i)
{
	Assert(i >= 0 && i < pathset_npaths);
	return pathset_paths[i];
}

/*
 * A subtransaction ended: on commit its additions now belong to its parent;
 * on abort they are removed from the set.
 */
static void
pathset_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid,
						 void *arg pg_attribute_unused())
{
	if (pathset_nmarks == 0)
		return;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		PathMark   *top = &pathset_marks[pathset_nmarks - 1];

		if (top->subid != mySubid)
			return;
		if (parentSubid == TopSubTransactionId ||
			(pathset_nmarks >= 2 &&
			 pathset_marks[pathset_nmarks - 2].subid == parentSubid))
			pathset_nmarks--;	/* merged into the parent's range */
		else
			top->subid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			start = -1;
		Size		bytes = 0;

		while (pathset_nmarks > 0 &&
			   pathset_marks[pathset_nmarks - 1].subid >= mySubid)
		{
			pathset_nmarks--;
			start = pathset_marks[pathset_nmarks].start;
			bytes = pathset_marks[pathset_nmarks].bytes;
		}
		if (start < 0)
			return;
		for (int i = start; i < pathset_npaths; i++)
			pathhash_delete(pathset_hash, pathset_paths[i]);
		pathset_npaths = start;
		/* Their bytes stay in the blocks until a rebuild. */
		pathset_garbage += pathset_bytes - bytes;
		pathset_bytes = bytes;
	}
}

/*
 * Queue the set at pre-commit and pre-prepare; wake the worker after
 * commit; forget the set at every end of transaction.
 */
static void
pathset_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (pathset_npaths > 0)
				dumper_queue_write(pathset_paths, pathset_npaths);
			/* Later additions (another pre-commit callback) are refused. */
			pathset_flushed = true;
			if (pathset_npaths > 0 || pathset_spilled)
				pathset_wake = (event == XACT_EVENT_PRE_COMMIT);
			break;
		case XACT_EVENT_COMMIT:
			{
				BlockNumber first_block = dumper_queue_take_first_block();

				/* Too late to fail: only lower an atomic and set a latch. */
				if (pathset_wake)
					dumper_wake_worker(first_block);
			}
			pathset_wake = false;
			pathset_reset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			(void) dumper_queue_take_first_block();
			pathset_wake = false;
			pathset_reset();
			break;
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			break;
	}
}

/* Register the transaction callbacks; once per backend, from _PG_init. */
void
dumper_pathset_init(void)
{
	RegisterXactCallback(pathset_xact_callback, NULL);
	RegisterSubXactCallback(pathset_subxact_callback, NULL);
}

PG_FUNCTION_INFO_V1(dumper_invalidate);

/*
 * dumper_invalidate(VARIADIC paths text[]): add paths by hand to the current
 * transaction.  NULL and empty elements are ignored.  Works even when
 * dumper.enabled is off, so that a bulk load can invalidate what it knows.
 */
Datum
dumper_invalidate(PG_FUNCTION_ARGS)
{
	/* It writes the queue: say so now, not at commit. */
	PreventCommandIfReadOnly("dumper_invalidate()");
	PreventCommandDuringRecovery("dumper_invalidate()");
	dumper_pathset_add_array(PG_GETARG_ARRAYTYPE_P(0));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dumper_transaction_paths);

/*
 * dumper_transaction_paths(): the paths gathered so far by the current
 * transaction, in the order they were first gathered (since the last spill,
 * when the set outgrew dumper.work_mem).
 */
Datum
dumper_transaction_paths(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < pathset_npaths; i++)
	{
		Datum		value = CStringGetTextDatum(pathset_paths[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
