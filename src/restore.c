/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  The statements of a restore (pg_restore, psql of a pg_dump script)
 *	  that re-create dumper's registrations and triggers.
 *
 * A dump carries dumper's triggers as CREATE TRIGGER statements and the
 * registrations as the data of dumper.registration and dumper.join_table
 * (extension configuration tables).  Two things can stand in their way:
 *
 * 1. dumper itself.  A parallel restore (pg_restore -j) may restore a
 *    registered table's dumper_row before a constraint of that table, of
 *    its partitions or of a join table referencing it: the constraint's
 *    ALTER TABLE then makes dumper's DDL event trigger install the triggers
 *    that table is missing (ddl.c), before the restore's own CREATE TRIGGER
 *    of the same name runs, which would fail.  So at ddl_command_start of a
 *    CREATE TRIGGER that creates one of dumper's triggers -- its name, and
 *    dumper's trigger function for that name -- on a table that already
 *    has dumper's trigger of that name, dumper's is dropped first, and the
 *    statement re-creates it as the dump says.  The result does not depend
 *    on the order: each restored trigger exists once, the restore's own, and
 *    gets its dependency on the paths function at ddl_command_end
 *    (dumper.sync_trigger), as when nothing was installed before it.  Nor on
 *    timing: the look is taken under the lock CREATE TRIGGER takes, so an
 *    ALTER TABLE of the parent installing the trigger on a partition at the
 *    same time (pg_restore runs them at once) is either seen committed or
 *    sees the restore's trigger.
 *
 * 2. privileges.  The triggers execute functions of schema dumper and the
 *    registrations are rows of its tables, which only superusers and the
 *    extension's owner may use.  A restore run by the role that owns the
 *    tables (pg_restore --no-owner into a database where a superuser
 *    created the extension) cannot bring either back; PostgreSQL's own
 *    "permission denied for schema dumper" at those points names nothing a
 *    reader would connect with invalidation.  So those statements fail with
 *    dumper's error instead, naming the table or trigger, with a hint: the
 *    CREATE TRIGGER at ddl_command_start, the COPY into dumper's tables from
 *    the ProcessUtility hook (utility.c; installed with
 *    shared_preload_libraries only, without it PostgreSQL's error stays).
 *    So does, with PostgreSQL's message, the COMMENT ON EXTENSION that comes
 *    first in such a restore, where pg_restore --exit-on-error stops.
 *
 * 3. the order of the data.  A parallel restore may also load the rows of
 *    dumper's tables after the post-data items.  A row of dumper.join_table
 *    for a join table dumper covered meanwhile merges with dumper's (a
 *    trigger on that table, dumper--1.1.sql); no ALTER TABLE drops a
 *    restored dumper_truncate whose registration is still to come (only a
 *    DETACH does, partition.c); and after a COPY into dumper.registration
 *    the restored triggers get the dependency on their paths function that
 *    dumper.sync_trigger could not give them (ProcessUtility hook, so with
 *    shared_preload_libraries only: without it, the next DDL statement or
 *    the worker's pass records it when the function's OID is not the
 *    source's, as in another cluster it seldom is).
 *
 * Rules: nothing is dropped unless the current role owns the table and the
 * trigger in place is dumper's own (it executes a function of schema dumper)
 * and not a partition's clone of its parent's; otherwise the statement
 * meets the existing trigger and fails on its own.  The checks cost a
 * comparison of names for every other CREATE TRIGGER, COPY and COMMENT.
 * Errors: 42501, naming the trigger and table or dumper's table, with a
 * detail saying why and a hint saying what to do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "dumper.h"
#include "registration.h"
#include "spi.h"

/* dumper's triggers and the function each executes. */
static const struct
{
	const char *trigger;
	const char *function;
}			restore_triggers[] = {
	{DUMPER_ROW_TRIGGER, "trigger"},
	{DUMPER_TRUNCATE_TRIGGER, "truncate_trigger"},
	{DUMPER_JOIN_TRIGGER, "join_trigger"},
	{DUMPER_JOIN_TRUNCATE_TRIGGER, "truncate_trigger"},
};

/*
 * The function of schema dumper that stmt executes when stmt creates one of
 * dumper's triggers (the name of a trigger dumper installs, executing the
 * function dumper gives that trigger, as a dump writes it: qualified with
 * the schema); NULL otherwise.
 */
static const char *
restore_dumper_function(const CreateTrigStmt *stmt)
{
	for (int i = 0; i < (int) lengthof(restore_triggers); i++)
	{
		if (strcmp(stmt->trigname, restore_triggers[i].trigger) != 0)
			continue;
		if (list_length(stmt->funcname) == 2 &&
			strcmp(strVal(linitial(stmt->funcname)), DUMPER_SCHEMA) == 0 &&
			strcmp(strVal(lsecond(stmt->funcname)), restore_triggers[i].function) == 0)
			return restore_triggers[i].function;
		return NULL;
	}
	return NULL;
}

/* The name of rv's table as a message shows it: schema-qualified. */
static char *
restore_table_name(const RangeVar *rv, Oid relid)
{
	if (OidIsValid(relid))
		return dumper_qualified_relname(relid);
	return quote_qualified_identifier(rv->schemaname, rv->relname);
}

/*
 * The CREATE TRIGGER stmt creates dumper's trigger executing dumper.func()
 * on relid (InvalidOid: not found) but the current role has no USAGE on
 * schema dumper: fail here, naming the trigger and the table, with a hint
 * on how to get the table covered again.
 */
static void
restore_refuse_trigger(const CreateTrigStmt *stmt, Oid relid, const char *func)
{
	char	   *table = restore_table_name(stmt->relation, relid);
	const char *hint;

	if (strcmp(stmt->trigname, DUMPER_JOIN_TRIGGER) == 0 ||
		strcmp(stmt->trigname, DUMPER_JOIN_TRUNCATE_TRIGGER) == 0)
		hint = psprintf("Restore as a superuser, or after the restore run dumper_register again for the registered tables that %s references (it finds a pure join table), or dumper_register_join(%s) if the source database registered it explicitly.",
						table, quote_literal_cstr(table));
	else if (OidIsValid(relid) && get_rel_relispartition(relid))
		hint = psprintf("Restore as a superuser, or after the restore run dumper_register again for the registered partitioned table that %s is a partition of (its partitions are covered with it).",
						table);
	else
		hint = psprintf("Restore as a superuser, or after the restore run dumper_register(%s) again, with its paths function or path templates.",
						quote_literal_cstr(table));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to create dumper's trigger \"%s\" on table \"%s\"",
					stmt->trigname, table),
			 errdetail("The trigger executes %s.%s(), and role \"%s\" has no USAGE privilege on schema %s: only superusers and the extension's owner create dumper's triggers and registrations, and without them the table's writes invalidate nothing.",
					   DUMPER_SCHEMA, func, GetUserNameFromId(GetUserId(), false),
					   DUMPER_SCHEMA),
			 errhint("%s", hint)));
}

/*
 * Whether trigger trigoid is dumper's own, droppable by itself: it executes
 * a function of schema dumper, and it is not a partition's clone of its
 * parent's trigger (which goes only with the parent's).
 */
static bool
restore_trigger_droppable(Oid trigoid, Oid dumper_nsp)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		droppable = false;

	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(trigoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_trigger trig = (Form_pg_trigger) GETSTRUCT(tuple);

		droppable = !OidIsValid(trig->tgparentid) &&
			get_func_namespace(trig->tgfoid) == dumper_nsp;
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return droppable;
}

/*
 * At ddl_command_start of CREATE TRIGGER (ddl.c): when stmt creates one of
 * dumper's triggers, refuse it with dumper's error if the role may not use
 * schema dumper, and drop dumper's trigger of that name on the table if
 * dumper installed it already (see the file's header), so that the
 * statement re-creates it.
 */
void
dumper_restore_before_create_trigger(CreateTrigStmt *stmt)
{
	const char *func = restore_dumper_function(stmt);
	Oid			dumper_nsp;
	Oid			relid;
	Oid			trigoid;
	ObjectAddress trigaddr;

	if (func == NULL || stmt->replace)
		return;
	dumper_nsp = get_namespace_oid(DUMPER_SCHEMA, true);
	if (!OidIsValid(dumper_nsp))
		return;
	if (pg_namespace_aclcheck(dumper_nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
		restore_refuse_trigger(stmt, RangeVarGetRelid(stmt->relation, NoLock, true), func);

	/*
	 * Look for dumper's trigger holding the lock the statement takes: in a
	 * parallel restore, another session's ALTER TABLE of the parent table
	 * may be installing the trigger on this partition; its trigger must be
	 * seen committed here (and dropped), or this statement's seen there.
	 */
	relid = RangeVarGetRelidExtended(stmt->relation, ShareRowExclusiveLock,
									 RVR_MISSING_OK, NULL, NULL);
	if (!OidIsValid(relid) || !pg_class_ownercheck(relid, GetUserId()))
		return;
	trigoid = get_trigger_oid(relid, stmt->trigname, true);
	if (!OidIsValid(trigoid) || !restore_trigger_droppable(trigoid, dumper_nsp))
		return;
	ereport(DEBUG1,
			(errmsg("dropping trigger \"%s\" on table \"%s\" that dumper installed, for the CREATE TRIGGER that restores it",
					stmt->trigname, get_rel_name(relid))));
	ObjectAddressSet(trigaddr, TriggerRelationId, trigoid);
	performDeletion(&trigaddr, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	CommandCounterIncrement();
}

/*
 * A COPY into dumper.registration or dumper.join_table (a restore's data)
 * by a role that may not write there fails with dumper's error, naming the
 * table, rather than PostgreSQL's "permission denied for schema dumper".
 * Names are compared, not looked up: looking up a table of schema dumper is
 * what fails for such a role.
 */
static void
restore_check_copy(CopyStmt *stmt)
{
	Oid			dumper_nsp;
	Oid			relid;
	bool		registration;

	if (!stmt->is_from || stmt->relation == NULL ||
		stmt->relation->schemaname == NULL ||
		strcmp(stmt->relation->schemaname, DUMPER_SCHEMA) != 0)
		return;
	registration = strcmp(stmt->relation->relname, "registration") == 0;
	if (!registration && strcmp(stmt->relation->relname, "join_table") != 0)
		return;
	dumper_nsp = get_namespace_oid(DUMPER_SCHEMA, true);
	if (!OidIsValid(dumper_nsp))
		return;
	relid = get_relname_relid(stmt->relation->relname, dumper_nsp);
	if (!OidIsValid(relid))
		return;
	if (pg_namespace_aclcheck(dumper_nsp, GetUserId(), ACL_USAGE) == ACLCHECK_OK &&
		pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) == ACLCHECK_OK)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to restore dumper's %s into table %s.%s",
					registration ? "registrations" : "join tables",
					DUMPER_SCHEMA, stmt->relation->relname),
			 errdetail("Only superusers and the extension's owner (role \"%s\") write dumper's tables; role \"%s\" may not, and the restored tables' writes invalidate nothing without %s.",
					   GetUserNameFromId(dumper_internal_owner(), false),
					   GetUserNameFromId(GetUserId(), false),
					   registration ? "their registrations" : "them"),
			 errhint(registration ?
					 "Restore as a superuser, or run dumper_register again after the restore for each table the source database registered (its view dumper_registrations lists them)." :
					 "Restore as a superuser, or run dumper_register again after the restore for each registered table (it finds pure join tables) and dumper_register_join for each join table the source database registered explicitly.")));
}

/*
 * COMMENT ON EXTENSION dumper by a role that does not own the extension:
 * the first statement of a restore run by such a role (pg_dump writes the
 * extension's comment) and, with pg_restore --exit-on-error or
 * --single-transaction, its last.  It fails as PostgreSQL would, with a
 * detail and a hint saying what such a restore cannot bring back.
 */
static void
restore_check_comment(CommentStmt *stmt)
{
	Oid			extoid;

	if (stmt->objtype != OBJECT_EXTENSION || !IsA(stmt->object, String) ||
		strcmp(strVal(stmt->object), "dumper") != 0)
		return;
	extoid = get_extension_oid("dumper", true);
	if (!OidIsValid(extoid) || pg_extension_ownercheck(extoid, GetUserId()))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner of extension dumper"),
			 errdetail("Role \"%s\" cannot restore dumper's registrations and triggers either: they belong to the extension's owner (role \"%s\"), and without them the restored tables' writes invalidate nothing.",
					   GetUserNameFromId(GetUserId(), false),
					   GetUserNameFromId(dumper_internal_owner(), false)),
			 errhint("Restore as a superuser, or run dumper_register again after the restore for each table the source database registered (its view dumper_registrations lists them).")));
}

/*
 * From the ProcessUtility hook (utility.c), after a statement that
 * succeeded: whether it was a COPY into dumper.registration (a restore's
 * registrations, which a parallel restore may load after the tables'
 * triggers), after which the hook gives those triggers their dependency on
 * the paths functions (dumper_sync_restored_registrations, ddl.c).  Names
 * are compared, as in restore_check_copy: pg_dump qualifies them.
 */
bool
dumper_restore_loaded_registrations(Node *parsetree)
{
	CopyStmt   *stmt;

	if (!IsA(parsetree, CopyStmt))
		return false;
	stmt = (CopyStmt *) parsetree;
	return stmt->is_from && stmt->relation != NULL &&
		stmt->relation->schemaname != NULL &&
		strcmp(stmt->relation->schemaname, DUMPER_SCHEMA) == 0 &&
		strcmp(stmt->relation->relname, "registration") == 0;
}

/*
 * From the ProcessUtility hook (utility.c), before a COPY or a COMMENT:
 * the checks above.
 */
void
dumper_restore_check_statement(Node *parsetree)
{
	if (IsA(parsetree, CopyStmt))
		restore_check_copy((CopyStmt *) parsetree);
	else if (IsA(parsetree, CommentStmt))
		restore_check_comment((CommentStmt *) parsetree);
}
