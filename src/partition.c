/*-------------------------------------------------------------------------
 *
 * partition.c
 *	  Partitions attached, detached or dropped: the paths of the rows that
 *	  enter or leave a registered table (or a covered join table).
 *
 * ALTER TABLE ... ATTACH PARTITION, ALTER TABLE ... DETACH PARTITION and
 * DROP TABLE of a partition change what a registered partitioned table
 * holds without writing a row, so no row trigger fires.  Like TRUNCATE
 * (truncate.c), they gather the paths of every row concerned: those of the
 * partition (with its own partitions) as rows of the registered table, or,
 * under a covered join table, the rows those join rows reference.  This
 * runs at ddl_command_start (dumper.on_ddl_start, ddl.c), while the rows
 * can still be read; the paths are queued with the command's transaction,
 * so a command that fails invalidates nothing.
 *
 * Locks: the rows are read after taking the locks the command itself is
 * about to take, in its order (the parent, for DETACH its default partition,
 * then the partition), so no writer can add a row between the read and the
 * command.  DETACH ... CONCURRENTLY takes weaker locks: a row written to the
 * partition meanwhile gets paths from its own trigger (docs/invalidation.md).
 * Nothing is locked or read unless the current role owns the tables the
 * command needs it to own (ATTACH: both; DETACH: the parent; DROP TABLE: the
 * partition): the command would fail on its own, and must not queue behind
 * another session's lock first.  Nor is anything locked when the parent
 * is not covered (not registered, no join trigger), which is checked
 * before locking: dumper must not change the locking of DDL on tables it
 * has nothing to do with.  The price is a window between that check and
 * the command's own lock, in which a registration of the parent that
 * commits leaves the rows moved by this command uninvalidated; once the
 * command holds its lock, dumper_register waits for it.  Reading the
 * partition takes SELECT on it, as for TRUNCATE: a DETACH by the parent's
 * owner who may not read a partition owned by another role fails rather
 * than leave its pages stale.
 *
 * Detached partitions: a partition's dumper_truncate is not a clone that
 * DETACH removes, so the partition an ALTER TABLE ... DETACH PARTITION
 * (or DETACH ... FINALIZE) names is noted at ddl_command_start, whatever
 * dumper.enabled says, and at ddl_command_end of that ALTER TABLE
 * (dumper.sync_table of the partitioned table, ddl.c) its dumper_truncate
 * and its own partitions' are dropped when no registration covers them
 * any more (dumper_drop_detached_truncate_triggers).  Nothing else drops a
 * dumper_truncate as stale.
 *
 * Not covered: a partition whose parent is dropped with it (the whole
 * registered table goes, like DROP TABLE of a registered table),
 * partitions dropped by DROP SCHEMA or DROP OWNED, and foreign tables
 * (their rows are on another server).
 *
 * Errors: those of the paths function, a role that may not read the
 * partition, and row-level security hiding rows from it (truncate.c): the
 * command fails rather than leave pages stale.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "dumper.h"
#include "registration.h"

#define PARTITION_RLS_HINT \
	"Run the command as a role with BYPASSRLS, or delete the rows first."

/*
 * Whether table relid has every column of registered table regrelid, by
 * name and type: a table being attached that does not is refused by
 * ATTACH PARTITION itself, with a better message than a failing read.
 */
static bool
partition_columns_match(Oid relid, Oid regrelid)
{
	Relation	regrel = table_open(regrelid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(regrel);
	bool		match = true;

	for (int i = 0; i < desc->natts && match; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	attnum;

		if (att->attisdropped)
			continue;
		attnum = get_attnum(relid, NameStr(att->attname));
		match = (attnum != InvalidAttrNumber &&
				 get_atttype(relid, attnum) == att->atttypid);
	}
	table_close(regrel, AccessShareLock);
	return match;
}

/* Error context: whose rows were being read. */
static void
partition_error_callback(void *arg)
{
	errcontext("gathering invalidation paths of the rows of partition \"%s\"",
			   get_rel_name(*(Oid *) arg));
}

/*
 * Gather the paths of every row of table partid (and of its partitions)
 * entering or leaving partitioned table parentid, when that table is
 * registered (or a partition of a registered table) or a covered join
 * table.  The callers hold the locks.
 */
static void
partition_gather(Oid parentid, Oid partid)
{
	DumperRegistration reg;
	Oid			regrelid = dumper_registered_table(parentid, &reg);
	bool		join = OidIsValid(get_trigger_oid(parentid, DUMPER_JOIN_TRIGGER, true));
	ErrorContextCallback errcallback;

	if (!OidIsValid(regrelid) && !join)
		return;
	errcallback.callback = partition_error_callback;
	errcallback.arg = &partid;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	if (pg_class_aclcheck(partid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read table \"%s\" for dumper's invalidation",
						get_rel_name(partid)),
				 errdetail("Its rows enter or leave table \"%s\", and the paths of their pages must be invalidated.",
						   get_rel_name(parentid)),
				 errhint("Grant SELECT on it to role \"%s\", or run the command as a role that may read it.",
						 GetUserNameFromId(GetUserId(), false))));
	SPI_connect();
	if (OidIsValid(regrelid) && partition_columns_match(partid, regrelid))
		dumper_gather_table(partid, false, regrelid, &reg, PARTITION_RLS_HINT);
	if (join)
	{
		Relation	parent = table_open(parentid, AccessShareLock);

		if (partition_columns_match(partid, parentid))
			dumper_gather_join(parent, partid, false, PARTITION_RLS_HINT);
		table_close(parent, AccessShareLock);
	}
	SPI_finish();
	error_context_stack = errcallback.previous;
}

/* Which tables a command requires its role to own. */
#define PARTITION_OWN_PARENT	0x01
#define PARTITION_OWN_PART		0x02

/*
 * Whether partitioned table parentid is one whose partitions' rows dumper
 * invalidates: registered (or a partition of a registered table), or a
 * join table carrying dumper's join trigger.  Read without a lock.
 */
static bool
partition_parent_covered(Oid parentid)
{
	DumperRegistration reg;

	return OidIsValid(dumper_registered_table(parentid, &reg)) ||
		OidIsValid(get_trigger_oid(parentid, DUMPER_JOIN_TRIGGER, true));
}

/*
 * Lock parentid, its default partition when lock_default (as a DETACH
 * does), and then partid, in the modes the command takes, and gather the
 * paths of partid's rows, if the current role owns the tables the command
 * requires it to own (own: PARTITION_OWN_* flags) and parentid is covered:
 * a command on tables dumper does not cover gets no lock from dumper
 * (partition_gather looks again once they are locked).
 */
static void
partition_lock_and_gather(Oid parentid, LOCKMODE parentmode, bool lock_default,
						  Oid partid, LOCKMODE partmode, int own)
{
	char		kind = get_rel_relkind(partid);

	/* A foreign table's rows are elsewhere: not read (docs/invalidation.md). */
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		return;
	if (!OidIsValid(parentid) ||
		((own & PARTITION_OWN_PART) && !pg_class_ownercheck(partid, GetUserId())) ||
		((own & PARTITION_OWN_PARENT) && !pg_class_ownercheck(parentid, GetUserId())))
		return;
	if (!partition_parent_covered(parentid))
		return;
	LockRelationOid(parentid, parentmode);
	if (lock_default)
	{
		Oid			defaultid = get_default_partition_oid(parentid);

		if (OidIsValid(defaultid) && defaultid != partid)
			LockRelationOid(defaultid, AccessExclusiveLock);
	}
	LockRelationOid(partid, partmode);
	/* Gone while we waited: the command will say so. */
	if (get_rel_relkind(parentid) != RELKIND_PARTITIONED_TABLE ||
		get_rel_relkind(partid) == '\0')
		return;
	partition_gather(parentid, partid);
}

/*
 * The partition that the ALTER TABLE being run detaches (DETACH PARTITION
 * or DETACH ... FINALIZE), noted at its ddl_command_start, or InvalidOid.
 * An Oid, not a list in a transaction's memory: DETACH ... CONCURRENTLY
 * commits between ddl_command_start and ddl_command_end.
 */
static Oid	partition_detached = InvalidOid;

/*
 * At ddl_command_start of an ALTER TABLE: note the partition it detaches,
 * if it is a DETACH (forgetting any earlier ALTER TABLE's, which failed).
 */
static void
partition_note_detached(AlterTableStmt *stmt)
{
	AlterTableCmd *cmd;

	partition_detached = InvalidOid;
	if (list_length(stmt->cmds) != 1)
		return;
	cmd = linitial_node(AlterTableCmd, stmt->cmds);
	if (cmd->subtype != AT_DetachPartition && cmd->subtype != AT_DetachPartitionFinalize)
		return;
	partition_detached = RangeVarGetRelid(((PartitionCmd *) cmd->def)->name, NoLock, true);
}

/*
 * At ddl_command_end of an ALTER TABLE of a partitioned table (ddl.c's
 * dumper.sync_table): drop the TRUNCATE triggers the partition it detached
 * no longer needs.
 */
void
dumper_partition_ddl_end(void)
{
	Oid			partid = partition_detached;

	partition_detached = InvalidOid;
	if (OidIsValid(partid))
		dumper_drop_detached_truncate_triggers(partid);
}

/* ALTER TABLE ... ATTACH PARTITION or DETACH PARTITION. */
static void
partition_alter_table(AlterTableStmt *stmt)
{
	AlterTableCmd *cmd;
	PartitionCmd *pcmd;
	Oid			parentid;
	Oid			partid;

	/* Both are single-command statements of their own. */
	if (list_length(stmt->cmds) != 1)
		return;
	cmd = linitial_node(AlterTableCmd, stmt->cmds);
	if (cmd->subtype != AT_AttachPartition && cmd->subtype != AT_DetachPartition)
		return;
	pcmd = (PartitionCmd *) cmd->def;
	parentid = RangeVarGetRelid(stmt->relation, NoLock, true);
	partid = RangeVarGetRelid(pcmd->name, NoLock, true);
	if (!OidIsValid(parentid) || get_rel_relkind(parentid) != RELKIND_PARTITIONED_TABLE)
		return;
	/* ATTACH wants both tables owned, DETACH the parent only. */
	if (cmd->subtype == AT_AttachPartition)
		partition_lock_and_gather(parentid, ShareUpdateExclusiveLock, false,
								  partid, AccessExclusiveLock,
								  PARTITION_OWN_PARENT | PARTITION_OWN_PART);
	else if (pcmd->concurrent)
		partition_lock_and_gather(parentid, ShareUpdateExclusiveLock, false,
								  partid, ShareUpdateExclusiveLock,
								  PARTITION_OWN_PARENT);
	else
		partition_lock_and_gather(parentid, AccessExclusiveLock, true,
								  partid, AccessExclusiveLock,
								  PARTITION_OWN_PARENT);
}

/* Whether any of ancestors is among relids. */
static bool
partition_any_named(List *ancestors, List *relids)
{
	ListCell   *lc;

	foreach(lc, ancestors)
		if (list_member_oid(relids, lfirst_oid(lc)))
			return true;
	return false;
}

/*
 * DROP TABLE: each named table that is a partition, unless its parent (or
 * one of its ancestors) is named too.
 */
static void
partition_drop(DropStmt *stmt)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));

		relids = lappend_oid(relids, RangeVarGetRelid(rv, NoLock, true));
	}
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		List	   *ancestors;

		if (!OidIsValid(relid) || !get_rel_relispartition(relid))
			continue;
		ancestors = get_partition_ancestors(relid);	/* the parent first */
		if (ancestors == NIL || partition_any_named(ancestors, relids))
			continue;
		/* DROP TABLE wants the partition owned, not its parent. */
		partition_lock_and_gather(linitial_oid(ancestors), AccessExclusiveLock, false,
								  relid, AccessExclusiveLock, PARTITION_OWN_PART);
	}
}

/*
 * At ddl_command_start (ddl.c): before a command that attaches, detaches
 * or drops a partition, gather the paths of its rows.  Returns whether
 * parsetree is an ALTER TABLE or a DROP TABLE, this file's statements,
 * whatever it did with them.
 */
bool
dumper_partition_ddl_start(Node *parsetree)
{
	if (parsetree == NULL)
		return false;
	if (IsA(parsetree, AlterTableStmt))
	{
		partition_note_detached((AlterTableStmt *) parsetree);
		if (dumper_enabled)
			partition_alter_table((AlterTableStmt *) parsetree);
		return true;
	}
	if (IsA(parsetree, DropStmt) &&
		((DropStmt *) parsetree)->removeType == OBJECT_TABLE)
	{
		if (dumper_enabled)
			partition_drop((DropStmt *) parsetree);
		return true;
	}
	return false;
}
