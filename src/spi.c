/*-------------------------------------------------------------------------
 *
 * spi.c
 *	  Running dumper's own statements: as the extension's owner, under a
 *	  pinned search_path; and the SPI helpers several files share (a query
 *	  of oids, the paths a query returns added to the transaction's set).
 *
 * Ordinary roles have no privilege on schema dumper, so the statements that
 * read or write its tables on their behalf (registering, the DDL event
 * triggers, the worker) run as the extension's owner, a superuser.  Every
 * such statement runs inside a DumperOwnerScope, the one place where the
 * identity changes, and which does what PostgreSQL's own maintenance
 * commands do around a table owner's code:
 *
 *	- the role is the extension's owner, with SECURITY_RESTRICTED_OPERATION
 *	  (no SET ROLE, no temporary objects), and
 *	- search_path is "pg_catalog, pg_temp" in a GUC nest level of its own,
 *	  undone on exit (and by any abort, with the identity).
 *
 * So no operator or function of another role's schema can be picked by
 * name resolution, whatever the caller's search_path, ALTER ROLE or ALTER
 * DATABASE settings: a row comparison (a, b) = (c, d), IS DISTINCT FROM or
 * an unqualified function would otherwise resolve through the caller's
 * search_path and run that role's code as a superuser.  The statements also
 * name every object and operator with its schema, so that they mean the
 * same under any search_path; the pin is what keeps a statement that forgot
 * one safe.  Statements that run as the caller (reading a table to gather
 * its paths) pin search_path the same way without changing the identity
 * (dumper_query_oids).
 *
 * Errors: a statement may ereport; the transaction's (or subtransaction's)
 * abort restores the identity and the GUC nest level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "capture.h"
#include "dumper.h"
#include "spi.h"

/* The search_path of every statement dumper runs. */
#define SPI_SEARCH_PATH	"pg_catalog, pg_temp"

/*
 * Pin search_path for the statements that follow, in a GUC nest level of
 * its own; returns the level to give to dumper_unpin_search_path.
 */
int
dumper_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", SPI_SEARCH_PATH, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* Undo dumper_pin_search_path. */
void
dumper_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

/*
 * Become the extension's owner, restricted, under the pinned search_path,
 * until dumper_owner_exit(scope).
 */
void
dumper_owner_enter(DumperOwnerScope *scope)
{
	Oid			owner = dumper_internal_owner();

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(owner, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->save_nestlevel = dumper_pin_search_path();
}

/* Leave the scope dumper_owner_enter opened. */
void
dumper_owner_exit(DumperOwnerScope *scope)
{
	dumper_unpin_search_path(scope->save_nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

/*
 * Run query, a read of one of dumper's tables with $1 an OID, as the
 * extension's owner, with the latest snapshot rather than the
 * transaction's, for at most one row: dumper's tables are read like
 * catalogs (registration.c says why).  The caller is connected to SPI and
 * reads SPI_tuptable; returns the number of rows, 0 or 1.
 */
uint64
dumper_read_by_oid(const char *query, Oid oid)
{
	DumperOwnerScope scope;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	int			ret;

	args[0] = ObjectIdGetDatum(oid);
	dumper_owner_enter(&scope);
	PushActiveSnapshot(GetLatestSnapshot());
	ret = SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 1);
	PopActiveSnapshot();
	dumper_owner_exit(&scope);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * Run an internal statement (SQL text naming every object and operator with
 * its schema) on dumper's tables as the extension's owner, inside SPI;
 * ereport unless SPI returns expected.
 */
void
dumper_execute_as_owner(const char *sql, int nargs, Oid *argtypes, Datum *args,
						const char *nulls, int expected)
{
	DumperOwnerScope scope;
	int			ret;

	dumper_owner_enter(&scope);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0);
	dumper_owner_exit(&scope);
	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
}

/*
 * The role that owns dumper's internal tables: the owner of
 * dumper.registration, i.e. whoever created the extension.
 */
Oid
dumper_internal_owner(void)
{
	Oid			nspid = get_namespace_oid(DUMPER_SCHEMA, false);
	Oid			relid = get_relname_relid("registration", nspid);
	HeapTuple	tuple;
	Oid			owner;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("dumper's registration table does not exist"),
				 errhint("Run CREATE EXTENSION dumper in this database.")));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Run a read-only query (of the catalogs, as the caller, under the pinned
 * search_path of this file) with one oid parameter $1 (or none, when
 * param is InvalidOid) whose first column is an oid; return the oids in a list
 * allocated in the caller's memory context (SPI's is gone after
 * SPI_finish).
 */
List *
dumper_query_oids(const char *sql, Oid param)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	List	   *result = NIL;
	int			ret;
	int			nestlevel;
	MemoryContext caller_cxt = CurrentMemoryContext;

	args[0] = ObjectIdGetDatum(param);
	SPI_connect();
	nestlevel = dumper_pin_search_path();
	ret = SPI_execute_with_args(sql, OidIsValid(param) ? 1 : 0, argtypes, args,
								NULL, true, 0);
	dumper_unpin_search_path(nestlevel);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	result = dumper_tuptable_oids(caller_cxt);
	SPI_finish();
	return result;
}

/*
 * The first column (an oid) of every row of the last SPI result, in a list
 * allocated in cxt (SPI's memory is gone after SPI_finish).
 */
List *
dumper_tuptable_oids(MemoryContext cxt)
{
	List	   *result = NIL;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1,
														 &isnull));
		MemoryContext spi_cxt = MemoryContextSwitchTo(cxt);

		result = lappend_oid(result, oid);
		MemoryContextSwitchTo(spi_cxt);
	}
	return result;
}

/* schema.name of relation relid, quoted as SQL text and messages need it. */
char *
dumper_qualified_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* The text in the first column of row i of SPI_tuptable, or NULL. */
text *
dumper_tuptable_text(uint64 i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  1, &isnull);

	return isnull ? NULL : DatumGetTextPP(d);
}

/*
 * Add every non-NULL text in the first column of SPI_tuptable to the
 * transaction's set.
 */
void
dumper_gather_tuptable(void)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		text	   *t = dumper_tuptable_text(i);

		if (t != NULL)
			dumper_pathset_add(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
}

/*
 * The receiver of dumper_gather_plan: adds the first column of each row to
 * the transaction's set as the row comes out of the executor.  Stateless,
 * so one serves every call, nested ones included.
 */
static bool
spi_receive_path(TupleTableSlot *slot, DestReceiver *self pg_attribute_unused())
{
	bool		isnull;
	Datum		d = slot_getattr(slot, 1, &isnull);
	text	   *t;

	if (isnull)
		return true;
	t = DatumGetTextPP(d);
	dumper_pathset_add(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if ((Pointer) t != DatumGetPointer(d))
		pfree(t);				/* detoasted: the query's context lives on */
	return true;
}

/* Nothing to set up, finish or free: the receiver holds no state. */
static void
spi_receive_startup(DestReceiver *self pg_attribute_unused(),
						 int operation pg_attribute_unused(),
						 TupleDesc typeinfo pg_attribute_unused())
{
}

/* As spi_receive_startup. */
static void
spi_receive_nothing(DestReceiver *self pg_attribute_unused())
{
}

/*
 * mydest is DestNone only because no other tag fits a receiver of an
 * extension's; SPI then reports SPI_OK_UTILITY for the SELECT.
 */
static DestReceiver spi_path_receiver = {
	spi_receive_path,
	spi_receive_startup,
	spi_receive_nothing,
	spi_receive_nothing,
	DestNone
};

/*
 * Run plan, a kept plan of a SELECT whose first column is text, with
 * parameters values (nulls as for SPI_execute_plan), and add every
 * non-NULL text it returns to the transaction's set.  The rows are added as
 * the executor produces them, never gathered in SPI_tuptable: a SETOF paths
 * function returning millions of paths takes memory for one at a time (its
 * own work_mem aside) and the set, which dumper.work_mem bounds.  Costs no
 * more than SPI_execute_plan (no portal, no tuple table).  Must be called
 * inside SPI.
 */
void
dumper_gather_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only)
{
	int			nargs = SPI_getargcount(plan);
	SPIExecuteOptions options;
	int			ret;

	memset(&options, 0, sizeof(options));
	if (nargs > 0)
	{
		options.params = makeParamList(nargs);
		for (int i = 0; i < nargs; i++)
		{
			ParamExternData *prm = &options.params->params[i];

			prm->value = values[i];
			prm->isnull = (nulls[i] == 'n');
			prm->pflags = PARAM_FLAG_CONST;
			prm->ptype = SPI_getargtypeid(plan, i);
		}
	}
	options.read_only = read_only;
	options.dest = &spi_path_receiver;
	ret = SPI_execute_plan_extended(plan, &options);
	if (ret != SPI_OK_UTILITY && ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
}
