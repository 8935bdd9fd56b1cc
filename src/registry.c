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
 * Join tables: which registered tables a join table's triggers gather the
 * paths of is decided by one rule, dumper_join_side_covered: a
 * registration never puts its owner's paths function into the writes to
 * another role's table unless that table's owner asked for it
 * (dumper_register_join).  Every reader of join sides asks it.
 *
 * Locks: a table is locked in CREATE TRIGGER's mode (ShareRowExclusiveLock)
 * only when it is registered or unregistered, or when a trigger it lacks
 * is created or one it has dropped; the tables merely looked at (the
 * tables referencing a registered one) are read under AccessShareLock,
 * released at once, so that a registration holds up no writer of a table
 * dumper does not cover.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/catalog.h"
#include "catalog/pg_namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "nodes/bitmapset.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "delivery.h"
#include "dumper.h"
#include "registration.h"
#include "spi.h"
#include "template.h"

/*
 * Check path templates against rel (syntax, columns) and return them as a
 * clean text[]: no NULL, at least one.
 */
static ArrayType *
registry_check_templates(Relation rel, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no path templates given for table \"%s\"",
						RelationGetRelationName(rel))));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("path templates of table \"%s\" must not be NULL",
							RelationGetRelationName(rel))));
		(void) dumper_template_compile(TextDatumGetCString(elems[i]),
									   RelationGetDescr(rel), RelationGetRelationName(rel));
	}
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * The OID of the trigger function dumper.<name>().  Looked up as the
 * extension's owner: the caller (a table's owner) has no USAGE on schema
 * dumper, and needs none to have the trigger call the function.
 */
static Oid
registry_trigger_function(const char *name)
{
	List	   *qualname = list_make2(makeString(DUMPER_SCHEMA), makeString(pstrdup(name)));
	DumperOwnerScope scope;
	Oid			result;

	dumper_owner_enter(&scope);
	result = LookupFuncName(qualname, 0, NULL, false);
	dumper_owner_exit(&scope);
	return result;
}

/*
 * Whether trigger trigoid calls one of dumper's functions: dumper's
 * triggers are known by name, and a user's trigger that happens to have
 * one of those names must be neither dropped nor taken for dumper's.
 */
static bool
registry_trigger_is_ours(Oid trigoid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		ours = false;

	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(trigoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		ours = (get_func_namespace(((Form_pg_trigger) GETSTRUCT(tuple))->tgfoid) ==
				get_namespace_oid(DUMPER_SCHEMA, false));
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return ours;
}

/*
 * Create trigger name on relid unless it exists, firing dumper.<func>();
 * when depfunc is valid, the trigger depends on it, so that the paths
 * function cannot be dropped while it is in use.
 */
static void
registry_ensure_trigger(Oid relid, const char *name, const char *func, bool row,
						int16 timing, int16 events, Oid depfunc)
{
	CreateTrigStmt *stmt;
	ObjectAddress trigaddr;
	Oid			existing = get_trigger_oid(relid, name, true);

	if (OidIsValid(existing))
	{
		if (registry_trigger_is_ours(existing))
			return;
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" has a trigger named \"%s\" that is not dumper's",
						get_rel_name(relid), name),
				 errhint("dumper names its triggers so; rename that trigger.")));
	}

	stmt = makeNode(CreateTrigStmt);
	stmt->trigname = pstrdup(name);
	stmt->relation = makeRangeVar(get_namespace_name(get_rel_namespace(relid)),
								  get_rel_name(relid), -1);
	stmt->funcname = list_make2(makeString(DUMPER_SCHEMA), makeString(pstrdup(func)));
	stmt->row = row;
	stmt->timing = timing;
	stmt->events = events;

	trigaddr = CreateTrigger(stmt, NULL, relid, InvalidOid, InvalidOid, InvalidOid,
							 registry_trigger_function(func), InvalidOid, NULL,
							 false, false);
	if (OidIsValid(depfunc))
	{
		ObjectAddress funcaddr;

		ObjectAddressSet(funcaddr, ProcedureRelationId, depfunc);
		recordDependencyOn(&trigaddr, &funcaddr, DEPENDENCY_NORMAL);
	}
	CommandCounterIncrement();
}

/* Drop trigger name of relid if it exists (with its partition clones). */
static void
registry_drop_trigger(Oid relid, const char *name)
{
	Oid			trigoid = get_trigger_oid(relid, name, true);
	ObjectAddress trigaddr;

	if (!OidIsValid(trigoid) || !registry_trigger_is_ours(trigoid))
		return;
	ObjectAddressSet(trigaddr, TriggerRelationId, trigoid);
	performDeletion(&trigaddr, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	CommandCounterIncrement();
}

/*
 * Whether table relid already carries dumper's trigger name.  Read without
 * a lock: a caller that finds it missing locks the table and looks again
 * (registry_ensure_trigger) before creating it.
 */
static bool
registry_has_trigger(Oid relid, const char *name)
{
	Oid			trigoid = get_trigger_oid(relid, name, true);

	return OidIsValid(trigoid) && registry_trigger_is_ours(trigoid);
}

/*
 * TRUNCATE trigger name (dumper_truncate of a registered table, or
 * dumper_join_truncate of a join table) on relid and on every partition
 * below it, which statement triggers (unlike row triggers) are not cloned
 * onto; a partitioned table has no rows of its own.  funcoid, when valid,
 * is the paths function the trigger depends on.
 *
 * Only a table that lacks the trigger is locked, in CREATE TRIGGER's mode
 * (ShareRowExclusiveLock, which stops its writers until commit), and looked
 * at again once locked: the DDL event trigger calls this after every ALTER
 * TABLE of a covered table, and one that changed nothing dumper cares
 * about (SET (fillfactor), VALIDATE CONSTRAINT) must not hold up writers
 * that the command itself lets through.  A partition dropped meanwhile is
 * skipped.
 */
void
dumper_install_truncate_triggers(Oid relid, const char *name, Oid funcoid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);

		if (registry_has_trigger(child, name))
			continue;
		LockRelationOid(child, ShareRowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(child)))
		{
			UnlockRelationOid(child, ShareRowExclusiveLock);
			continue;
		}
		registry_ensure_trigger(child, name, "truncate_trigger",
								false, TRIGGER_TYPE_BEFORE, TRIGGER_TYPE_TRUNCATE, funcoid);
	}
}

/* The row and TRUNCATE triggers of a registered table. */
static void
registry_install_table_triggers(Oid relid, Oid funcoid)
{
	registry_ensure_trigger(relid, DUMPER_ROW_TRIGGER, "trigger", true, TRIGGER_TYPE_AFTER,
							TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE,
							funcoid);
	dumper_install_truncate_triggers(relid, DUMPER_TRUNCATE_TRIGGER, funcoid);
}

/*
 * Make every backend rebuild how it gathers the paths of relid and of its
 * partitions: their cache entries are keyed by the partition, and a new
 * set of templates leaves the partitions' triggers as they were.
 */
static void
registry_invalidate_tree(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, ShareRowExclusiveLock, NULL))
		CacheInvalidateRelcacheByRelid(lfirst_oid(lc));
}

/* Drop the row and TRUNCATE triggers of a table and its partitions. */
static void
registry_remove_table_triggers(Oid relid)
{
	ListCell   *lc;

	registry_drop_trigger(relid, DUMPER_ROW_TRIGGER);
	foreach(lc, find_all_inheritors(relid, ShareRowExclusiveLock, NULL))
		registry_drop_trigger(lfirst_oid(lc), DUMPER_TRUNCATE_TRIGGER);
}

/*
 * Whether rel is a pure join table: it has a foreign key, and every column
 * belongs to a foreign key or to the primary key (like the through tables
 * Django creates for a ManyToManyField).
 */
bool
dumper_is_pure_join_table(Relation rel)
{
	List	   *fkeys = dumper_fkey_list(rel);
	Bitmapset  *pkattrs;
	TupleDesc	desc = RelationGetDescr(rel);
	ListCell   *lc;

	if (fkeys == NIL)
		return false;
	pkattrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		covered;

		if (att->attisdropped)
			continue;
		covered = bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, pkattrs);
		foreach(lc, fkeys)
		{
			ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);

			for (int k = 0; k < fk->nkeys && !covered; k++)
				covered = (fk->conkey[k] == att->attnum);
		}
		if (!covered)
			return false;
	}
	return true;
}

/*
 * Whether join table relid was registered explicitly, by its owner, with
 * dumper_register_join: dumper.join_table read as the extension's owner,
 * with the latest snapshot (as registration.c reads dumper.registration,
 * and for the same reasons).
 */
static bool
registry_join_explicit(Oid relid)
{
	bool		explicit = false;

	SPI_connect();
	if (dumper_read_by_oid("SELECT explicit FROM dumper.join_table"
						   " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
						   relid) == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		explicit = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	return explicit;
}

/* The owner of relation relid, or InvalidOid when it is gone. */
static Oid
registry_rel_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * THE RULE for join tables, the one place it is written: whether the join
 * triggers of join table joinrelid gather the paths of the rows it
 * references in table confrelid, running confrelid's paths function in the
 * writes to joinrelid, as whoever writes.  Only when confrelid is
 * registered and either joinrelid's owner owns confrelid too, or
 * joinrelid's owner asked for it (dumper_register_join, recorded as
 * dumper.join_table.explicit): a registration never puts its owner's code
 * into the writes to another role's table, as PostgreSQL lets no table
 * owner do.  A partition of a join table is judged as its root partitioned
 * table, whose join triggers it carries and whose row in dumper.join_table
 * says whether it was registered explicitly.
 *
 * Users: join_build (join.c, the row triggers' sides), dumper_gather_join
 * (truncate.c, TRUNCATE and partition.c's ATTACH/DETACH/DROP), the install
 * and release of pure join tables' triggers (registry_sync_joins,
 * registry_release_joins, and ddl.c through dumper_join_check_sides), and
 * the view dumper_registrations (dumper.join_covers).
 */
bool
dumper_join_side_covered(Oid joinrelid, Oid confrelid)
{
	DumperRegistration reg;
	Oid			joinowner;

	if (get_rel_relispartition(joinrelid))
		joinrelid = llast_oid(get_partition_ancestors(joinrelid));
	if (!dumper_registration_read(confrelid, &reg))
		return false;
	joinowner = registry_rel_owner(joinrelid);
	if (!OidIsValid(joinowner))
		return false;
	if (joinowner == registry_rel_owner(confrelid))
		return true;
	return registry_join_explicit(joinrelid);
}

/*
 * Check every registered side of join table join against the rule
 * (dumper_join_side_covered): a NOTICE names each registered side that its
 * join triggers do not cover, so the registering role (or the join
 * table's creator) learns why, in the one wording used everywhere.
 * Returns whether at least one side is covered, i.e. whether the join
 * triggers of a pure join table have anything to do.
 */
bool
dumper_join_check_sides(Relation join)
{
	Oid			joinrelid = RelationGetRelid(join);
	bool		any = false;
	ListCell   *lc;

	foreach(lc, dumper_fkey_list(join))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		DumperRegistration reg;

		if (!dumper_registration_read(fk->confrelid, &reg))
			continue;
		if (dumper_join_side_covered(joinrelid, fk->confrelid))
			any = true;
		else
			ereport(NOTICE,
					(errmsg("join table \"%s\" does not cover registered table \"%s\": they belong to different roles",
							RelationGetRelationName(join), get_rel_name(fk->confrelid)),
					 errdetail("Its writes do not run the paths function of \"%s\", whose owner does not own \"%s\".",
							   get_rel_name(fk->confrelid), RelationGetRelationName(join)),
					 errhint("The owner of \"%s\" can cover it with dumper_register_join('%s'), which runs that paths function in its writes.",
							 RelationGetRelationName(join),
							 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(join)),
														RelationGetRelationName(join)))));
	}
	return any;
}

PG_FUNCTION_INFO_V1(dumper_join_covers);

/*
 * dumper.join_covers(join regclass, tbl regclass): dumper_join_side_covered,
 * for the view dumper_registrations.
 */
Datum
dumper_join_covers(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dumper_join_side_covered(PG_GETARG_OID(0), PG_GETARG_OID(1)));
}

/*
 * Install the join triggers on relid and remember it in dumper.join_table
 * (explicit: registered with dumper_register_join, kept until the table is
 * dropped).
 */
void
dumper_install_join(Oid relid, bool explicit)
{
	Oid			argtypes[2] = {OIDOID, BOOLOID};
	Datum		args[2];

	registry_ensure_trigger(relid, DUMPER_JOIN_TRIGGER, "join_trigger", true, TRIGGER_TYPE_AFTER,
							TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE,
							InvalidOid);
	dumper_install_truncate_triggers(relid, DUMPER_JOIN_TRUNCATE_TRIGGER, InvalidOid);
	args[0] = ObjectIdGetDatum(relid);
	args[1] = BoolGetDatum(explicit);
	SPI_connect();
	dumper_execute_as_owner("INSERT INTO dumper.join_table (tbl, explicit)"
					 " VALUES ($1::pg_catalog.regclass, $2)"
					 " ON CONFLICT ((tbl::pg_catalog.oid)) DO UPDATE"
					 " SET explicit = dumper.join_table.explicit OR EXCLUDED.explicit",
					 2, argtypes, args, NULL, SPI_OK_INSERT);
	SPI_finish();
	CacheInvalidateRelcacheByRelid(relid);
}

/* The tables with a foreign key referencing relid. */
static List *
registry_referencing_tables(Oid relid)
{
	return dumper_query_oids("SELECT DISTINCT conrelid FROM pg_catalog.pg_constraint"
							   " WHERE contype OPERATOR(pg_catalog.=) 'f'"
							   " AND confrelid OPERATOR(pg_catalog.=) $1"
							   " AND conparentid OPERATOR(pg_catalog.=) 0",
							   relid);
}

/*
 * After relid was registered: cover the pure join tables referencing it
 * that have a side the rule lets them cover (dumper_join_check_sides, which
 * names the sides they may not), and make every join table referencing it
 * rebuild its sides.  A referencing table is only read (AccessShareLock,
 * released at once) unless it gets its triggers: a table dumper does not
 * cover must not have its writers held up by a registration.
 */
static void
registry_sync_joins(Oid relid)
{
	ListCell   *lc;

	foreach(lc, registry_referencing_tables(relid))
	{
		Oid			joinid = lfirst_oid(lc);
		Relation	join = try_relation_open(joinid, AccessShareLock);
		bool		install;

		if (join == NULL)
			continue;			/* dropped meanwhile */
		install = dumper_is_pure_join_table(join) && dumper_join_check_sides(join);
		CacheInvalidateRelcache(join);
		relation_close(join, AccessShareLock);
		if (!install)
			continue;
		/* Locked now: dropped or given a column of its own meanwhile? */
		LockRelationOid(joinid, ShareRowExclusiveLock);
		join = try_relation_open(joinid, NoLock);
		if (join == NULL)
			continue;
		if (dumper_is_pure_join_table(join))
			dumper_install_join(joinid, false);
		relation_close(join, NoLock);
	}
}

/*
 * A copy of rel's foreign keys (ForeignKeyCacheInfo), in the current memory
 * context.  RelationGetFKeyList's list belongs to the relcache entry, and
 * any catalog access (SPI, a lookup of a registration) may rebuild the entry
 * and free it under a loop.
 */
List *
dumper_fkey_list(Relation rel)
{
	return copyObject(RelationGetFKeyList(rel));
}

/*
 * After ALTER TABLE ... DETACH PARTITION detached partid (partition.c
 * notes which one at ddl_command_start): drop the TRUNCATE triggers of
 * partid and of its own partitions that no registration covers any more
 * (statement triggers are not clones that DETACH removes).  Only a DETACH
 * makes a table's dumper_truncate stale, so only the tables it detached
 * are looked at: a sweep of every table would drop the triggers a restore
 * brought back before the rows of dumper.registration that cover them
 * (pg_restore -j may load those rows after the post-data items).
 * performDeletion takes the table's lock; the DETACH holds partid's.
 */
void
dumper_drop_detached_truncate_triggers(Oid partid)
{
	ListCell   *lc;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(partid)))
		return;
	foreach(lc, find_all_inheritors(partid, NoLock, NULL))
	{
		Oid			relid = lfirst_oid(lc);
		DumperRegistration reg;

		if (registry_has_trigger(relid, DUMPER_TRUNCATE_TRIGGER) &&
			!OidIsValid(dumper_registered_table(relid, &reg)))
			registry_drop_trigger(relid, DUMPER_TRUNCATE_TRIGGER);
	}
}

/*
 * After relid was unregistered: drop the join triggers of the join tables
 * that no longer cover any registered table (unless registered
 * explicitly).  A referencing table is only read (AccessShareLock, released
 * at once); dropping triggers locks the tables that have them.
 */
static void
registry_release_joins(Oid relid)
{
	ListCell   *lc;

	foreach(lc, registry_referencing_tables(relid))
	{
		Oid			joinid = lfirst_oid(lc);
		Relation	join = try_relation_open(joinid, AccessShareLock);
		bool		serves = false;
		ListCell   *fc;
		Oid			argtypes[1] = {OIDOID};
		Datum		args[1];

		if (join == NULL)
			continue;			/* dropped meanwhile */
		foreach(fc, dumper_fkey_list(join))
		{
			ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, fc);

			if (fk->confrelid != relid &&
				dumper_join_side_covered(joinid, fk->confrelid))
				serves = true;
		}
		CacheInvalidateRelcache(join);
		relation_close(join, AccessShareLock);
		if (serves)
			continue;
		args[0] = ObjectIdGetDatum(joinid);
		SPI_connect();
		dumper_execute_as_owner("DELETE FROM dumper.join_table"
								" WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
								" AND NOT explicit",
								1, argtypes, args, NULL, SPI_OK_DELETE);
		if (SPI_processed > 0)
		{
			registry_drop_trigger(joinid, DUMPER_JOIN_TRIGGER);
			registry_drop_trigger(joinid, DUMPER_JOIN_TRUNCATE_TRIGGER);
		}
		SPI_finish();
	}
}

/*
 * Refuse a caller who does not own relid before locking it: a lock request
 * queued behind a long transaction would block every writer of the table,
 * and only its owner may cause that (as RangeVarGetRelidExtended's
 * callbacks do for ALTER TABLE).  Checked again once locked.
 */
static void
registry_check_owner_unlocked(Oid relid)
{
	char	   *relname = get_rel_name(relid);

	if (relname != NULL && !pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   relname);
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

	registry_check_owner_unlocked(relid);
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
	if (relkind == RELKIND_RELATION &&
		find_inheritance_children(relid, NoLock) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot register \"%s\" because it has inheritance children", relname),
				 errdetail("Rows of a child written through its parent fire the child's triggers only, and would invalidate nothing."),
				 errhint("Register each child, or make \"%s\" a partitioned table, whose partitions dumper covers.",
						 relname)));
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
	DumperRegistration old;
	bool		registered;
	Relation	rel;
	Oid			argtypes[5] = {OIDOID, NAMEOID, NAMEOID, OIDOID, TEXTARRAYOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	NameData	schema;
	NameData	name;
	ArrayType  *templates = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table to register must not be NULL")));
	relid = PG_GETARG_OID(0);
	funcoid = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);

	rel = registry_open_table(relid);
	if (!PG_ARGISNULL(2))
	{
		if (OidIsValid(funcoid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot register table \"%s\" with both a paths function and templates",
							RelationGetRelationName(rel)),
					 errhint("Pass either paths or templates.")));
		templates = registry_check_templates(rel, PG_GETARG_ARRAYTYPE_P(2));
	}
	else
		funcoid = registry_paths_function(rel, funcoid);
	registered = dumper_registration_read(relid, &old);

	SPI_connect();
	args[0] = ObjectIdGetDatum(relid);
	if (OidIsValid(funcoid))
	{
		/* Schema and name too: what a dump and pg_upgrade carry. */
		namestrcpy(&schema, get_namespace_name(get_func_namespace(funcoid)));
		namestrcpy(&name, get_func_name(funcoid));
		args[1] = NameGetDatum(&schema);
		args[2] = NameGetDatum(&name);
	}
	else
		nulls[1] = nulls[2] = nulls[3] = 'n';
	args[3] = ObjectIdGetDatum(funcoid);
	args[4] = PointerGetDatum(templates);
	nulls[4] = templates ? ' ' : 'n';
	dumper_execute_as_owner("DELETE FROM dumper.registration"
					 " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					 1, argtypes, args, NULL, SPI_OK_DELETE);
	dumper_execute_as_owner("INSERT INTO dumper.registration"
					 " (tbl, paths_schema, paths_name, paths_oid, templates)"
					 " VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5)",
					 5, argtypes, args, nulls, SPI_OK_INSERT);
	SPI_finish();

	/* Another function (or none): the triggers must depend on it instead. */
	if (registered && old.funcoid != funcoid)
		registry_remove_table_triggers(relid);
	registry_install_table_triggers(relid, funcoid);
	registry_sync_joins(relid);
	registry_invalidate_tree(relid);
	/* Misconfiguration is loud: its writes would leave pages stale. */
	dumper_warn_if_unserved(psprintf("table \"%s\" was registered",
									 RelationGetRelationName(rel)), true);
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
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	registry_check_owner_unlocked(relid);
	rel = try_relation_open(relid, ShareRowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	SPI_connect();
	args[0] = ObjectIdGetDatum(relid);
	dumper_execute_as_owner("DELETE FROM dumper.registration"
					 " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					 1, argtypes, args, NULL, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" is not registered with dumper",
						RelationGetRelationName(rel)),
				 errhint("The view dumper_registrations lists registered tables.")));
	SPI_finish();

	registry_remove_table_triggers(relid);
	registry_release_joins(relid);
	registry_invalidate_tree(relid);
	table_close(rel, NoLock);

	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dumper_register_join);

/*
 * dumper_register_join(tbl regclass): treat tbl as a join table although it
 * has columns of its own (a through table with extra fields).
 */
Datum
dumper_register_join(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = registry_open_table(relid);

	if (RelationGetFKeyList(rel) == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has no foreign key", RelationGetRelationName(rel)),
				 errdetail("A join table references the tables it joins with foreign keys.")));
	dumper_install_join(relid, true);
	table_close(rel, NoLock);
	PG_RETURN_VOID();
}
