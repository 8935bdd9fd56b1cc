/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  dumper_register() and dumper_unregister(): the registration table and
 *	  the triggers.
 *
 * Registering validates everything a later write would otherwise trip on
 * (object kind, ownership, the paths function's argument and return types,
 * EXECUTE privilege), upserts the row of dumper.registration and creates the
 * AFTER row trigger "dumper_row" once.  Every change sends a relcache
 * invalidation for the table so that all backends rebuild their cached
 * registration (regcache.c).
 *
 * Privileges: the caller must own the table (or be a superuser), checked
 * with the caller's identity; the registration table itself is written as
 * the extension's owner, since ordinary roles have no privilege on it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/catalog.h"
#include "catalog/objectaddress.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "dumper.h"

/* Name of the row trigger dumper installs on registered tables. */
#define DUMPER_ROW_TRIGGER	"dumper_row"

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

/* The OID of dumper.trigger(). */
static Oid
registry_trigger_function(void)
{
	List	   *name = list_make2(makeString(DUMPER_SCHEMA), makeString("trigger"));

	return LookupFuncName(name, 0, NULL, false);
}

/*
 * Open relid and check that it is something dumper can register and that
 * the caller owns it.  Returns the relation, locked as CREATE TRIGGER locks.
 */
static Relation
registry_open_table(Oid relid)
{
	Relation	rel;
	char		relkind;
	const char *relname;

	rel = try_relation_open(relid, ShareRowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relkind = rel->rd_rel->relkind;
	relname = RelationGetRelationName(rel);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
	{
		const char *what;

		switch (relkind)
		{
			case RELKIND_VIEW:
				what = "a view";
				break;
			case RELKIND_MATVIEW:
				what = "a materialized view";
				break;
			case RELKIND_SEQUENCE:
				what = "a sequence";
				break;
			case RELKIND_FOREIGN_TABLE:
				what = "a foreign table";
				break;
			case RELKIND_INDEX:
			case RELKIND_PARTITIONED_INDEX:
				what = "an index";
				break;
			case RELKIND_COMPOSITE_TYPE:
				what = "a composite type";
				break;
			default:
				what = "not a table";
				break;
		}
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot register \"%s\" because it is %s", relname, what),
				 errdetail("dumper registers tables and partitioned tables only.")));
	}
	if (IsCatalogRelation(rel) || IsSystemRelation(rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot register \"%s\" because it is a system catalog",
						relname)));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot register temporary table \"%s\"", relname),
				 errdetail("A registration outlives the session; a temporary table does not.")));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot register \"%s\" because it is a partition", relname),
				 errhint("Register its partitioned table \"%s\" instead; that covers every partition.",
						 get_rel_name(get_partition_parent(relid, false)))));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, relname);
	return rel;
}

/*
 * Find or check the paths function of rel: funcoid when given, otherwise
 * dependent_paths(<row type of rel>).  It must take exactly the row type and
 * return text, text[] or SETOF text, and the caller must be able to run it.
 */
static Oid
registry_paths_function(Relation rel, Oid funcoid)
{
	Oid			rowtype = rel->rd_rel->reltype;
	const char *relname = RelationGetRelationName(rel);
	HeapTuple	proctup;
	Form_pg_proc procform;
	AclResult	aclresult;

	if (!OidIsValid(funcoid))
	{
		funcoid = LookupFuncName(list_make1(makeString("dependent_paths")),
								 1, &rowtype, true);
		if (!OidIsValid(funcoid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("function dependent_paths(%s) does not exist",
							format_type_be(rowtype)),
					 errhint("Create a function dependent_paths(%s) returning text, text[] or SETOF text, "
							 "or pass a paths function to dumper_register().",
							 format_type_be(rowtype))));
	}

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(proctup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", funcoid)));
	procform = (Form_pg_proc) GETSTRUCT(proctup);

	if (procform->prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a plain function", format_procedure(funcoid)),
				 errdetail("A paths function cannot be a procedure, an aggregate or a window function.")));
	if (procform->pronargs != 1 || procform->proargtypes.values[0] != rowtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("paths function %s must take exactly one argument of type %s",
						format_procedure(funcoid), format_type_be(rowtype)),
				 errdetail("The argument is a row of table \"%s\".", relname)));
	if (!((procform->prorettype == TEXTOID) ||
		  (procform->prorettype == TEXTARRAYOID && !procform->proretset)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("paths function %s must return text, text[] or SETOF text",
						format_procedure(funcoid)),
				 errdetail("It returns %s%s.",
						   procform->proretset ? "SETOF " : "",
						   format_type_be(procform->prorettype))));
	ReleaseSysCache(proctup);

	aclresult = pg_proc_aclcheck(funcoid, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(funcoid));
	return funcoid;
}

/*
 * Run an internal statement on the registration table as the extension's
 * owner, with a pinned search_path-free SQL text.
 */
static void
registry_execute(const char *sql, int nargs, Oid *argtypes, Datum *args,
				 const char *nulls, int expected)
{
	Oid			save_userid;
	int			save_sec_context;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(dumper_internal_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
}

/*
 * Create the row trigger on rel unless it exists.  A partitioned table's
 * trigger is cloned onto every partition, present and future.
 */
static void
registry_create_trigger(Relation rel)
{
	CreateTrigStmt *stmt;
	Oid			relid = RelationGetRelid(rel);

	if (OidIsValid(get_trigger_oid(relid, DUMPER_ROW_TRIGGER, true)))
		return;

	stmt = makeNode(CreateTrigStmt);
	stmt->replace = false;
	stmt->isconstraint = false;
	stmt->trigname = DUMPER_ROW_TRIGGER;
	stmt->relation = makeRangeVar(get_namespace_name(RelationGetNamespace(rel)),
								  pstrdup(RelationGetRelationName(rel)), -1);
	stmt->funcname = list_make2(makeString(DUMPER_SCHEMA), makeString("trigger"));
	stmt->args = NIL;
	stmt->row = true;
	stmt->timing = TRIGGER_TYPE_AFTER;
	stmt->events = TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE;
	stmt->columns = NIL;
	stmt->whenClause = NULL;
	stmt->transitionRels = NIL;
	stmt->deferrable = false;
	stmt->initdeferred = false;
	stmt->constrrel = NULL;

	CreateTrigger(stmt, NULL, relid, InvalidOid, InvalidOid, InvalidOid,
				  registry_trigger_function(), InvalidOid, NULL, false, false);
	CommandCounterIncrement();
}

PG_FUNCTION_INFO_V1(dumper_register);

/*
 * dumper_register(tbl regclass, paths regproc DEFAULT NULL,
 *				   templates text[] DEFAULT NULL)
 *
 * Register tbl, or replace its registration.
 */
Datum
dumper_register(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Oid			funcoid;
	Relation	rel;
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		args[2];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table to register must not be NULL")));
	relid = PG_GETARG_OID(0);
	funcoid = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);

	if (!PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("path templates are not supported yet"),
				 errhint("Register the table with a paths function.")));

	rel = registry_open_table(relid);
	funcoid = registry_paths_function(rel, funcoid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = ObjectIdGetDatum(relid);
	args[1] = ObjectIdGetDatum(funcoid);
	registry_execute("DELETE FROM dumper.registration"
					 " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					 1, argtypes, args, NULL, SPI_OK_DELETE);
	registry_execute("INSERT INTO dumper.registration (tbl, paths)"
					 " VALUES ($1::pg_catalog.regclass, $2::pg_catalog.regprocedure)",
					 2, argtypes, args, NULL, SPI_OK_INSERT);
	SPI_finish();

	registry_create_trigger(rel);
	CacheInvalidateRelcache(rel);
	table_close(rel, NoLock);

	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dumper_unregister);

/*
 * dumper_unregister(tbl regclass): drop the trigger and the registration.
 */
Datum
dumper_unregister(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	Oid			trigoid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	rel = try_relation_open(relid, ShareRowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = ObjectIdGetDatum(relid);
	registry_execute("DELETE FROM dumper.registration"
					 " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					 1, argtypes, args, NULL, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" is not registered with dumper",
						RelationGetRelationName(rel)),
				 errhint("The view dumper_registrations lists registered tables.")));
	SPI_finish();

	trigoid = get_trigger_oid(relid, DUMPER_ROW_TRIGGER, true);
	if (OidIsValid(trigoid))
	{
		ObjectAddress trigaddr;

		ObjectAddressSet(trigaddr, TriggerRelationId, trigoid);
		performDeletion(&trigaddr, DROP_RESTRICT, 0);
		CommandCounterIncrement();
	}
	CacheInvalidateRelcache(rel);
	table_close(rel, NoLock);

	PG_RETURN_VOID();
}
