/*-------------------------------------------------------------------------
 *
 * rewrite.c
 *	  ALTER TABLE ... ALTER COLUMN ... TYPE: the paths of every row it
 *	  rewrites, before and after.
 *
 * Changing a column's type (SET DATA TYPE, with or without USING) rewrites
 * every value of that column, and so what a template or a paths function
 * makes of it, but fires no row trigger.  Like TRUNCATE (truncate.c), such
 * an ALTER TABLE gathers the paths of every row of each table it rewrites
 * that a registration covers (a registered table, or a partition of one):
 * before the command, from the old values, and after it, from the new ones,
 * so the pages of both are invalidated.  It runs from the ProcessUtility
 * hook (utility.c), which exists only when dumper is in
 * shared_preload_libraries (docs/invalidation.md), as the command's role;
 * the paths go with the command's transaction, so a command that fails
 * invalidates nothing.
 *
 * Which tables: the table named and, unless ONLY, every table inheriting
 * from it, as the command itself recurses; for ALTER TYPE ... ALTER
 * ATTRIBUTE ... TYPE ... CASCADE of a composite type (the same statement
 * node), the typed tables of the type and those inheriting from them.
 * Those covered by a registration are read, each through its own rows
 * (ONLY), as rows of its registered table.  Join tables are not read:
 * their join triggers read key columns, whose values a type change keeps
 * (their foreign keys must still hold).
 *
 * Locks: the rows are read after taking the locks the command is about to
 * take, in its order (the named table, then find_all_inheritors' order, or
 * the typed tables in the order of a scan of pg_class, as the command),
 * in the mode it takes (AccessExclusiveLock, what ALTER COLUMN TYPE takes
 * whatever the other subcommands are), so no writer can add a row between
 * the read and the rewrite; after the command, the same locks are still
 * held.  Nothing is locked or read unless the current role owns the table
 * (or type) named (the command checks that before it locks anything:
 * dumper must not make a role that would fail queue a strong lock behind
 * another session's transaction), nor unless a registration covers one
 * of the tables, which is checked before locking: ALTER TABLE of a table
 * dumper does not cover gets no lock from it.  The price, as in partition.c, is a window between
 * that check and the command's lock in which a registration that commits
 * leaves this rewrite uninvalidated.
 *
 * Errors: those of the paths function, a role that may not read a table
 * it rewrites, and row-level security hiding rows from it (truncate.c: the
 * table's owner with FORCE ROW LEVEL SECURITY); the command fails rather
 * than leave pages stale.
 *
 * Not covered (docs/invalidation.md): other commands that change what paths a
 * row gives without writing it, such as ALTER TYPE ... RENAME VALUE of an
 * enum; ADD COLUMN with a volatile DEFAULT needs nothing (it fills a new
 * column, which no existing template can name).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "dumper.h"
#include "registration.h"

#define REWRITE_RLS_HINT \
	"Run the command as a role with BYPASSRLS, or turn FORCE ROW LEVEL SECURITY off for it."

/*
 * Whether an ALTER TABLE changes the type of a column, rewriting it, or an
 * ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE changes the type of
 * an attribute of a composite type, rewriting its typed tables (without
 * CASCADE, it fails on a type with typed tables).
 */
static bool
rewrite_changes_type(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_TYPE)
		return false;			/* a foreign table's rows are elsewhere */
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AlterColumnType &&
			(stmt->objtype == OBJECT_TABLE || cmd->behavior == DROP_CASCADE))
			return true;
	}
	return false;
}

/*
 * The tables the command rewrites, locked in lockmode (NoLock: not locked)
 * in the order the command locks them, relid itself (locked by the caller)
 * first.  A table: relid and, unless ONLY, every table inheriting from it
 * (find_all_inheritors, as ATPrepAlterColumnType).  A composite type: each
 * typed table of its row type, in the order of a scan of pg_class (as
 * find_typed_table_dependencies), each followed by the tables inheriting
 * from it (ATTypedTableRecursion recurses).
 */
static List *
rewrite_tables(AlterTableStmt *stmt, Oid relid, LOCKMODE lockmode)
{
	ScanKeyData key;
	Relation	classrel;
	TableScanDesc scan;
	HeapTuple	tuple;
	List	   *typed = NIL;
	List	   *result = list_make1_oid(relid);
	ListCell   *lc;

	if (get_rel_relkind(relid) != RELKIND_COMPOSITE_TYPE)
		return stmt->relation->inh ? find_all_inheritors(relid, lockmode, NULL)
			: result;
	ScanKeyInit(&key, Anum_pg_class_reloftype, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(get_rel_type_id(relid)));
	classrel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classrel, 1, &key);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		typed = lappend_oid(typed, ((Form_pg_class) GETSTRUCT(tuple))->oid);
	table_endscan(scan);
	table_close(classrel, AccessShareLock);
	foreach(lc, typed)
	{
		if (lockmode != NoLock)
			LockRelationOid(lfirst_oid(lc), lockmode);
		result = list_concat(result,
							 find_all_inheritors(lfirst_oid(lc), lockmode, NULL));
	}
	return result;
}

/*
 * The tables among relids that a registration covers and that hold rows of
 * their own (plain tables: a partitioned table has none).
 */
static List *
rewrite_covered(List *relids)
{
	List	   *covered = NIL;
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		DumperRegistration reg;

		if (get_rel_relkind(relid) == RELKIND_RELATION &&
			OidIsValid(dumper_registered_table(relid, &reg)))
			covered = lappend_oid(covered, relid);
	}
	return covered;
}

/* Error context: whose rows were being read. */
static void
rewrite_error_callback(void *arg)
{
	errcontext("gathering invalidation paths of the rows of table \"%s\" rewritten by ALTER TABLE",
			   get_rel_name(*(Oid *) arg));
}

/*
 * Gather the paths of every row of each table of relids, as rows of the
 * registered table covering it (looked up again: the caller holds the
 * locks now).
 */
static void
rewrite_gather(List *relids)
{
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		DumperRegistration reg;
		Oid			regrelid = dumper_registered_table(relid, &reg);
		ErrorContextCallback errcallback;

		if (!OidIsValid(regrelid))
			continue;
		errcallback.callback = rewrite_error_callback;
		errcallback.arg = &relid;
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
		if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to read table \"%s\" for dumper's invalidation",
							get_rel_name(relid)),
					 errdetail("ALTER TABLE rewrites its rows, and the paths of their pages must be invalidated."),
					 errhint("Grant SELECT on it to role \"%s\", or run the command as a role that may read it.",
							 GetUserNameFromId(GetUserId(), false))));
		SPI_connect();
		dumper_gather_table(relid, true, regrelid, &reg, REWRITE_RLS_HINT);
		SPI_finish();
		error_context_stack = errcallback.previous;
	}
}

/*
 * Before an ALTER TABLE that changes a column's type: lock what the
 * command will lock, when the current role owns the table named and a
 * registration covers one of the tables it rewrites, and gather the paths
 * of their rows.  Returns the tables to read again after the command (NIL
 * when none).
 */
static List *
rewrite_before(AlterTableStmt *stmt)
{
	Oid			relid;
	List	   *relids;
	Oid			extoid;

	if (!dumper_enabled || !rewrite_changes_type(stmt))
		return NIL;
	/* No registration without the extension, nor in its own script. */
	extoid = get_extension_oid("dumper", true);
	if (!OidIsValid(extoid) ||
		(creating_extension && CurrentExtensionObject == extoid))
		return NIL;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || !pg_class_ownercheck(relid, GetUserId()))
		return NIL;				/* the command says why, without our lock */
	/* ALTER TABLE of a composite type, ALTER TYPE of a table: refused. */
	if ((get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE) !=
		(stmt->objtype == OBJECT_TYPE))
		return NIL;
	relids = rewrite_tables(stmt, relid, NoLock);
	if (rewrite_covered(relids) == NIL)
		return NIL;

	/* The command's locks, in its order. */
	LockRelationOid(relid, AccessExclusiveLock);
	if (get_rel_relkind(relid) == '\0')
		return NIL;				/* dropped while we waited: it will say so */
	relids = rewrite_covered(rewrite_tables(stmt, relid, AccessExclusiveLock));
	rewrite_gather(relids);
	return relids;
}

/*
 * The ProcessUtility hook's part (utility.c calls it in place of running
 * the statement with next): an ALTER TABLE changing a column's type gathers
 * the paths of the rows it rewrites before and after running; any other
 * statement just runs.
 */
void
dumper_rewrite_utility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc,
					   ProcessUtility_hook_type next)
{
	List	   *relids = NIL;

	if (IsA(pstmt->utilityStmt, AlterTableStmt))
		relids = rewrite_before((AlterTableStmt *) pstmt->utilityStmt);
	next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	if (relids != NIL)
		rewrite_gather(relids);
}
