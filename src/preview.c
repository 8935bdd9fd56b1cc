/*-------------------------------------------------------------------------
 *
 * preview.c
 *	  dumper_paths_of(row): the paths a write of a row would invalidate,
 *	  shown without writing it.
 *
 * A developer registering a table wants to see which pages a row maps to
 * before any write, whether the table is registered with a paths function
 * or with path templates.  dumper_paths_of(t) takes a row of a registered
 * table (or of a partition of one, converted to the registered row type by
 * column name, as the trigger does) and returns the paths the row trigger
 * would add for it: one row per path, in the order the function or the
 * templates give them, NULL and empty paths left out, as the trigger
 * leaves them out.  It adds nothing to the transaction's set and queues
 * nothing.
 *
 * Privileges, the trigger's rules: the registration is read as the
 * extension's owner (registration.c), but the paths function runs as the
 * caller, under the caller's search_path, exactly as the trigger runs it
 * as the writing role; nothing runs with rights the caller does not have.
 * The caller needs SELECT on the row's table (a preview of what its rows
 * map to is a read of that table) and EXECUTE on the paths function, as
 * for a direct call.
 *
 * The paths are computed by the SQL form of the registration
 * (dumper_paths_expr, the form TRUNCATE uses), which gives the same paths
 * as the trigger's compiled form.  Errors: whatever the paths function
 * raises, and a path over DUMPER_MAX_PATH_LEN, as a write would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"

#include "capture.h"
#include "dumper.h"
#include "registration.h"
#include "spi.h"

/* Whether table relid has foreign keys, as a join table has. */
static bool
preview_references(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		result = (dumper_fkey_list(rel) != NIL);

	table_close(rel, AccessShareLock);
	return result;
}

/* Error context: which table's paths were being computed. */
static void
preview_error_callback(void *arg)
{
	errcontext("computing the invalidation paths of a row of table %s",
			   (const char *) arg);
}

PG_FUNCTION_INFO_V1(dumper_paths_of);

/*
 * dumper_paths_of(row anyelement) RETURNS SETOF text: the paths a write of
 * row would invalidate (see the file header).
 */
Datum
dumper_paths_of(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			relid = OidIsValid(rowtype) ? get_typ_typrelid(rowtype) : InvalidOid;
	char		relkind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';
	DumperRegistration reg;
	Oid			regrelid;
	AclResult	aclresult;
	const char *rowexpr;
	char	   *query;
	bool		read_only;
	int			ret;
	ErrorContextCallback errcallback;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("dumper_paths_of() takes a row of a table, not type %s",
						format_type_be(rowtype)),
				 errhint("Pass a row of the table, as in SELECT dumper_paths_of(t) FROM t, or ROW(...)::t.")));

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(relkind), get_rel_name(relid));

	regrelid = dumper_registered_table(relid, &reg);
	if (!OidIsValid(regrelid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not registered with dumper", dumper_qualified_relname(relid)),
				 preview_references(relid) ?
				 errdetail("If it is a join table, a write to it invalidates the paths of the registered rows it references: ask dumper_paths_of() for those rows.") : 0,
				 errhint("Register it with dumper_register().")));

	if (OidIsValid(reg.funcoid))
	{
		aclresult = pg_proc_aclcheck(reg.funcoid, GetUserId(), ACL_EXECUTE);
		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(reg.funcoid));
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	errcallback.callback = preview_error_callback;
	errcallback.arg = dumper_qualified_relname(relid);
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/* $1 itself, or a partition's row as a row of the registered table. */
	rowexpr = (relid == regrelid) ? "$1" : dumper_row_as(regrelid, "($1)");
	query = psprintf("SELECT %s", dumper_paths_expr(&reg, regrelid, rowexpr, &read_only));
	SPI_connect();
	ret = SPI_execute_with_args(query, 1, &rowtype, &PG_GETARG_DATUM(0), NULL,
								read_only, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args(\"%s\") failed: %s",
			 query, SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		text	   *t = dumper_tuptable_text(i);
		Datum		d;
		bool		isnull = false;

		if (t == NULL || VARSIZE_ANY_EXHDR(t) == 0)
			continue;
		if (VARSIZE_ANY_EXHDR(t) > DUMPER_MAX_PATH_LEN)
			dumper_path_too_long(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
								 VARSIZE_ANY_EXHDR(t));
		d = PointerGetDatum(t);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &d, &isnull);
	}
	SPI_finish();
	error_context_stack = errcallback.previous;
	return (Datum) 0;
}
