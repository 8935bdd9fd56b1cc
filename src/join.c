/*-------------------------------------------------------------------------
 *
 * join.c
 *	  Join ("through") tables: a join row invalidates the rows it references.
 *
 * dumper.join_trigger() fires AFTER INSERT, UPDATE or DELETE FOR EACH ROW on
 * a join table.  For every foreign key of the join table whose referenced
 * table is registered and covered by the rule of dumper_join_side_covered
 * (registry.c: the same owner, or dumper_register_join by the join table's
 * owner; a "side"), it looks the referenced row up by key and
 * gathers that row's paths with the side's paths function: the database-side
 * m2m_changed.  A referenced row that no longer exists (a cascade deleted it)
 * yields nothing: its own DELETE already invalidated it.  UPDATE gathers the
 * rows referenced by the old and by the new join row; a side whose key
 * columns the UPDATE left as they were (the same bytes) and whose paths
 * function is not volatile references the same row, with the same paths,
 * and is looked up once.
 *
 * The lookups run as the writer, so row-level security applies to them: a
 * join row that references a row the writer cannot see gathers nothing for
 * it (docs/invalidation.md).  Refusing all such writes would refuse every
 * tenant of a row-level security setup, whose references are to its own
 * rows; TRUNCATE, which removes rows whatever the policies, is refused
 * (truncate.c).
 *
 * The lookups are kept SPI plans, one per side, built once per backend from
 * the relcache's foreign key list and compared with the constraint's own
 * equality operators (as RI triggers do), so a user's search_path cannot
 * change them; their rows go to the set as they come (dumper_gather_plan),
 * so a SETOF function returning millions of paths is never held whole.
 * Which sides there are is decided when the entry is built; registering or
 * unregistering a table sends a relcache invalidation for it and for every
 * join table referencing it (registry.c), and an owner change one for the
 * table whose owner changed, which every entry referencing it records.
 *
 * Memory and invalidation follow regcache.c: entries under
 * CacheMemoryContext, flagged invalid by the relcache callback of the join
 * table or of a referenced table, or by any change to pg_proc, pg_namespace
 * or pg_operator (the names the lookups' texts use), rebuilt at the next
 * use -- but never while a lookup of that entry is running: a paths
 * function may write to the join table whose trigger called it, and the
 * nested trigger then uses the entry as it is (its kept plans revalidate
 * themselves) instead of freeing the plans and sides the outer one is still
 * using.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/partition.h"
#include "catalog/pg_operator.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "dumper.h"
#include "registration.h"
#include "spi.h"

/* One registered side of a join table. */
typedef struct JoinSide
{
	Oid			confrelid;		/* the referenced (registered) table */
	int			nkeys;
	AttrNumber	attnums[INDEX_MAX_KEYS];	/* columns in the join table */
	Oid			argtypes[INDEX_MAX_KEYS];
	SPIPlanPtr	plan;			/* paths of the referenced row, by key */
	bool		read_only;
} JoinSide;

typedef struct JoinEntry
{
	Oid			relid;			/* hash key: the join table */
	bool		valid;
	bool		built;			/* sides/nsides are usable */
	int			in_use;			/* lookups under way (nested writes) */
	int			nsides;
	JoinSide   *sides;			/* in CacheMemoryContext */
	int			nrefs;
	Oid		   *refs;			/* tables whose change rebuilds it: below */
} JoinEntry;

static bool join_keep(void *entry);
static void join_release(void *entry);

static DumperTableCache join_tables = {
	.name = "dumper join tables",
	.keysize = sizeof(Oid),
	.entrysize = sizeof(JoinEntry),
	.nelem = 16,
	.keep = join_keep,
	.release = join_release,
};

/*
 * Mark the entries of join table relid and of its referenced tables (or
 * every entry) for rebuilding.
 */
static void
join_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	JoinEntry  *entry;

	if (join_tables.htab == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(join_tables.htab, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
	}

	/*
	 * Every entry when everything is invalidated, and every entry that
	 * records relid (join_build): a side's kept plan names that table and
	 * its key columns, which a RENAME or SET SCHEMA changes, and whether a
	 * referenced table is a side at all depends on its owner.
	 */
	hash_seq_init(&status, join_tables.htab);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!OidIsValid(relid))
			entry->valid = false;
		else
		{
			for (int i = 0; i < entry->nrefs; i++)
				if (entry->refs[i] == relid)
					entry->valid = false;
		}
	}
}

/*
 * A function, a schema or an operator changed: rebuild every entry.  The
 * lookups' texts name the paths function, the referenced table and the
 * equality operators by schema, and PostgreSQL's plan cache parses them
 * again after any change to pg_namespace or pg_operator: a rename there
 * (ALTER SCHEMA ... RENAME, ALTER OPERATOR ... SET SCHEMA) needs new texts.
 */
static void
join_proc_callback(Datum arg, int cacheid pg_attribute_unused(),
				   uint32 hashvalue pg_attribute_unused())
{
	join_relcache_callback(arg, InvalidOid);
}

/* Register the invalidation callbacks; once per backend, from _PG_init. */
void
dumper_join_init(void)
{
	CacheRegisterRelcacheCallback(join_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, join_proc_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, join_proc_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(OPEROID, join_proc_callback, (Datum) 0);
}

/*
 * "OPERATOR(schema.op)" for an operator OID: immune to search_path.
 */
char *
dumper_qualified_operator(Oid opoid)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opoid));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opoid);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/* Free the plans of an entry. */
static void
join_free_sides(JoinEntry *entry)
{
	for (int i = 0; i < entry->nsides; i++)
		if (entry->sides[i].plan != NULL)
			SPI_freeplan(entry->sides[i].plan);
	if (entry->sides != NULL)
		pfree(entry->sides);
	entry->sides = NULL;
	entry->nsides = 0;
	if (entry->refs != NULL)
		pfree(entry->refs);
	entry->refs = NULL;
	entry->nrefs = 0;
}

/*
 * (Re)build the sides of join table rel: one kept plan per foreign key that
 * references a registered table which the rule lets rel's join triggers
 * cover (dumper_join_side_covered).  The entry records every table whose
 * change can change that answer, for join_relcache_callback: each
 * referenced table, covered or not (its owner, its registration), and the
 * root of a partitioned join table (its owner, dumper_register_join).
 * Must be called inside SPI.
 */
static void
join_build(JoinEntry *entry, Relation rel)
{
	List	   *fkeys = dumper_fkey_list(rel);
	ListCell   *lc;
	JoinSide   *sides;
	int			nsides = 0;

	join_free_sides(entry);
	entry->valid = true;
	entry->built = false;
	sides = MemoryContextAllocZero(CacheMemoryContext,
								   Max(1, list_length(fkeys)) * sizeof(JoinSide));
	/* Kept plans are counted as they come: a failed build frees them next time. */
	entry->sides = sides;
	entry->refs = MemoryContextAlloc(CacheMemoryContext,
									 (list_length(fkeys) + 1) * sizeof(Oid));
	foreach(lc, fkeys)
		entry->refs[entry->nrefs++] = lfirst_node(ForeignKeyCacheInfo, lc)->confrelid;
	if (rel->rd_rel->relispartition)
		entry->refs[entry->nrefs++] = llast_oid(get_partition_ancestors(RelationGetRelid(rel)));

	foreach(lc, fkeys)
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		DumperRegistration reg;
		JoinSide   *side;
		StringInfoData query;
		char	   *expr;
		SPIPlanPtr	plan;

		/* The rule (registry.c): no other role's paths function runs here. */
		if (!dumper_join_side_covered(RelationGetRelid(rel), fk->confrelid) ||
			!dumper_registration_read(fk->confrelid, &reg))
			continue;
		side = &sides[nsides];
		side->confrelid = fk->confrelid;
		side->nkeys = fk->nkeys;
		expr = dumper_paths_expr(&reg, fk->confrelid, "r", &side->read_only);
		initStringInfo(&query);
		appendStringInfo(&query, "SELECT %s FROM %s AS r WHERE ", expr,
						 dumper_qualified_relname(fk->confrelid));
		for (int k = 0; k < fk->nkeys; k++)
		{
			side->attnums[k] = fk->conkey[k];
			side->argtypes[k] = TupleDescAttr(RelationGetDescr(rel), fk->conkey[k] - 1)->atttypid;
			appendStringInfo(&query, "%sr.%s %s $%d",
							 k > 0 ? " AND " : "",
							 quote_identifier(get_attname(fk->confrelid, fk->confkey[k], false)),
							 dumper_qualified_operator(fk->conpfeqop[k]),
							 k + 1);
		}
		plan = SPI_prepare(query.data, fk->nkeys, side->argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare(\"%s\") failed: %s",
				 query.data, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		side->plan = plan;
		entry->nsides = ++nsides;
	}
	entry->built = true;
}

/* Whether a dropped table's entry must stay (tablecache.c): valid, or in use. */
static bool
join_keep(void *entry)
{
	JoinEntry  *e = (JoinEntry *) entry;

	return e->valid || e->in_use > 0;
}

/* Free what an entry owns, before tablecache.c removes it. */
static void
join_release(void *entry)
{
	join_free_sides((JoinEntry *) entry);
}

/*
 * Gather the paths of the rows one join row references on every registered
 * side.  For the new version of an UPDATE, oldtuple is the old one, whose
 * sides were just gathered: a side is skipped when its key is the same in
 * both and its paths function is not volatile.
 */
static void
join_gather(JoinEntry *entry, Relation rel, HeapTuple tuple, HeapTuple oldtuple)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < entry->nsides; i++)
	{
		JoinSide   *side = &entry->sides[i];
		Datum		values[INDEX_MAX_KEYS];
		char		nulls[INDEX_MAX_KEYS];
		bool		isnull = false;

		if (oldtuple != NULL && side->read_only &&
			dumper_same_columns(desc, side->attnums, side->nkeys, oldtuple, tuple))
			continue;
		for (int k = 0; k < side->nkeys && !isnull; k++)
		{
			values[k] = heap_getattr(tuple, side->attnums[k], desc, &isnull);
			nulls[k] = ' ';
		}
		if (isnull)
			continue;			/* a NULL reference references nothing */
		dumper_gather_plan(side->plan, values, nulls, side->read_only);
	}
}

/* Error context: which join table was producing paths. */
static void
join_error_callback(void *arg)
{
	errcontext("gathering invalidation paths of the rows join table \"%s\" references",
			   get_rel_name(*(Oid *) arg));
}

PG_FUNCTION_INFO_V1(dumper_join_trigger);

/*
 * dumper.join_trigger(): gather the paths of the rows a join row references.
 */
Datum
dumper_join_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;
	Relation	rel;
	Oid			relid;
	JoinEntry  *entry;
	bool		found;
	ErrorContextCallback errcallback;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.join_trigger() was not called by the trigger manager")));
	event = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_ROW(event) || !TRIGGER_FIRED_AFTER(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.join_trigger() must be fired AFTER ... FOR EACH ROW")));
	if (!dumper_enabled)
		return PointerGetDatum(NULL);

	rel = trigdata->tg_relation;
	relid = RelationGetRelid(rel);
	/* All zeros: not valid, nothing built, no sides. */
	entry = dumper_tablecache_enter(&join_tables, &relid, &found);

	errcallback.callback = join_error_callback;
	errcallback.arg = &relid;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	SPI_connect();
	if ((!entry->valid || !entry->built) && entry->in_use == 0)
		join_build(entry, rel);

	/* Not rebuilt under itself while it runs, even if the run fails. */
	entry->in_use++;
	PG_TRY();
	{
		join_gather(entry, rel, trigdata->tg_trigtuple, NULL);
		if (TRIGGER_FIRED_BY_UPDATE(event))
			join_gather(entry, rel, trigdata->tg_newtuple, trigdata->tg_trigtuple);
	}
	PG_FINALLY();
	{
		entry->in_use--;
	}
	PG_END_TRY();
	SPI_finish();

	error_context_stack = errcallback.previous;
	return PointerGetDatum(NULL);
}
