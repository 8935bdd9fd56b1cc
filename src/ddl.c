/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  Following the schema's life: event trigger support.
 *
 * dumper.sync_table(oid) runs at ddl_command_end of CREATE TABLE and ALTER
 * TABLE (SQL event trigger dumper_ddl_end): a partition created or attached
 * under a registered table gets its TRUNCATE trigger (row triggers are
 * cloned by PostgreSQL itself, statement triggers are not), and a new pure
 * join table referencing a registered table gets its join triggers.
 * dumper.sync_trigger(oid) runs at ddl_command_end of CREATE TRIGGER: a
 * dumper trigger created by a restore (pg_restore, psql of a pg_dump
 * script) gets back its dependency on the paths function, which the dump
 * does not carry, so that DROP FUNCTION is refused there too.  An
 * ALTER TABLE that leaves a registered table's path templates naming a
 * column that no longer exists (dropped or renamed) is refused, with the
 * template named, rather than letting every later write fail.
 *
 * Locks: dumper.sync_table runs after every CREATE TABLE and ALTER TABLE,
 * so it must not change PostgreSQL's locking of tables dumper does not
 * cover: such a table is at most read under AccessShareLock (released at
 * once), and a covered one is locked in CREATE TRIGGER's mode only to
 * create a trigger it lacks, after looking without that lock.  ALTER TABLE
 * commands that let writers go on (SET (fillfactor), VALIDATE CONSTRAINT,
 * ATTACH PARTITION) still do (isolation test ddl_locks).
 *
 * dumper.sync_registrations() runs at the end of the same commands and of
 * ALTER FUNCTION, ROUTINE, SCHEMA and EXTENSION: it records a renamed or
 * moved paths function's new schema and name, and after a restore or
 * pg_upgrade its new OID and the triggers' dependency on it
 * (registration.c says why both are kept).
 *
 * dumper.on_ddl_start() runs at ddl_command_start of DROP EXTENSION: when
 * the extension being dropped is dumper, every trigger dumper installed is
 * dropped first, so that DROP EXTENSION needs no CASCADE and leaves no
 * trigger behind, and the drop is refused while committed invalidations
 * wait in the queues (it would discard them).  Before DROP FUNCTION, ROUTINE, SCHEMA, OWNED and any
 * other DROP EXTENSION it syncs the registrations, so that a paths function
 * in use is refused after a pg_upgrade too.  (Registrations of dropped
 * tables and of dropped paths functions are removed by the SQL event trigger
 * dumper_sql_drop.)  Before ALTER TABLE and DROP TABLE, it gathers the
 * paths of the rows of a partition being attached, detached or dropped
 * (partition.c).  Before CREATE TRIGGER, restore.c makes way for a
 * restore's trigger that dumper installed already.
 *
 * Both run with the privileges of the extension's owner (SECURITY DEFINER
 * wrappers, or the superuser that drops the extension), except the
 * gathering before ALTER TABLE and DROP TABLE, which runs as the role
 * running the command, like a TRUNCATE's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "capture.h"
#include "dumper.h"
#include "registration.h"
#include "spi.h"
#include "template.h"

PG_FUNCTION_INFO_V1(dumper_sync_table);

/* Error context of the template check: what was being checked. */
static void
ddl_template_error_callback(void *arg)
{
	errcontext("checking the path templates of table %s after its change",
			   (const char *) arg);
}

/*
 * The registered table regrelid has path templates: compile them against
 * its current columns, which ereports when one names a missing column.
 * A table that another transaction holds locked is skipped: the command
 * being checked changed no column of a table it did not lock itself, and
 * waiting there could deadlock with that transaction.
 */
static void
ddl_check_templates(Oid regrelid, const DumperRegistration *reg)
{
	Relation	regrel;
	ErrorContextCallback errcallback;
	ListCell   *lc;

	if (!ConditionalLockRelationOid(regrelid, AccessShareLock))
		return;
	regrel = table_open(regrelid, NoLock);
	errcallback.callback = ddl_template_error_callback;
	errcallback.arg = RelationGetRelationName(regrel);
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	foreach(lc, reg->templates)
		(void) dumper_template_compile(lfirst(lc), RelationGetDescr(regrel),
									   RelationGetRelationName(regrel));
	error_context_stack = errcallback.previous;
	table_close(regrel, AccessShareLock);
}

/*
 * Refuse relid as an inheritance child of a registered table: rows of a
 * child written through its parent fire the child's triggers only, so
 * they would invalidate nothing.  (dumper_register refuses a table with
 * children for the same reason; partitions are covered instead.)
 */
static void
ddl_refuse_registered_parent(Oid relid)
{
	Relation	inhrel = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			parent = InvalidOid;

	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(inhrel, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Oid			inhparent = ((Form_pg_inherits) GETSTRUCT(tuple))->inhparent;
		DumperRegistration reg;

		if (get_rel_relkind(inhparent) == RELKIND_RELATION &&
			dumper_registration_read(inhparent, &reg))
		{
			parent = inhparent;
			break;
		}
	}
	systable_endscan(scan);
	table_close(inhrel, AccessShareLock);
	if (OidIsValid(parent))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" cannot inherit from \"%s\", which is registered with dumper",
						get_rel_name(relid), get_rel_name(parent)),
				 errdetail("Rows of an inheritance child written through its parent would invalidate nothing."),
				 errhint("Unregister \"%s\" first, or make it a partitioned table, whose partitions dumper covers.",
						 get_rel_name(parent))));
}

/*
 * Whether the registration of regrelid is live: its table carries its row
 * trigger.  dumper_register creates it at once, so this is always so in
 * normal operation; during a pg_restore the registrations are loaded (data
 * section) before the triggers are (post-data, after the constraints), and
 * the restore creates every trigger itself: installing them from the
 * constraints' ALTER TABLE events would make its CREATE TRIGGER fail.
 */
static bool
ddl_registration_live(Oid regrelid)
{
	return OidIsValid(get_trigger_oid(regrelid, DUMPER_ROW_TRIGGER, true));
}

/* Whether pg_depend already records that depender depends on referenced. */
static bool
ddl_depends_on(const ObjectAddress *depender, const ObjectAddress *referenced)
{
	Relation	deprel = table_open(DependRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	ScanKeyInit(&keys[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(depender->classId));
	ScanKeyInit(&keys[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(depender->objectId));
	scan = systable_beginscan(deprel, DependDependerIndexId, true, NULL, 2, keys);
	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		found = dep->refclassid == referenced->classId &&
			dep->refobjid == referenced->objectId;
	}
	systable_endscan(scan);
	table_close(deprel, AccessShareLock);
	return found;
}

PG_FUNCTION_INFO_V1(dumper_check_templates);

/*
 * dumper.check_templates(oid): after a command changed the table or type
 * oid, compile the path templates of the live registrations it can have
 * changed against their tables' current columns: the table and the tables
 * inheriting from it, or the tables typed by the type (ALTER TYPE ...
 * CASCADE) and theirs.  A template naming a column that is gone (renamed or
 * dropped on the table itself, through an inheritance parent, through a
 * typed table's type, or with a dropped domain or type) makes the command
 * fail, instead of every later write to the table.
 */
Datum
dumper_check_templates(PG_FUNCTION_ARGS)
{
	Oid			objid = PG_GETARG_OID(0);
	char		relkind = get_rel_relkind(objid);
	List	   *roots = NIL;
	ListCell   *lc;

	if (relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE)
		roots = list_make1_oid(objid);
	else if (relkind == RELKIND_COMPOSITE_TYPE || OidIsValid(get_typ_typrelid(objid)))
		roots = dumper_query_oids("SELECT oid FROM pg_catalog.pg_class"
								  " WHERE reloftype OPERATOR(pg_catalog.=) $1",
								  relkind == RELKIND_COMPOSITE_TYPE ?
								  get_rel_type_id(objid) : objid);
	foreach(lc, roots)
	{
		ListCell   *ic;

		foreach(ic, find_all_inheritors(lfirst_oid(lc), NoLock, NULL))
		{
			Oid			relid = lfirst_oid(ic);
			DumperRegistration reg;

			if (!ddl_registration_live(relid) ||
				!dumper_registration_read(relid, &reg) || reg.templates == NIL)
				continue;
			ddl_check_templates(relid, &reg);
		}
	}
	PG_RETURN_VOID();
}

/*
 * When trigger trigoid is a dumper row or TRUNCATE trigger of a registered
 * table, make it depend on the paths function, as dumper_register does --
 * not a partition's clone of its parent's dumper_row, which depends on the
 * parent's trigger, as after dumper_register or a serial restore.
 */
static void
ddl_trigger_depend(Oid trigoid)
{
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			tgrelid = InvalidOid;
	bool		ours = false;
	DumperRegistration reg;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(trigoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger trig = (Form_pg_trigger) GETSTRUCT(tuple);

		tgrelid = trig->tgrelid;
		ours = (strcmp(NameStr(trig->tgname), DUMPER_ROW_TRIGGER) == 0 &&
				!OidIsValid(trig->tgparentid)) ||
			strcmp(NameStr(trig->tgname), DUMPER_TRUNCATE_TRIGGER) == 0;
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);

	if (ours && OidIsValid(dumper_registered_table(tgrelid, &reg)) &&
		OidIsValid(reg.funcoid))
	{
		ObjectAddress trigaddr;
		ObjectAddress funcaddr;

		ObjectAddressSet(trigaddr, TriggerRelationId, trigoid);
		ObjectAddressSet(funcaddr, ProcedureRelationId, reg.funcoid);
		if (!ddl_depends_on(&trigaddr, &funcaddr))
			recordDependencyOn(&trigaddr, &funcaddr, DEPENDENCY_NORMAL);
	}
}

PG_FUNCTION_INFO_V1(dumper_sync_trigger);

/*
 * dumper.sync_trigger(oid): a trigger was created (by a restore, say): see
 * ddl_trigger_depend.
 */
Datum
dumper_sync_trigger(PG_FUNCTION_ARGS)
{
	ddl_trigger_depend(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * Give the dumper row and TRUNCATE triggers of each table of relids (and
 * of its partitions) their dependency on its paths function
 * (ddl_trigger_depend, which records none twice).  Each table is locked in
 * lockmode before its triggers are looked at.
 */
static void
ddl_depend_triggers(List *relids, LOCKMODE lockmode)
{
	ListCell   *lc;

	foreach(lc, relids)
	{
		ListCell   *lc2;

		foreach(lc2, find_all_inheritors(lfirst_oid(lc), lockmode, NULL))
		{
			Oid			row = get_trigger_oid(lfirst_oid(lc2), DUMPER_ROW_TRIGGER, true);
			Oid			truncate = get_trigger_oid(lfirst_oid(lc2), DUMPER_TRUNCATE_TRIGGER, true);

			if (OidIsValid(row))
				ddl_trigger_depend(row);
			if (OidIsValid(truncate))
				ddl_trigger_depend(truncate);
		}
	}
	CommandCounterIncrement();
}

/*
 * Record the current OID, schema and name of every registration's paths
 * function -- renamed, moved to another schema, or given a new OID by a
 * restore or pg_upgrade (registration.c) -- and give the dumper triggers of
 * those tables and of their partitions their dependency on it, which
 * pg_upgrade does not carry.  Cheap when nothing changed: one scan of
 * dumper.registration, no write.  It runs as the extension's owner from
 * the event trigger of any role's DROP FUNCTION and from the worker: the
 * comparison is spelled column by column with qualified operators (a row
 * comparison or IS DISTINCT FROM would look "=" up by name), and spi.c
 * pins the search_path besides.
 */
void
dumper_sync_registrations(void)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	List	   *relids;

	SPI_connect();
	dumper_execute_as_owner("UPDATE dumper.registration AS r"
							"   SET paths_oid = p.oid, paths_schema = n.nspname,"
							"       paths_name = p.proname"
							"  FROM pg_catalog.pg_proc AS p, pg_catalog.pg_namespace AS n"
							" WHERE p.oid OPERATOR(pg_catalog.=) dumper.paths_function("
							"           r.tbl, r.paths_schema, r.paths_name, r.paths_oid)"
							"   AND n.oid OPERATOR(pg_catalog.=) p.pronamespace"
							"   AND NOT (r.paths_oid IS NOT NULL"
							"            AND r.paths_oid OPERATOR(pg_catalog.=) p.oid"
							"            AND r.paths_schema IS NOT NULL"
							"            AND r.paths_schema OPERATOR(pg_catalog.=) n.nspname"
							"            AND r.paths_name IS NOT NULL"
							"            AND r.paths_name OPERATOR(pg_catalog.=) p.proname)"
							" RETURNING r.tbl::pg_catalog.oid",
							0, NULL, NULL, NULL, SPI_OK_UPDATE_RETURNING);
	relids = dumper_tuptable_oids(caller_cxt);
	SPI_finish();
	ddl_depend_triggers(relids, AccessShareLock);
}

/*
 * After a COPY into dumper.registration (a restore's data; utility.c,
 * from the ProcessUtility hook): a parallel restore may load these rows
 * after the CREATE TRIGGER statements of the tables they register
 * (pg_restore -j orders data and post-data items by dependencies only),
 * when dumper.sync_trigger found no registration to make those triggers
 * depend on.  Record the paths functions' new OIDs, and give the dumper
 * triggers of every registered table with a paths function (and of its
 * partitions) their dependency on it, as a serial restore does; the ones
 * that have it already are left alone.  Read as the extension's owner.
 *
 * Each table is locked in ShareLock first, which conflicts with the lock
 * CREATE TRIGGER holds until its transaction ends: a restore's CREATE
 * TRIGGER in flight in another session (its dumper.sync_trigger ran
 * before these rows were committed, so it saw none) is waited for and
 * then seen here; one that starts later waits for this transaction, and
 * its dumper.sync_trigger sees these rows.  Neither ever waits for the
 * other the other way round (dumper.sync_trigger only reads
 * dumper.registration), so they cannot deadlock; the lock holds up writers
 * of the registered tables until the COPY commits, during a restore only.
 */
void
dumper_sync_restored_registrations(void)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	List	   *relids;

	dumper_sync_registrations();
	SPI_connect();
	dumper_execute_as_owner("SELECT tbl::pg_catalog.oid FROM dumper.registration"
							" WHERE paths_oid IS NOT NULL",
							0, NULL, NULL, NULL, SPI_OK_SELECT);
	relids = dumper_tuptable_oids(caller_cxt);
	SPI_finish();
	ddl_depend_triggers(relids, ShareLock);
}

PG_FUNCTION_INFO_V1(dumper_sync_registrations_sql);

/*
 * dumper.sync_registrations(): dumper_sync_registrations, from the DDL
 * event trigger.
 */
Datum
dumper_sync_registrations_sql(PG_FUNCTION_ARGS pg_attribute_unused())
{
	dumper_sync_registrations();
	PG_RETURN_VOID();
}

/*
 * A new (or altered) table relid without join triggers that is a pure join
 * table referencing a registered table: install them when the rule covers
 * one of its sides (dumper_join_check_sides, which names those it does
 * not).  Read under AccessShareLock, which holds up no writer, released at
 * once unless the triggers are installed (CREATE TRIGGER's lock).  A
 * restore's registrations are not live yet: it creates the triggers itself.
 */
static void
ddl_sync_join(Oid relid)
{
	Relation	rel;
	bool		install = false;
	ListCell   *lc;

	if (OidIsValid(get_trigger_oid(relid, DUMPER_JOIN_TRIGGER, true)))
		return;
	rel = table_open(relid, AccessShareLock);
	if (dumper_is_pure_join_table(rel))
	{
		foreach(lc, dumper_fkey_list(rel))
		{
			ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
			DumperRegistration reg;

			if (dumper_registration_read(fk->confrelid, &reg) &&
				ddl_registration_live(fk->confrelid))
			{
				install = dumper_join_check_sides(rel);
				break;
			}
		}
	}
	table_close(rel, AccessShareLock);
	if (install)
	{
		LockRelationOid(relid, ShareRowExclusiveLock);
		dumper_install_join(relid, false);
	}
}

/*
 * After an ALTER TABLE of registered table relid (an owner change, say):
 * the pure join tables of relid's owner that reference it and lack join
 * triggers get them (ddl_sync_join), as they would have when relid was
 * registered.  Others' tables are not looked at (the rule would not cover
 * relid for them), and one that another transaction holds locked is
 * skipped, as in ddl_check_templates: waiting there could deadlock, and
 * this lock must hold up nobody.
 */
static void
ddl_sync_referencing_joins(Oid relid)
{
	ListCell   *lc;

	foreach(lc, dumper_query_oids("SELECT DISTINCT c.conrelid"
								  " FROM pg_catalog.pg_constraint AS c,"
								  "      pg_catalog.pg_class AS j, pg_catalog.pg_class AS r"
								  " WHERE c.contype OPERATOR(pg_catalog.=) 'f'"
								  "   AND c.confrelid OPERATOR(pg_catalog.=) $1"
								  "   AND c.conparentid OPERATOR(pg_catalog.=) 0"
								  "   AND j.oid OPERATOR(pg_catalog.=) c.conrelid"
								  "   AND r.oid OPERATOR(pg_catalog.=) $1"
								  "   AND j.relowner OPERATOR(pg_catalog.=) r.relowner",
								  relid))
	{
		Oid			joinid = lfirst_oid(lc);

		if (joinid == relid ||
			OidIsValid(get_trigger_oid(joinid, DUMPER_JOIN_TRIGGER, true)) ||
			!ConditionalLockRelationOid(joinid, AccessShareLock))
			continue;
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(joinid)))
			ddl_sync_join(joinid);
		UnlockRelationOid(joinid, AccessShareLock);
	}
}

/*
 * dumper.sync_table(oid): give a new or altered table the triggers its
 * place in the schema calls for.  It runs after every CREATE TABLE and
 * ALTER TABLE, so it locks no table that lacks none of them: a table
 * dumper does not cover is only read, and a covered one is locked only to
 * create a missing trigger (dumper_install_truncate_triggers,
 * ddl_sync_join).
 */
Datum
dumper_sync_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			regrelid;
	DumperRegistration reg;
	char		relkind = get_rel_relkind(relid);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		PG_RETURN_VOID();

	/*
	 * A partition detached from a registered table is covered no more
	 * (DETACH is an ALTER TABLE of the partitioned table): its
	 * dumper_truncate goes, and nothing else (partition.c).
	 */
	if (relkind == RELKIND_PARTITIONED_TABLE)
		dumper_partition_ddl_end();

	/* A partition (or a parent that got one attached) of a registered table. */
	regrelid = dumper_registered_table(relid, &reg);
	if (OidIsValid(regrelid) && ddl_registration_live(regrelid))
	{
		dumper_install_truncate_triggers(relid, DUMPER_TRUNCATE_TRIGGER, reg.funcoid);
		if (regrelid == relid)
			ddl_sync_referencing_joins(relid);
	}

	/* A new inheritance child of a registered table (not a partition). */
	if (relkind == RELKIND_RELATION)
		ddl_refuse_registered_parent(relid);

	/*
	 * A partition of a covered join table (its row trigger is a clone), or
	 * a covered one that got a partition attached: TRUNCATE of every
	 * partition must be covered too.
	 */
	if (OidIsValid(get_trigger_oid(relid, DUMPER_JOIN_TRIGGER, true)))
		dumper_install_truncate_triggers(relid, DUMPER_JOIN_TRUNCATE_TRIGGER, InvalidOid);

	/* A new pure join table referencing a registered table. */
	ddl_sync_join(relid);
	PG_RETURN_VOID();
}

/* Whether a DROP EXTENSION statement names dumper. */
static bool
ddl_drops_dumper(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), "dumper") == 0)
			return true;
	return false;
}

/*
 * Refuse DROP EXTENSION dumper while committed invalidations wait in the
 * queue: the drop would discard them, and their pages would stay stale
 * with nothing said.  Runs once dumper's triggers are dropped, which waited
 * for every transaction that had fired one of them to end, so their paths
 * are counted; the queue's lock, taken now as the drop would take it, keeps
 * any later commit (a dumper_invalidate()) from slipping in behind the
 * count.  This transaction's own spilled paths go with it, as before.
 */
static void
ddl_refuse_pending_drop(void)
{
	Oid			relids[2] = {dumper_queue_relid(true), dumper_spill_queue_relid(true)};
	int64		npaths = 0;

	for (int i = 0; i < 2; i++)
	{
		Relation	rel;
		Snapshot	snapshot;
		TableScanDesc scan;
		HeapTuple	tuple;

		if (!OidIsValid(relids[i]))
			continue;
		LockRelationOid(relids[i], AccessExclusiveLock);
		rel = table_open(relids[i], NoLock);
		dumper_queue_check(rel);
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		scan = table_beginscan(rel, snapshot, 0, NULL);
		while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			bool		isnull;
			Datum		paths;

			if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data)))
				continue;
			paths = heap_getattr(tuple, Anum_queue_paths, RelationGetDescr(rel), &isnull);
			if (!isnull)
				npaths += ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(paths)),
										 ARR_DIMS(DatumGetArrayTypeP(paths)));
		}
		table_endscan(scan);
		UnregisterSnapshot(snapshot);
		table_close(rel, NoLock);
	}
	if (npaths > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot drop extension dumper while " INT64_FORMAT " committed invalidations are not delivered",
						npaths),
				 errdetail("Dropping the extension would discard them, and the pages they invalidate would stay stale."),
				 errhint("Let the worker deliver them, or run SELECT dumper_deliver(), then drop the extension; "
						 "to discard them, TRUNCATE dumper.queue, dumper.spill_queue first.")));
}

/*
 * Drop every trigger that fires one of dumper's trigger functions, then
 * refuse to go on while invalidations are pending.  Clones on partitions go
 * with their parent's trigger.
 */
static void
ddl_drop_all_triggers(void)
{
	const char *funcs[] = {"trigger", "join_trigger", "truncate_trigger"};
	ObjectAddresses *targets = new_object_addresses();
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);

	for (int f = 0; f < (int) lengthof(funcs); f++)
	{
		List	   *name = list_make2(makeString(DUMPER_SCHEMA), makeString((char *) funcs[f]));
		Oid			funcoid = LookupFuncName(name, 0, NULL, true);
		SysScanDesc scan;
		HeapTuple	tuple;

		if (!OidIsValid(funcoid))
			continue;
		scan = systable_beginscan(tgrel, InvalidOid, false, NULL, 0, NULL);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			Form_pg_trigger trig = (Form_pg_trigger) GETSTRUCT(tuple);
			ObjectAddress addr;

			if (trig->tgfoid != funcoid || OidIsValid(trig->tgparentid))
				continue;
			ObjectAddressSet(addr, TriggerRelationId, trig->oid);
			add_exact_object_address(&addr, targets);
		}
		systable_endscan(scan);
	}
	table_close(tgrel, AccessShareLock);
	performMultipleDeletions(targets, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	CommandCounterIncrement();
	ddl_refuse_pending_drop();
}

PG_FUNCTION_INFO_V1(dumper_on_ddl_start);

/*
 * dumper.on_ddl_start(): before DROP EXTENSION dumper, drop its triggers;
 * before any other DROP that may take a paths function with it, bring the
 * registrations and the triggers' dependencies up to date, so that a paths
 * function in use is refused there too after a pg_upgrade.  Before a
 * CREATE TRIGGER of one of dumper's triggers, make way for it (restore.c).
 */
Datum
dumper_on_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.on_ddl_start() was not called by the event trigger manager")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree != NULL && IsA(trigdata->parsetree, CreateTrigStmt))
		dumper_restore_before_create_trigger((CreateTrigStmt *) trigdata->parsetree);
	if (ddl_drops_dumper(trigdata->parsetree))
		ddl_drop_all_triggers();
	else if (!dumper_partition_ddl_start(trigdata->parsetree))
		dumper_sync_registrations();
	PG_RETURN_VOID();
}
