/*-------------------------------------------------------------------------
 *
 * regcache.c
 *	  Per-backend cache of registrations: how to turn a row into paths.
 *
 * For each table a trigger fired on, the cache keeps the registered paths
 * function and a kept SPI plan calling it ("SELECT fn($1)", or
 * "SELECT unnest(fn($1))" for text[]), so that a row costs one plan
 * execution and no catalog lookup.  A plan rather than a direct fmgr call:
 * PostgreSQL inlines a simple SQL function into the plan, and a plan is not
 * thrown away at every transaction the way the SQL-function executor's
 * cache is (see MEASUREMENTS.md).
 *
 * Invalidation: an entry is marked invalid by a relcache invalidation of its
 * table (dumper_register and dumper_unregister send one, and so does any
 * DDL on the table) and every entry by any change to pg_proc; it is rebuilt
 * at its next use.  The callbacks only set flags; rebuilding happens outside
 * them.
 *
 * Memory: entries and plans live under CacheMemoryContext for the life of
 * the backend.  Row work allocates in the caller's (per-tuple) context and
 * in SPI's contexts, freed by SPI_finish.
 *
 * Privileges: the registration table is read as the extension's owner; the
 * paths function runs as the user whose write fired the trigger, like any
 * trigger function.  The volatility of the paths function decides whether
 * its queries see a fresh snapshot, exactly as for a direct call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "dumper.h"

typedef struct RegEntry
{
	Oid			relid;			/* hash key: the table the trigger fired on */
	bool		valid;			/* false: rebuild before use */
	Oid			funcoid;		/* the paths function */
	bool		read_only;		/* paths function is not VOLATILE */
	SPIPlanPtr	plan;			/* kept plan calling it, or NULL */
	char		relname[NAMEDATALEN * 2 + 8];	/* for error context */
	char		funcname[NAMEDATALEN * 2 + 8];
} RegEntry;

static HTAB *regcache = NULL;

/* Mark the entry of relid (or every entry) for rebuilding. */
static void
regcache_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	RegEntry   *entry;

	if (regcache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(regcache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, regcache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/* A function changed: rebuild every entry (cheap, and DDL is rare). */
static void
regcache_proc_callback(Datum arg, int cacheid pg_attribute_unused(),
					   uint32 hashvalue pg_attribute_unused())
{
	regcache_relcache_callback(arg, InvalidOid);
}

/* Register the invalidation callbacks; once per backend, from _PG_init. */
void
dumper_regcache_init(void)
{
	CacheRegisterRelcacheCallback(regcache_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, regcache_proc_callback, (Datum) 0);
}

/*
 * Read the registration of relid from dumper.registration, as the
 * extension's owner.  Returns the paths function, InvalidOid when the table
 * is not registered.  Must be called inside SPI.
 */
static Oid
regcache_read_registration(Oid relid)
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Oid			funcoid = InvalidOid;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(dumper_internal_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	args[0] = ObjectIdGetDatum(relid);
	ret = SPI_execute_with_args("SELECT paths::pg_catalog.oid FROM dumper.registration"
								" WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));

	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull)
			funcoid = DatumGetObjectId(d);
	}
	return funcoid;
}

/*
 * (Re)build the entry of rel: read its registration and keep a plan that
 * calls its paths function.  Must be called inside SPI.
 */
static void
regcache_build(RegEntry *entry, Relation rel)
{
	HeapTuple	proctup;
	Form_pg_proc procform;
	Oid			funcoid;
	Oid			argtype = rel->rd_rel->reltype;
	char	   *qualname;
	char	   *query;
	SPIPlanPtr	plan;

	if (entry->plan != NULL)
	{
		SPI_freeplan(entry->plan);
		entry->plan = NULL;
	}

	/*
	 * Valid from now on: an invalidation that arrives while we build (the
	 * catalog reads below accept them) marks it invalid again.  An error
	 * leaves plan NULL, which also means "rebuild".
	 */
	entry->valid = true;
	entry->funcname[0] = '\0';
	snprintf(entry->relname, sizeof(entry->relname), "%s",
			 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										RelationGetRelationName(rel)));

	funcoid = regcache_read_registration(RelationGetRelid(rel));
	if (!OidIsValid(funcoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has a dumper trigger but is not registered",
						entry->relname),
				 errhint("Register it with dumper_register('%s'), or drop the trigger.",
						 entry->relname)));

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the paths function of table %s no longer exists",
						entry->relname),
				 errhint("Register the table again with dumper_register('%s', ...).",
						 entry->relname)));
	procform = (Form_pg_proc) GETSTRUCT(proctup);
	qualname = quote_qualified_identifier(get_namespace_name(procform->pronamespace),
										  NameStr(procform->proname));
	snprintf(entry->funcname, sizeof(entry->funcname), "%s", qualname);
	if (procform->prorettype == TEXTARRAYOID && !procform->proretset)
		query = psprintf("SELECT pg_catalog.unnest(%s($1))", qualname);
	else
		query = psprintf("SELECT %s($1)", qualname);
	entry->read_only = (procform->provolatile != PROVOLATILE_VOLATILE);
	ReleaseSysCache(proctup);

	plan = SPI_prepare(query, 1, &argtype);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare(\"%s\") failed: %s",
			 query, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	entry->plan = plan;
	entry->funcoid = funcoid;
}

/* Error context: which table and function were producing paths. */
static void
regcache_error_callback(void *arg)
{
	RegEntry   *entry = (RegEntry *) arg;

	if (entry->funcname[0] != '\0')
		errcontext("gathering invalidation paths of table %s with %s()",
				   entry->relname, entry->funcname);
	else
		errcontext("gathering invalidation paths of table %s", entry->relname);
}

/*
 * Add the paths of one row of rel to the transaction's set.
 */
void
dumper_regcache_gather(Relation rel, HeapTuple tuple)
{
	Oid			relid = RelationGetRelid(rel);
	RegEntry   *entry;
	bool		found;
	Datum		value;
	int			ret;
	ErrorContextCallback errcallback;

	if (regcache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RegEntry);
		ctl.hcxt = CacheMemoryContext;
		regcache = hash_create("dumper registrations", 32, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(regcache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->plan = NULL;
		entry->funcname[0] = '\0';
		snprintf(entry->relname, sizeof(entry->relname), "%s",
				 RelationGetRelationName(rel));
	}

	errcallback.callback = regcache_error_callback;
	errcallback.arg = entry;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!entry->valid || entry->plan == NULL)
		regcache_build(entry, rel);

	value = heap_copy_tuple_as_datum(tuple, RelationGetDescr(rel));
	ret = SPI_execute_plan(entry->plan, &value, " ", entry->read_only, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									  1, &isnull);
		text	   *t;

		if (isnull)
			continue;
		t = DatumGetTextPP(d);
		dumper_pathset_add(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	SPI_finish();

	error_context_stack = errcallback.previous;
}
