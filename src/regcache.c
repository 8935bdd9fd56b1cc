/*-------------------------------------------------------------------------
 *
 * regcache.c
 *	  Per-backend cache of registrations: how to turn a row into paths.
 *
 * For each table a trigger fired on, the cache keeps how to run the
 * registered paths function, so that a row costs no catalog lookup and no
 * planning.  A function returning text or text[] becomes a compiled
 * expression "fn($1)" planned once (expression_planner inlines a simple
 * SQL function into it, and the expression is not thrown away at every
 * transaction the way the SQL-function executor's cache is), evaluated per row with no executor start-up.  A SETOF
 * function keeps an SPI plan "SELECT fn($1)" instead, whose rows go to the
 * set one at a time as they come (dumper_gather_plan), however many.  When
 * the paths are known to depend on some columns only (templates, or a
 * compiled expression reading the row through its columns), the entry lists
 * them, so that an UPDATE leaving them alone computes its paths once, from
 * the old row.
 *
 * Invalidation: an entry is marked invalid by a relcache invalidation of its
 * table (dumper_register and dumper_unregister send one, and so does any
 * DDL on the table), every entry by any change to pg_proc or pg_namespace
 * (a renamed schema, which the kept plans' texts name), and the entries
 * that use a domain by a change to it (ALTER DOMAIN); it is rebuilt
 * at its next use.  The callbacks only set flags; rebuilding happens outside
 * them.
 *
 * Memory: entries and plans live under CacheMemoryContext for the life of
 * the backend.  Row work allocates in the caller's (per-tuple) context and
 * in SPI's contexts, freed by SPI_finish.
 *
 * Nesting: a paths function may write to a registered table, even its own,
 * so an entry can be evaluated while an evaluation of it is under way
 * further up the stack (in_use counts them).  Such an entry is neither
 * rebuilt nor given new states under the outer evaluation, and every piece
 * of evaluation state is either private to one evaluation or re-entrant:
 * the compiled expressions' states, $1 and per-tuple memory serve the
 * outermost evaluation only, a nested one builds its own (one test of
 * in_use on the common path); a kept plan is re-entrant (each execution
 * takes its own executor state and reference to the cached plan, and the
 * receiver of its rows holds no state); templates call no user code while
 * they build a path (output functions return cstring, so are written in C).
 *
 * Privileges: the registration table is read as the extension's owner; the
 * paths function runs as the user whose write fired the trigger, like any
 * trigger function, and that user needs EXECUTE on it, as for a direct call
 * (checked again whenever the user changes, not only when compiling).  The
 * volatility of the paths function decides whether its queries see a fresh
 * snapshot, exactly as for a direct call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tupconvert.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/params.h"
#include "optimizer/optimizer.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "capture.h"
#include "registration.h"
#include "spi.h"
#include "template.h"

/*
 * A table's entries: variant 0, and up to REGCACHE_VARIANTS - 1 more for a
 * paths function compiled under other search_paths (writers alternating
 * between search_paths, as schema-per-tenant applications do, each find
 * theirs instead of compiling it again at every alternation).
 */
#define REGCACHE_VARIANTS	4

typedef struct RegKey
{
	Oid			relid;			/* the table the trigger fired on */
	int			variant;		/* 0 .. REGCACHE_VARIANTS - 1 */
} RegKey;

typedef struct RegEntry
{
	RegKey		key;			/* hash key */
	bool		valid;			/* false: rebuild before use */
	Oid			regrelid;		/* the registered table: relid or an ancestor */
	TupleDesc	regdesc;		/* its row type, when regrelid != relid */
	TupleConversionMap *map;	/* partition row -> registered row, or NULL */
	Oid			funcoid;		/* the paths function, or InvalidOid */
	Oid			exec_user;		/* last role found to have EXECUTE on it */
	OverrideSearchPath *search_path;	/* the path exprs were planned under */
	List	   *domains;		/* TYPEOID hash values exprs depend on */
	int			in_use;			/* evaluations under way (nested writes) */
	int			next_variant;	/* variant 0: the slot to replace next */
	bool		read_only;		/* paths function is not VOLATILE */
	SPIPlanPtr	plan;			/* kept plan calling a SETOF one, or NULL */
	int			nexprs;			/* or its compiled call (0: none) ... */
	ExprState **exprs;			/* ... or the elements of its ARRAY[...] */
	List	   *planned;		/* the planned expressions exprs run */
	Oid			states_user;	/* the role exprs were initialised for */
	MemoryContext states_cxt;	/* holds exprs; child of cxt */
	ExprContext *econtext;		/* where exprs run (per-row memory) */
	ParamListInfo params;		/* $1: the row */
	bool		returns_array;	/* exprs return text[] rather than text */
	int			ntemplates;		/* path templates instead of a function */
	DumperTemplate **templates; /* compiled against the registered row type */
	FmgrInfo   *outfuncs;		/* output functions of its columns */
	int			nkeyatts;		/* -1, or the paths depend only on ... */
	AttrNumber *keyatts;		/* ... these columns (the table's numbers) */
	MemoryContext cxt;			/* holds templates and outfuncs */
	char		relname[NAMEDATALEN * 2 + 8];	/* for error context */
	char		funcname[NAMEDATALEN * 3 + 64];
} RegEntry;

static bool regcache_keep(void *entry);
static void regcache_release(void *entry);

static DumperTableCache regcache_tables = {
	.name = "dumper registrations",
	.keysize = sizeof(RegKey),
	.entrysize = sizeof(RegEntry),
	.nelem = 32,
	.keep = regcache_keep,
	.release = regcache_release,
};

/* Mark the entry of relid (or every entry) for rebuilding. */
static void
regcache_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	RegEntry   *entry;

	if (regcache_tables.htab == NULL)
		return;
	if (OidIsValid(relid))
	{
		RegKey		key = {relid, 0};

		for (key.variant = 0; key.variant < REGCACHE_VARIANTS; key.variant++)
		{
			entry = hash_search(regcache_tables.htab, &key, HASH_FIND, NULL);
			if (entry != NULL)
				entry->valid = false;
		}
		return;
	}
	hash_seq_init(&status, regcache_tables.htab);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/*
 * A function or a schema changed: rebuild every entry (cheap, and such DDL
 * is rare).  A SETOF function's kept plan is the text "SELECT
 * schema.fn($1)", which PostgreSQL's plan cache parses again after any
 * change to pg_namespace: once the schema is renamed, only a new text
 * names it (and a compiled expression is planned again as that parse
 * would, names in an inlined body included).
 */
static void
regcache_proc_callback(Datum arg, int cacheid pg_attribute_unused(),
					   uint32 hashvalue pg_attribute_unused())
{
	regcache_relcache_callback(arg, InvalidOid);
}

/*
 * A type changed: rebuild the entries whose compiled expressions depend on
 * it, as the planner recorded (a domain's constraints are fixed in them, and
 * a domain without constraints is planned away; ALTER DOMAIN sends this).
 * Only those: every CREATE or DROP of any table changes pg_type too.
 */
static void
regcache_type_callback(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
					   uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	RegEntry   *entry;
	ListCell   *lc;

	if (regcache_tables.htab == NULL)
		return;
	hash_seq_init(&status, regcache_tables.htab);
	while ((entry = hash_seq_search(&status)) != NULL)
		foreach(lc, entry->domains)
			if (hashvalue == 0 || (uint32) lfirst_int(lc) == hashvalue)
				entry->valid = false;
}

/*
 * Add to entry->domains the domains an expression coerces to: their
 * constraints are fixed in its ExprState when it is initialized.
 */
static bool
regcache_domains_walker(Node *node, void *context)
{
	RegEntry   *entry = (RegEntry *) context;

	if (node == NULL)
		return false;
	if (IsA(node, CoerceToDomain))
		entry->domains =
			lappend_int(entry->domains,
						(int) GetSysCacheHashValue1(TYPEOID,
													ObjectIdGetDatum(((CoerceToDomain *) node)->resulttype)));
	return expression_tree_walker(node, regcache_domains_walker, context);
}

/* Register the invalidation callbacks; once per backend, from _PG_init. */
void
dumper_regcache_init(void)
{
	CacheRegisterRelcacheCallback(regcache_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, regcache_proc_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, regcache_proc_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, regcache_type_callback, (Datum) 0);
}

/*
 * The SQL expression producing the paths of rowexpr (a value of the row
 * type of registered table relid), one text per result row, NULLs allowed.
 * *read_only, unless read_only is NULL, says whether it may run without a
 * fresh snapshot (templates, or a paths function that is not VOLATILE).
 */
char *
dumper_paths_expr(const DumperRegistration *reg, Oid relid, const char *rowexpr,
				  bool *read_only)
{
	HeapTuple	proctup;
	Form_pg_proc procform;
	char	   *qualname;
	char	   *expr;
	char	   *relname = get_rel_name(relid);

	if (reg->templates != NIL)
	{
		Relation	rel = table_open(relid, AccessShareLock);
		StringInfoData sql;
		ListCell   *lc;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "pg_catalog.unnest(ARRAY[");
		foreach(lc, reg->templates)
			appendStringInfo(&sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 dumper_template_sql(lfirst(lc), RelationGetDescr(rel),
												 RelationGetRelationName(rel), rowexpr));
		appendStringInfoString(&sql, "]::pg_catalog.text[])");
		table_close(rel, AccessShareLock);
		if (read_only != NULL)
			*read_only = true;
		return sql.data;
	}

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(reg->funcoid));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the paths function of table \"%s\" no longer exists",
						relname ? relname : "?"),
				 errhint("Register the table again with dumper_register().")));
	procform = (Form_pg_proc) GETSTRUCT(proctup);
	qualname = quote_qualified_identifier(get_namespace_name(procform->pronamespace),
										  NameStr(procform->proname));
	if (procform->prorettype == TEXTARRAYOID && !procform->proretset)
		expr = psprintf("pg_catalog.unnest(%s(%s))", qualname, rowexpr);
	else
		expr = psprintf("%s(%s)", qualname, rowexpr);
	if (read_only != NULL)
		*read_only = (procform->provolatile != PROVOLATILE_VOLATILE);
	ReleaseSysCache(proctup);
	return expr;
}

/*
 * Use templates for exprs, the text elements of a planned paths function
 * over rows of type regdesc, when every one is a concatenation of constants
 * and columns (template_expr.c); true when done.  Elements that are NULL
 * whatever the row give no path and are left out.
 */
static bool
regcache_exprs_as_templates(RegEntry *entry, List *exprs, TupleDesc regdesc)
{
	DumperTemplate **templates = palloc(list_length(exprs) * sizeof(DumperTemplate *));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, exprs)
	{
		bool		alwaysnull;
		DumperTemplate *t = dumper_template_from_expr(lfirst(lc), regdesc, &alwaysnull);

		if (t == NULL)
			return false;
		if (!alwaysnull)
			templates[n++] = t;
	}
	if (n == 0)
		return false;			/* no path ever: the expression says so as well */
	entry->outfuncs = dumper_template_prepare_output(templates, n, regdesc, entry->cxt);
	entry->templates = templates;
	entry->ntemplates = n;
	strlcat(entry->funcname, ", compiled to path templates", sizeof(entry->funcname));
	return true;
}

/*
 * (Re)initialise the states of entry's planned expressions for the current
 * role: ExecInitExpr checks EXECUTE on every function it meets (those an
 * inlined SQL body calls), for the role of the time.  A role change costs
 * this, not a new plan.  It may fail half way: the entry shows expressions
 * only once all are ready, and shows none meanwhile (so a failure means a
 * rebuild at the next use).
 */
static void
regcache_init_states(RegEntry *entry)
{
	ExprState **states;
	ListCell   *lc;
	MemoryContext oldcxt;

	entry->nexprs = 0;
	entry->exprs = NULL;
	entry->states_user = InvalidOid;
	if (entry->states_cxt == NULL)
		entry->states_cxt = AllocSetContextCreate(entry->cxt, "dumper expression states",
												  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(entry->states_cxt);
	oldcxt = MemoryContextSwitchTo(entry->states_cxt);
	states = palloc(list_length(entry->planned) * sizeof(ExprState *));
	foreach(lc, entry->planned)
		states[foreach_current_index(lc)] =
			ExecInitExprWithParams((Expr *) lfirst(lc), entry->params);
	MemoryContextSwitchTo(oldcxt);
	entry->exprs = states;
	entry->nexprs = list_length(entry->planned);
	entry->states_user = GetUserId();
}

/*
 * Compile the call "funcoid($1)" of a paths function returning text or
 * text[], $1 being a row of type rowtype, into entry->exprs.
 * expression_planner inlines a simple SQL function and folds what it can.
 * The usual body, ARRAY['/a/' || $1.x, ...], becomes one expression per
 * element: the same paths (NULL elements skipped) without building the
 * array and taking it apart again for every row.  When every element is a
 * concatenation of constants and columns of $1, they become path templates
 * instead (regdesc describes rowtype).
 */
static void
regcache_build_expr(RegEntry *entry, Oid funcoid, Oid rowtype, TupleDesc regdesc)
{
	Oid			rettype = get_func_rettype(funcoid);
	Param	   *param = makeNode(Param);
	FuncExpr   *call;
	Expr	   *planned;
	List	   *exprs;
	List	   *relids = NIL;
	List	   *deps = NIL;
	ListCell   *lc;
	MemoryContext oldcxt;

	param->paramkind = PARAM_EXTERN;
	param->paramid = 1;
	param->paramtype = rowtype;
	param->paramtypmod = -1;
	param->paramcollid = InvalidOid;
	param->location = -1;
	call = makeFuncExpr(funcoid, rettype, list_make1(param),
						DEFAULT_COLLATION_OID, InvalidOid, COERCE_EXPLICIT_CALL);

	oldcxt = MemoryContextSwitchTo(entry->cxt);
	planned = expression_planner_with_deps((Expr *) call, &relids, &deps);
	foreach(lc, deps)
	{
		PlanInvalItem *item = lfirst_node(PlanInvalItem, lc);

		/* A domain with no constraint yet was planned away (see the callback). */
		if (item->cacheId == TYPEOID)
			entry->domains = lappend_int(entry->domains, (int) item->hashValue);
	}
	entry->params = makeParamList(1);
	entry->params->params[0].ptype = rowtype;
	entry->params->params[0].pflags = 0;
	entry->returns_array = (rettype == TEXTARRAYOID);
	if (IsA(planned, ArrayExpr) && !((ArrayExpr *) planned)->multidims &&
		((ArrayExpr *) planned)->element_typeid == TEXTOID &&
		((ArrayExpr *) planned)->elements != NIL)
	{
		exprs = ((ArrayExpr *) planned)->elements;
		entry->returns_array = false;
	}
	else
		exprs = list_make1(planned);
	entry->read_only = (func_volatile(funcoid) != PROVOLATILE_VOLATILE);
	entry->search_path = GetOverrideSearchPath(entry->cxt);

	/* Concatenations of constants and columns: templates, evaluated in C. */
	if (!entry->returns_array && regcache_exprs_as_templates(entry, exprs, regdesc))
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	foreach(lc, exprs)
		(void) regcache_domains_walker(lfirst(lc), entry);
	entry->econtext = CreateStandaloneExprContext();
	entry->econtext->ecxt_param_list_info = entry->params;
	entry->planned = exprs;
	MemoryContextSwitchTo(oldcxt);
	regcache_init_states(entry);
}

/*
 * Evaluate states[0..nstates-1], which read their row from params, on the
 * row value in econtext and add the paths they return; the per-tuple memory
 * of econtext is reset at the end.
 */
static void
regcache_eval_states(RegEntry *entry, ExprState **states, int nstates,
					 ExprContext *econtext, ParamListInfo params,
					 HeapTuple tuple, TupleDesc desc)
{
	MemoryContext oldcxt;
	Datum		result;
	bool		isnull;

	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	params->params[0].value = heap_copy_tuple_as_datum(tuple, desc);
	params->params[0].isnull = false;
	for (int i = 0; i < nstates; i++)
	{
		result = ExecEvalExpr(states[i], econtext, &isnull);
		if (isnull)
			continue;
		if (entry->returns_array)
			dumper_pathset_add_array(DatumGetArrayTypeP(result));
		else
		{
			text	   *t = DatumGetTextPP(result);

			dumper_pathset_add(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
	}
	MemoryContextSwitchTo(oldcxt);
	ResetExprContext(econtext);
}

/*
 * Evaluate the entry's planned expressions on a row while an evaluation of
 * the same entry is under way further up the stack (its paths function
 * wrote to this table): with states, parameter and per-tuple memory of its
 * own, because the outer evaluation's are in use -- overwriting its $1 or
 * resetting its memory would give the outer row the nested row's paths and
 * leave it reading freed memory.  Built and freed per nested row; only
 * nested writes pay for it.  On error, the memory context, a child of the
 * caller's, goes with it.
 */
static pg_noinline void
regcache_gather_expr_nested(RegEntry *entry, HeapTuple tuple, TupleDesc desc)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "dumper nested evaluation",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	ParamListInfo params = makeParamList(1);
	ExprContext *econtext = CreateStandaloneExprContext();
	ExprState **states = palloc(list_length(entry->planned) * sizeof(ExprState *));
	ListCell   *lc;

	params->params[0].ptype = entry->params->params[0].ptype;
	params->params[0].pflags = 0;
	params->params[0].isnull = true;
	econtext->ecxt_param_list_info = params;
	foreach(lc, entry->planned)
		states[foreach_current_index(lc)] =
			ExecInitExprWithParams((Expr *) lfirst(lc), params);
	MemoryContextSwitchTo(oldcxt);
	regcache_eval_states(entry, states, list_length(entry->planned), econtext,
						 params, tuple, desc);
	FreeExprContext(econtext, true);
	MemoryContextDelete(cxt);
}

/*
 * Evaluate the entry's compiled expressions on the row value and add the
 * paths they return.  The cached states serve the outermost evaluation of
 * the entry only; a nested one (in_use counts this one too) gets its own.
 */
static inline void
regcache_gather_expr(RegEntry *entry, HeapTuple tuple, TupleDesc desc)
{
	if (unlikely(entry->in_use > 1))
		regcache_gather_expr_nested(entry, tuple, desc);
	else
		regcache_eval_states(entry, entry->exprs, entry->nexprs,
							 entry->econtext, entry->params, tuple, desc);
}

/*
 * Find the columns of rel the entry's paths depend on, when they are
 * known: those its templates read, or those its compiled expressions read
 * (through field selections of the row, with no volatile function).  A
 * SETOF function's plan, or an expression that uses the row as a whole,
 * may depend on anything.  Numbered as in rel, through the partition map.
 */
static void
regcache_find_keyatts(RegEntry *entry)
{
	Bitmapset  *cols = NULL;
	AttrNumber *keyatts;
	int			n = 0;
	int			col = -1;
	ListCell   *lc;

	if (entry->ntemplates > 0)
		dumper_template_columns(entry->templates, entry->ntemplates, &cols);
	else if (entry->planned != NIL)
	{
		foreach(lc, entry->planned)
			if (!dumper_expr_row_columns(lfirst(lc), &cols))
				return;
	}
	else
		return;
	keyatts = MemoryContextAlloc(entry->cxt, (bms_num_members(cols) + 1) * sizeof(AttrNumber));
	while ((col = bms_next_member(cols, col)) >= 0)
	{
		AttrNumber	attnum = (AttrNumber) col;

		if (entry->map != NULL)
			attnum = (col <= entry->map->attrMap->maplen) ?
				entry->map->attrMap->attnums[col - 1] : 0;
		if (attnum <= 0)
			return;
		keyatts[n++] = attnum;
	}
	entry->keyatts = keyatts;
	entry->nkeyatts = n;
}

/*
 * Whether two versions of a row of a table with descriptor desc agree on
 * the columns atts[0..natts-1]: each NULL in both, or holding the same
 * bytes in both.  Equal values stored differently (compressed in one
 * version only) merely fail the test; a TOASTed value is compared by its
 * pointer, never fetched.  Shared with join.c.
 */
bool
dumper_same_columns(TupleDesc desc, const AttrNumber *atts, int natts,
					HeapTuple oldtuple, HeapTuple newtuple)
{
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, atts[i] - 1);
		bool		oldnull,
					newnull;
		Datum		oldval = heap_getattr(oldtuple, atts[i], desc, &oldnull);
		Datum		newval = heap_getattr(newtuple, atts[i], desc, &newnull);

		if (oldnull != newnull)
			return false;
		if (!oldnull && !datumIsEqual(oldval, newval, att->attbyval, att->attlen))
			return false;
	}
	return true;
}

/*
 * Whether the new row version of an UPDATE of rel is known to give the
 * paths the old one gave, so that they need not be computed again: when
 * every column the paths depend on (regcache_find_keyatts) is the same in
 * both (dumper_same_columns; the usual UPDATE, which sets a price and
 * leaves the slug).  The same bytes give the same paths, as both versions
 * are evaluated at the same moment under the same settings.
 */
static bool
regcache_same_paths(RegEntry *entry, Relation rel, HeapTuple oldtuple,
					HeapTuple newtuple)
{
	if (entry->nkeyatts < 0)
		return false;
	return dumper_same_columns(RelationGetDescr(rel), entry->keyatts,
							   entry->nkeyatts, oldtuple, newtuple);
}

/*
 * (Re)build the entry of rel: find the registration covering it and either
 * compile its templates or keep a plan that calls its paths function.  Must
 * be called inside SPI.
 */
static void
regcache_build(RegEntry *entry, Relation rel)
{
	DumperRegistration reg;
	Oid			regrelid;
	Oid			argtype;
	char	   *expr;
	char	   *query;
	SPIPlanPtr	plan;
	MemoryContext oldcxt;
	TupleDesc	regdesc;
	Relation	regrel = NULL;

	if (entry->plan != NULL)
		SPI_freeplan(entry->plan);
	entry->plan = NULL;
	if (entry->econtext != NULL)
		FreeExprContext(entry->econtext, true);
	entry->econtext = NULL;
	entry->nexprs = 0;
	entry->exprs = NULL;
	entry->planned = NIL;
	entry->states_user = InvalidOid;
	entry->states_cxt = NULL;	/* a child of cxt, reset below */
	entry->params = NULL;
	entry->map = NULL;
	entry->regdesc = NULL;
	entry->ntemplates = 0;
	entry->templates = NULL;
	entry->outfuncs = NULL;
	entry->nkeyatts = -1;
	entry->keyatts = NULL;
	entry->search_path = NULL;
	entry->domains = NIL;
	if (entry->cxt != NULL)
		MemoryContextReset(entry->cxt);
	else
		entry->cxt = AllocSetContextCreate(CacheMemoryContext, "dumper registration",
										   ALLOCSET_SMALL_SIZES);

	/*
	 * Valid from now on: an invalidation that arrives while we build (the
	 * catalog reads below accept them) marks it invalid again.  An error
	 * leaves plan and templates unset, which also means "rebuild".
	 */
	entry->valid = true;
	entry->funcname[0] = '\0';
	snprintf(entry->relname, sizeof(entry->relname), "%s",
			 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										RelationGetRelationName(rel)));

	regrelid = dumper_registered_table(RelationGetRelid(rel), &reg);
	if (!OidIsValid(regrelid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has a dumper trigger but is not registered",
						entry->relname),
				 errhint("Register it with dumper_register('%s'), or drop the trigger.",
						 entry->relname)));

	regdesc = RelationGetDescr(rel);
	if (regrelid != RelationGetRelid(rel))
	{
		/* A partition: convert its rows to the registered table's row type. */
		regrel = table_open(regrelid, AccessShareLock);
		oldcxt = MemoryContextSwitchTo(entry->cxt);
		entry->regdesc = CreateTupleDescCopy(RelationGetDescr(regrel));
		entry->map = convert_tuples_by_name(RelationGetDescr(rel), entry->regdesc);
		MemoryContextSwitchTo(oldcxt);
		regdesc = entry->regdesc;
	}

	if (reg.templates != NIL)
	{
		ListCell   *lc;
		int			n = list_length(reg.templates);
		DumperTemplate **templates;

		oldcxt = MemoryContextSwitchTo(entry->cxt);
		templates = palloc(n * sizeof(DumperTemplate *));
		foreach(lc, reg.templates)
			templates[foreach_current_index(lc)] =
				dumper_template_compile(lfirst(lc), regdesc,
										get_rel_name(regrelid));
		entry->outfuncs = dumper_template_prepare_output(templates, n, regdesc, entry->cxt);
		MemoryContextSwitchTo(oldcxt);
		snprintf(entry->funcname, sizeof(entry->funcname), "path templates");
		entry->templates = templates;
		entry->ntemplates = n;
	}
	else if (get_func_retset(reg.funcoid))
	{
		argtype = get_rel_type_id(regrelid);
		expr = dumper_paths_expr(&reg, regrelid, "$1", &entry->read_only);
		snprintf(entry->funcname, sizeof(entry->funcname), "%s",
				 format_procedure(reg.funcoid));
		query = psprintf("SELECT %s", expr);
		plan = SPI_prepare(query, 1, &argtype);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare(\"%s\") failed: %s",
				 query, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		entry->plan = plan;
	}
	else
	{
		snprintf(entry->funcname, sizeof(entry->funcname), "%s",
				 format_procedure(reg.funcoid));
		regcache_build_expr(entry, reg.funcoid, get_rel_type_id(regrelid), regdesc);
	}
	if (regrel != NULL)
		table_close(regrel, AccessShareLock);
	entry->regrelid = regrelid;
	entry->funcoid = reg.funcoid;
	entry->exec_user = InvalidOid;
	regcache_find_keyatts(entry);
}

/*
 * Whether entry must be (re)built before use: never built (or its build
 * failed) or invalidated.  One compiled under another search_path (the
 * names in its inlined body may resolve differently, as a plan cache would
 * notice) is never returned by regcache_lookup unless invalidated first.
 * Another role only needs new expression states (regcache_init_states).  An
 * entry being evaluated further up the stack (the paths function wrote to a
 * registered table) is not rebuilt under it: the nested write uses it as it
 * is.
 */
static bool
regcache_stale(RegEntry *entry)
{
	if (entry->plan == NULL && entry->nexprs == 0 && entry->ntemplates == 0)
		return true;
	return entry->in_use == 0 && !entry->valid;
}

/*
 * The writing role needs EXECUTE on the paths function, as for a direct
 * call, whichever role built the entry: checked again whenever the role
 * changes (SET ROLE, a SECURITY DEFINER function), and after any change to
 * pg_proc (a REVOKE), which rebuilds the entry.
 */
static void
regcache_check_execute(RegEntry *entry)
{
	Oid			userid = GetUserId();
	AclResult	aclresult;

	if (!OidIsValid(entry->funcoid) || entry->exec_user == userid)
		return;
	aclresult = pg_proc_aclcheck(entry->funcoid, userid, ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(entry->funcoid));
	entry->exec_user = userid;
}

/* Evaluate the templates of entry on one row of rel. */
static void
regcache_gather_templates(RegEntry *entry, Relation rel, HeapTuple tuple)
{
	if (entry->regdesc == NULL)
		dumper_template_gather(entry->templates, entry->ntemplates, tuple,
							   RelationGetDescr(rel), entry->outfuncs);
	else
		dumper_template_gather(entry->templates, entry->ntemplates,
							   entry->map ? execute_attr_map_tuple(tuple, entry->map) : tuple,
							   entry->regdesc, entry->outfuncs);
}

/* Error context: which table and function were producing paths. */
static void
regcache_error_callback(void *arg)
{
	RegEntry   *entry = (RegEntry *) arg;

	if (entry->funcname[0] != '\0')
		errcontext("gathering invalidation paths of table %s with %s",
				   entry->relname, entry->funcname);
	else
		errcontext("gathering invalidation paths of table %s", entry->relname);
}

/* Whether a dropped table's entry must stay (tablecache.c): valid, or in use. */
static bool
regcache_keep(void *entry)
{
	RegEntry   *e = (RegEntry *) entry;

	return e->valid || e->in_use > 0;
}

/* Free what an entry owns, before tablecache.c removes it. */
static void
regcache_release(void *entry)
{
	RegEntry   *e = (RegEntry *) entry;

	if (e->plan != NULL)
		SPI_freeplan(e->plan);
	if (e->econtext != NULL)
		FreeExprContext(e->econtext, true);
	if (e->cxt != NULL)
		MemoryContextDelete(e->cxt);
}

/*
 * Add the paths of one row of rel to the transaction's set, with entry
 * built.
 */
static void
regcache_evaluate(RegEntry *entry, Relation rel, HeapTuple tuple)
{
	Datum		value;

	/* The fast paths: templates and compiled calls need no SPI. */
	if (entry->ntemplates > 0)
		regcache_gather_templates(entry, rel, tuple);
	else if (entry->nexprs > 0)
	{
		if (entry->regdesc == NULL)
			regcache_gather_expr(entry, tuple, RelationGetDescr(rel));
		else
			regcache_gather_expr(entry,
								 entry->map ? execute_attr_map_tuple(tuple, entry->map) : tuple,
								 entry->regdesc);
	}
	else
	{
		SPI_connect();
		if (entry->regdesc == NULL)
			value = heap_copy_tuple_as_datum(tuple, RelationGetDescr(rel));
		else if (entry->map == NULL)
			value = heap_copy_tuple_as_datum(tuple, entry->regdesc);
		else
			value = heap_copy_tuple_as_datum(execute_attr_map_tuple(tuple, entry->map),
											 entry->regdesc);
		dumper_gather_plan(entry->plan, &value, " ", entry->read_only);
		SPI_finish();
	}
}

/*
 * The entry of variant v of rel, created empty (not valid, nothing built)
 * when new.
 */
static RegEntry *
regcache_entry(Relation rel, int variant)
{
	RegKey		key = {RelationGetRelid(rel), variant};
	RegEntry   *entry;
	bool		found;

	entry = dumper_tablecache_enter(&regcache_tables, &key, &found);
	if (!found)
	{
		/* All zeros: not valid, nothing built, no context yet. */
		snprintf(entry->relname, sizeof(entry->relname), "%s",
				 RelationGetRelationName(rel));
	}
	return entry;
}

/*
 * The entry to use for rel: variant 0, unless it was compiled under another
 * search_path than the current one (and is neither invalid nor running):
 * then the variant compiled under the current one, else a free variant, else
 * the variants in turn, invalidated so that it is compiled under it.  Each
 * row compares the search_path here only.
 */
static pg_noinline RegEntry *
regcache_lookup(Relation rel)
{
	RegEntry   *first = regcache_entry(rel, 0);
	RegEntry   *entry;
	RegKey		key = {RelationGetRelid(rel), 0};

	if (first->search_path == NULL || first->in_use > 0 || !first->valid ||
		OverrideSearchPathMatchesCurrent(first->search_path))
		return first;
	for (key.variant = 1; key.variant < REGCACHE_VARIANTS; key.variant++)
	{
		entry = hash_search(regcache_tables.htab, &key, HASH_FIND, NULL);
		if (entry == NULL || entry->search_path == NULL ||
			OverrideSearchPathMatchesCurrent(entry->search_path))
			return regcache_entry(rel, key.variant);
	}
	first->next_variant = first->next_variant % (REGCACHE_VARIANTS - 1) + 1;
	entry = regcache_entry(rel, first->next_variant);
	entry->valid = false;
	return entry;
}

/*
 * Add the paths of one row of rel to the transaction's set, and of a second
 * one when newtuple is not NULL (an UPDATE's new version) unless it is
 * known to give the same paths: one lookup and one set of checks serve both.
 */
void
dumper_regcache_gather(Relation rel, HeapTuple tuple, HeapTuple newtuple)
{
	RegEntry   *entry = regcache_lookup(rel);
	ErrorContextCallback errcallback;

	errcallback.callback = regcache_error_callback;
	errcallback.arg = entry;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (regcache_stale(entry))
	{
		SPI_connect();
		regcache_build(entry, rel);
		SPI_finish();
	}
	else if (entry->nexprs > 0 && entry->in_use == 0 &&
			 entry->states_user != GetUserId())
		regcache_init_states(entry);
	regcache_check_execute(entry);

	/* Not rebuilt under itself while it runs, even if the run fails. */
	entry->in_use++;
	PG_TRY();
	{
		regcache_evaluate(entry, rel, tuple);
		if (newtuple != NULL && !regcache_same_paths(entry, rel, tuple, newtuple))
			regcache_evaluate(entry, rel, newtuple);
	}
	PG_FINALLY();
	{
		entry->in_use--;
	}
	PG_END_TRY();
	error_context_stack = errcallback.previous;
}
