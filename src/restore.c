/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  The statements of a restore (pg_restore, psql of a pg_dump script)
 *	  that re-create dumper's triggers.
 *
 * A dump carries dumper's triggers as CREATE TRIGGER statements and the
 * registrations as the data of dumper.registration and dumper.join_table
 * (extension configuration tables).  dumper itself can stand in the
 * triggers' way.  A parallel restore (pg_restore -j) may restore a
 * registered table's dumper_row before a constraint of that table, of its
 * partitions or of a join table referencing it: the constraint's
 * ALTER TABLE then makes dumper's DDL event trigger install the triggers
 * that table is missing (ddl.c), before the restore's own CREATE TRIGGER
 * of the same name runs, which would fail.  So at ddl_command_start of a
 * CREATE TRIGGER that creates one of dumper's triggers -- its name, and
 * dumper's trigger function for that name -- on a table that already has
 * dumper's trigger of that name, dumper's is dropped first, and the
 * statement re-creates it as the dump says.  The result does not depend on
 * the order: each restored trigger exists once, the restore's own, and gets
 * its dependency on the paths function at ddl_command_end
 * (dumper.sync_trigger), as when nothing was installed before it.
 *
 * Rules: nothing is dropped unless the current role owns the table and the
 * trigger in place is dumper's own (it executes a function of schema dumper)
 * and not a partition's clone of its parent's; otherwise the statement
 * meets the existing trigger and fails on its own.  Any other CREATE
 * TRIGGER costs a comparison of names.
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
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "dumper.h"

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
 * dumper's triggers, drop dumper's trigger of that name on the table if
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
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) ||
		!OidIsValid(get_trigger_oid(relid, stmt->trigname, true)) ||
		!pg_class_ownercheck(relid, GetUserId()))
		return;

	/*
	 * Dropping the trigger takes this lock anyway; holding it first, look
	 * again: another session may have changed the trigger meanwhile.
	 */
	LockRelationOid(relid, AccessExclusiveLock);
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
