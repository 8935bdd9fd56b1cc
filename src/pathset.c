/*-------------------------------------------------------------------------
 *
 * pathset.c
 *	  The current transaction's de-duplicated set of paths, and its flush to
 *	  the queue at pre-commit; the SQL functions that add to it directly
 *	  (dumper_invalidate, dumper_probe) or show it.
 *
 * Each distinct path is kept once, in insertion order, however many rows
 * produced it.  Up to PATHSET_SMALL paths (a single-row write's) are
 * compared in order; the hash table that finds duplicates among more is
 * built when the next one comes, and then holds every path of the set.
 * Paths added inside a subtransaction are remembered by a
 * stack of marks (subtransaction id, first index) so that a rolled-back
 * subtransaction removes exactly the paths it added; top-level additions
 * need no mark, so a transaction without savepoints pays nothing for this.
 *
 * Memory: the set lives in a context of the backend's, reset at every
 * transaction end (commit, abort or prepare), so that a transaction that
 * gathers a few paths creates and frees no context and calls no malloc; a
 * set rebuilt while that context still holds the old one goes to a context
 * under TopTransactionContext, which vanishes with the transaction
 * whatever happens.  The static struct is cleared at every transaction
 * end.  Path bytes are carved from blocks (no per-path chunk header), of
 * 1 kB first, twice as large each time up to 64 kB.  The set is bounded
 * by dumper.work_mem: past it, the paths the current (sub)transaction
 * added are spilled, that is written to the spill queue (queue.c) as part
 * of that (sub)transaction, whose commit or rollback they follow like any
 * row, and forgotten; the set is rebuilt from what remains.  A later duplicate of a
 * spilled path is queued again (delivery de-duplicates per batch).  Paths
 * of enclosing subtransactions cannot be written under the current one's
 * id, so they stay in memory until their own level spills; the bytes of
 * rolled-back subtransactions' paths are given back by a rebuild once they
 * reach half the limit.  Memory is bounded by about twice dumper.work_mem
 * per open subtransaction level (pathset_shrink).
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
#include "storage/proc.h"
#include "tcop/utility.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "capture.h"
#include "delivery.h"
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

/* Bytes of randomness in a probe path. */
#define PATHSET_PROBE_BYTES	16

/* The probe path of the transaction probe_lxid, when it called dumper_probe. */
static char pathset_probe_path[sizeof("@probe:") + 2 * PATHSET_PROBE_BYTES];
static LocalTransactionId pathset_probe_lxid = InvalidLocalTransactionId;

/* Where a subtransaction's additions start in paths[]. */
typedef struct PathMark
{
	SubTransactionId subid;
	int			start;
	Size		bytes;			/* pathset.bytes when it began */
} PathMark;

#define PATHSET_FIRST_BLOCK_SIZE	1024
#define PATHSET_BLOCK_SIZE	(64 * 1024)
/* What a path costs besides its bytes: hash entry and array slot, about. */
#define PATHSET_PER_PATH	40
/* Up to this many paths the set is searched in order, without a hash table. */
#define PATHSET_SMALL		8

/* The set; all zero when the transaction has gathered nothing. */
typedef struct PathSet
{
	MemoryContext cxt;			/* pathset_memory, or under TopTransactionContext */
	pathhash_hash *hash;		/* NULL until npaths first exceeded PATHSET_SMALL */
	const char **paths;			/* insertion order */
	int			npaths;
	int			maxpaths;
	Size		bytes;			/* bytes of the paths in the set, NULs included */
	Size		garbage;		/* bytes of removed paths, still in blocks */
	PathMark   *marks;
	int			nmarks;
	int			maxmarks;
	char	   *block;			/* free space for path bytes */
	Size		block_left;
	Size		block_size;		/* of the last block (0: none yet) */
} PathSet;

static PathSet pathset;
static bool pathset_flushed = false;	/* queued at pre-commit/pre-prepare */
static bool pathset_spilled = false;	/* some paths were spilled */
static bool pathset_wake = false;	/* wake the worker at commit */

/* The context of the transaction's first set, kept for the next one. */
static MemoryContext pathset_memory = NULL;
static bool pathset_memory_busy = false;	/* holds a set */

/*
 * A context for a new set: pathset_memory when it is free, else a new one
 * under TopTransactionContext.
 */
static MemoryContext
pathset_new_context(void)
{
	if (pathset_memory_busy)
		return AllocSetContextCreate(TopTransactionContext, "dumper paths",
									 ALLOCSET_DEFAULT_SIZES);
	if (pathset_memory == NULL)
		pathset_memory = AllocSetContextCreate(TopMemoryContext, "dumper paths",
											   ALLOCSET_DEFAULT_SIZES);
	pathset_memory_busy = true;
	return pathset_memory;
}

/* Free cxt, a context pathset_new_context gave. */
static void
pathset_free_context(MemoryContext cxt)
{
	if (cxt != pathset_memory)
	{
		MemoryContextDelete(cxt);
		return;
	}
	MemoryContextReset(cxt);
	pathset_memory_busy = false;
}

/*
 * Forget the set.  Its memory is given back: pathset_memory is reset, the
 * other contexts go with TopTransactionContext.
 */
static void
pathset_reset(void)
{
	if (pathset_memory_busy)
		pathset_free_context(pathset_memory);
	memset(&pathset, 0, sizeof(pathset));
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

	if (pathset.block_left < (Size) len + 1)
	{
		/*
		 * The first block fits in the context's own first one; small blocks
		 * when dumper.work_mem is small, so that it can hold many.
		 */
		Size		size = (pathset.block_size == 0) ? PATHSET_FIRST_BLOCK_SIZE :
			Min(pathset.block_size * 2, PATHSET_BLOCK_SIZE);

		size = Min(size, (Size) dumper_work_mem * 1024 / 8);
		pathset.block_size = size;
		size = Max(size, (Size) len + 1);
		pathset.block = MemoryContextAlloc(pathset.cxt, size);
		pathset.block_left = size;
	}
	copy = pathset.block;
	memcpy(copy, path, len);
	copy[len] = '\0';
	pathset.block += len + 1;
	pathset.block_left -= len + 1;
	return copy;
}

/*
 * Create the set's hash table, sized for about npaths paths, and enter the
 * paths it holds.
 */
static void
pathset_create_hash(int npaths)
{
	pathset.hash = pathhash_create(pathset.cxt, Max(64, npaths), NULL);
	for (int i = 0; i < pathset.npaths; i++)
	{
		bool		found;

		(void) pathhash_insert(pathset.hash, pathset.paths[i], &found);
		Assert(!found);
	}
}

/*
 * Create the set's memory context and insertion-order array, sized for
 * about npaths paths, and its hash table if that is more than a few: a
 * transaction that gathers a handful of paths (one row's) never needs one.
 */
static void
pathset_create(int npaths)
{
	pathset.cxt = pathset_new_context();
	pathset.hash = NULL;
	pathset.maxpaths = Max(64, npaths);
	pathset.paths = MemoryContextAllocHuge(pathset.cxt,
										   pathset.maxpaths * sizeof(char *));
	pathset.npaths = 0;
	pathset.bytes = 0;
	pathset.garbage = 0;
	pathset.block = NULL;
	pathset.block_left = 0;
	pathset.block_size = 0;
	if (npaths > PATHSET_SMALL)
		pathset_create_hash(npaths);
}

/*
 * Append a path known not to be in the set (len bytes, hash its hash when
 * the set has a hash table).
 */
static void
pathset_append(const char *path, int len, uint32 hash)
{
	bool		found;

	path = pathset_copy(path, len);
	if (pathset.hash != NULL)
		(void) pathhash_insert_hash(pathset.hash, path, hash, &found);
	Assert(pathset.hash == NULL || !found);
	if (pathset.npaths >= pathset.maxpaths)
	{
		pathset.maxpaths *= 2;
		pathset.paths = repalloc_huge(pathset.paths,
									  pathset.maxpaths * sizeof(char *));
	}
	pathset.paths[pathset.npaths++] = path;
	pathset.bytes += len + 1;
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
	PathSet		old = pathset;

	PG_TRY();
	{
		pathset_create(keep * 2);
		for (int i = 0; i < keep; i++)
		{
			int			len = strlen(old.paths[i]);

			pathset_append(old.paths[i], len, pathset.hash == NULL ? 0 :
						   hash_bytes((const unsigned char *) old.paths[i], len));
		}
		if (old.marks != NULL)
		{
			pathset.marks = MemoryContextAlloc(pathset.cxt,
											   pathset.maxmarks * sizeof(PathMark));
			memcpy(pathset.marks, old.marks, pathset.nmarks * sizeof(PathMark));
		}
	}
	PG_CATCH();
	{
		if (pathset.cxt != old.cxt)
			pathset_free_context(pathset.cxt);
		pathset = old;
		PG_RE_THROW();
	}
	PG_END_TRY();
	pathset_free_context(old.cxt);
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

	if (pathset.nmarks > 0)
	{
		if (pathset.marks[pathset.nmarks - 1].subid != GetCurrentSubTransactionId())
			return;
		start = pathset.marks[pathset.nmarks - 1].start;
		start_bytes = pathset.marks[pathset.nmarks - 1].bytes;
	}
	own = (pathset.bytes - start_bytes) + (Size) (pathset.npaths - start) * PATHSET_PER_PATH;
	if (own >= limit / 2 || pathset.npaths - start >= pathset.npaths / 2)
	{
		dumper_queue_write(pathset.paths + start, pathset.npaths - start, true);
		pathset_spilled = true;
		pathset_rebuild(start);
	}
	else if (pathset.garbage >= limit / 2)
		pathset_rebuild(pathset.npaths);
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

	if (pathset.cxt == NULL)
		pathset_create(PATHSET_SMALL);

	if (pathset.hash == NULL && pathset.npaths >= PATHSET_SMALL)
		pathset_create_hash(pathset.npaths * 2);
	if (pathset.hash == NULL)
	{
		/* A few paths: compare in order (stored paths have no NUL inside). */
		hash = 0;
		for (int i = 0; i < pathset.npaths; i++)
			if (strncmp(pathset.paths[i], path, len) == 0 &&
				pathset.paths[i][len] == '\0')
				return;
	}
	else
	{
		/* Look up with a NUL-terminated copy. */
		char		stackbuf[256];
		char	   *key = (len < (int) sizeof(stackbuf)) ? stackbuf : palloc(len + 1);

		memcpy(key, path, len);
		key[len] = '\0';
		hash = hash_bytes((const unsigned char *) key, len);
		entry = pathhash_lookup_hash(pathset.hash, key, hash);
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
		(pathset.nmarks == 0 ||
		 pathset.marks[pathset.nmarks - 1].subid != subid))
	{
		if (pathset.nmarks >= pathset.maxmarks)
		{
			pathset.maxmarks = Max(8, pathset.maxmarks * 2);
			if (pathset.marks == NULL)
				pathset.marks = MemoryContextAlloc(pathset.cxt,
												   pathset.maxmarks * sizeof(PathMark));
			else
				pathset.marks = repalloc(pathset.marks,
										 pathset.maxmarks * sizeof(PathMark));
		}
		pathset.marks[pathset.nmarks].subid = subid;
		pathset.marks[pathset.nmarks].start = pathset.npaths;
		pathset.marks[pathset.nmarks].bytes = pathset.bytes;
		pathset.nmarks++;
	}

	pathset_append(path, len, hash);
	if (MemoryContextMemAllocated(pathset.cxt, false) > (Size) dumper_work_mem * 1024)
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

/*
 * A subtransaction ended: on commit its additions now belong to its parent;
 * on abort they are removed from the set.
 */
static void
pathset_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid,
						 void *arg pg_attribute_unused())
{
	if (pathset.nmarks == 0)
		return;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		PathMark   *top = &pathset.marks[pathset.nmarks - 1];

		if (top->subid != mySubid)
			return;
		if (parentSubid == TopSubTransactionId ||
			(pathset.nmarks >= 2 &&
			 pathset.marks[pathset.nmarks - 2].subid == parentSubid))
			pathset.nmarks--;	/* merged into the parent's range */
		else
			top->subid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			start = -1;
		Size		bytes = 0;

		while (pathset.nmarks > 0 &&
			   pathset.marks[pathset.nmarks - 1].subid >= mySubid)
		{
			pathset.nmarks--;
			start = pathset.marks[pathset.nmarks].start;
			bytes = pathset.marks[pathset.nmarks].bytes;
		}
		if (start < 0)
			return;
		if (pathset.hash != NULL)
			for (int i = start; i < pathset.npaths; i++)
				pathhash_delete(pathset.hash, pathset.paths[i]);
		pathset.npaths = start;
		/* Their bytes stay in the blocks until a rebuild. */
		pathset.garbage += pathset.bytes - bytes;
		pathset.bytes = bytes;
	}
}

/*
 * Queue the set at pre-commit and pre-prepare; wake the worker after
 * commit; record the blocks of a prepared transaction for its COMMIT
 * PREPARED; forget the set at every end of transaction.
 */
static void
pathset_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* A prepared transaction's rows wait for COMMIT PREPARED (queue.c). */
			if (pathset.npaths > 0)
				dumper_queue_write(pathset.paths, pathset.npaths,
								   event == XACT_EVENT_PRE_PREPARE);
			/* Later additions (another pre-commit callback) are refused. */
			pathset_flushed = true;
			if (pathset.npaths > 0 || pathset_spilled)
				pathset_wake = (event == XACT_EVENT_PRE_COMMIT);
			break;
		case XACT_EVENT_COMMIT:
			{
				BlockNumber last;
				bool		spilled;
				BlockNumber first = dumper_queue_take_blocks(&last, &spilled);

				/* Too late to fail: only update atomics and set a latch. */
				if (pathset_wake)
					dumper_note_commit(dumper_wake_worker(first, last, spilled));
			}
			pathset_wake = false;
			pathset_reset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			{
				BlockNumber last;
				bool		spilled;

				(void) dumper_queue_take_blocks(&last, &spilled);
				/* For COMMIT PREPARED to hint; cannot fail. */
				if (event == XACT_EVENT_PREPARE)
					dumper_twophase_prepared(spilled);
			}
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
	for (int i = 0; i < pathset.npaths; i++)
	{
		Datum		value = CStringGetTextDatum(pathset.paths[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(dumper_probe);

/*
 * dumper_probe(): queue the invalidation of a fresh path '@probe:<hex>' in
 * the current transaction and return it, so that a web tier can check the
 * whole chain (README.md, "The Redis contract with the web tier").  No page
 * has such a path.  One path per transaction, however many calls: any role
 * may call it, and must not be able to fill the queue with it.  Each call
 * adds it again (the set ignores a duplicate), in case a rolled-back
 * savepoint took it out.
 */
Datum
dumper_probe(PG_FUNCTION_ARGS)
{
	PreventCommandIfReadOnly("dumper_probe()");
	PreventCommandDuringRecovery("dumper_probe()");
	if (pathset_probe_lxid != MyProc->lxid)
	{
		uint8		bytes[PATHSET_PROBE_BYTES];
		char	   *p;

		if (!pg_strong_random(bytes, sizeof(bytes)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("dumper_probe: could not generate random bytes")));
		strcpy(pathset_probe_path, "@probe:");
		p = pathset_probe_path + strlen(pathset_probe_path);
		for (int i = 0; i < PATHSET_PROBE_BYTES; i++)
			p += sprintf(p, "%02x", bytes[i]);
		pathset_probe_lxid = MyProc->lxid;
	}
	dumper_pathset_add(pathset_probe_path, strlen(pathset_probe_path));
	PG_RETURN_TEXT_P(cstring_to_text(pathset_probe_path));
}
