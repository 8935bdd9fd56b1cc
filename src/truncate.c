/*-------------------------------------------------------------------------
 *
 * truncate.c
 *	  TRUNCATE: the paths of every row it removes.
 *
 * dumper.truncate_trigger() fires BEFORE TRUNCATE FOR EACH STATEMENT, when
 * the rows can still be read.  As trigger "dumper_truncate" on a registered
 * table, or on a leaf partition of one, it gathers the paths of every row of
 * that table (a partition's rows are converted to the registered row type by
 * column name).  As trigger "dumper_join_truncate" on a join table, it
 * gathers the paths of every row the join table references on the
 * registered sides its triggers cover (dumper_join_side_covered, registry.c:
 * no other role's paths function runs in its writes).  TRUNCATE ...
 * CASCADE fires the triggers of every table it truncates, all before any of
 * them is emptied, so each is covered.
 *
 * The rows are read under a snapshot taken in the trigger, so rows committed
 * while TRUNCATE waited for its lock are covered too, and as the truncating
 * role, which row-level security must not restrict: TRUNCATE removes the
 * rows it would hide (truncate_refuse_row_security).
 *
 * Rows are read through a cursor in chunks: memory holds the set of distinct
 * paths (pathset.c), not the table.  TRUNCATE is rare, so the queries are
 * planned per statement rather than cached.  The two readers,
 * dumper_gather_table and dumper_gather_join, also serve partitions
 * attached, detached or dropped (partition.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "dumper.h"
#include "registration.h"
#include "spi.h"

#define TRUNCATE_FETCH	1000

#define TRUNCATE_RLS_HINT \
	"Truncate as the table's owner or as a role with BYPASSRLS, or use DELETE."

/*
 * Run query through a cursor and gather the texts of its first column.
 *
 * It reads under a snapshot taken now, not the statement's or the
 * transaction's: TRUNCATE removes every row, including rows committed
 * after those were taken (while it waited for its lock, or since a
 * REPEATABLE READ transaction began), and each needs its paths.  The lock
 * TRUNCATE holds keeps any other writer of the table out, so this
 * snapshot sees exactly the rows it removes.  The cursor runs read-only
 * under that snapshot, whatever the paths function's volatility (a
 * VOLATILE function's own queries still take their own snapshots).
 */
static void
truncate_gather_query(const char *query)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare(\"%s\") failed: %s",
			 query, SPI_result_code_string(SPI_result));
	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, TRUNCATE_FETCH);
		if (SPI_processed == 0)
			break;
		dumper_gather_tuptable();
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	PopActiveSnapshot();
	SPI_freeplan(plan);
}

/*
 * Refuse to read relid for invalidation when row-level security applies to
 * the current role there: TRUNCATE (or the DDL of partition.c) removes the
 * rows it would hide, without their paths.  Like a missing SELECT
 * privilege, it fails the command rather than drop an invalidation.  The
 * table's owner (unless FORCE ROW LEVEL SECURITY) and roles with BYPASSRLS
 * read every row.  hint: what the user can do instead.
 */
static void
truncate_refuse_row_security(Oid relid, const char *hint)
{
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("row-level security keeps dumper from reading every row of table \"%s\"",
						get_rel_name(relid)),
				 errdetail("Row-level security applies to role \"%s\" there, and the paths of the rows its policies hide would not be invalidated.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("%s", hint)));
}

/*
 * The SQL expression giving row, a row of a table whose columns have the
 * names of regrelid's (a partition of it, or one being attached), as a row
 * of regrelid's type: ROW(row.a, row.b, ...)::schema.regrel.  Shared with
 * preview.c.
 */
char *
dumper_row_as(Oid regrelid, const char *row)
{
	StringInfoData buf;
	Relation	regrel = table_open(regrelid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(regrel);
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ROW(");
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&buf, "%s%s.%s", first ? "" : ", ", row,
						 quote_identifier(NameStr(att->attname)));
		first = false;
	}
	appendStringInfo(&buf, ")::%s", dumper_qualified_relname(regrelid));
	table_close(regrel, AccessShareLock);
	return buf.data;
}

/*
 * Gather the paths of every row of table relid (only its own rows, or also
 * those of its partitions) as rows of registered table regrelid, whose
 * registration is reg: relid is regrelid, or a table whose columns have
 * the same names (a partition, or a table being attached as one), whose
 * rows are converted to regrelid's row type by column name.  Must be called
 * inside SPI, with a lock on relid that keeps its writers out; rls_hint is
 * the hint of the error raised when row-level security would hide rows.
 * Shared with partition.c.
 */
void
dumper_gather_table(Oid relid, bool only, Oid regrelid,
					const DumperRegistration *reg, const char *rls_hint)
{
	const char *rowexpr;
	char	   *expr;

	rowexpr = (regrelid == relid) ? "r" : dumper_row_as(regrelid, "r");
	truncate_refuse_row_security(relid, rls_hint);
	expr = dumper_paths_expr(reg, regrelid, rowexpr, NULL);
	truncate_gather_query(psprintf("SELECT %s FROM %s%s AS r", expr,
								   only ? "ONLY " : "", dumper_qualified_relname(relid)));
}

/*
 * The paths of every row of rel, a registered table or a partition of one.
 */
static void
truncate_registered(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	DumperRegistration reg;
	Oid			regrelid = dumper_registered_table(relid, &reg);

	/*
	 * Not covered by any registration (the trigger of a restored table
	 * whose row of dumper.registration is not restored yet, say).  Nothing
	 * to invalidate.
	 */
	if (!OidIsValid(regrelid))
		return;
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return;					/* no rows of its own: its partitions fire */
	dumper_gather_table(relid, true, regrelid, &reg, TRUNCATE_RLS_HINT);
}

/*
 * Gather the paths of every row that the rows of table relid (only its own
 * rows, or also those of its partitions) reference on the sides of join
 * table keyrel that its join triggers cover (dumper_join_side_covered).
 * relid is keyrel itself, a partition of it, or a table being attached to
 * it: its key columns are found by the names of keyrel's.  Must be called inside SPI, with a lock on relid that keeps
 * its writers out; rls_hint as for dumper_gather_table.  Shared with
 * partition.c.
 */
void
dumper_gather_join(Relation keyrel, Oid relid, bool only, const char *rls_hint)
{
	ListCell   *lc;

	foreach(lc, dumper_fkey_list(keyrel))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		DumperRegistration reg;
		StringInfoData query;

		/* The rule (registry.c): no other role's paths function runs here. */
		if (!dumper_join_side_covered(RelationGetRelid(keyrel), fk->confrelid) ||
			!dumper_registration_read(fk->confrelid, &reg))
			continue;
		truncate_refuse_row_security(relid, rls_hint);
		truncate_refuse_row_security(fk->confrelid, rls_hint);
		initStringInfo(&query);
		appendStringInfo(&query,
						 "SELECT %s FROM %s AS r WHERE EXISTS (SELECT FROM %s%s AS j WHERE ",
						 dumper_paths_expr(&reg, fk->confrelid, "r", NULL),
						 dumper_qualified_relname(fk->confrelid),
						 only ? "ONLY " : "", dumper_qualified_relname(relid));
		for (int k = 0; k < fk->nkeys; k++)
			appendStringInfo(&query, "%sr.%s %s j.%s",
							 k > 0 ? " AND " : "",
							 quote_identifier(get_attname(fk->confrelid, fk->confkey[k], false)),
							 dumper_qualified_operator(fk->conpfeqop[k]),
							 quote_identifier(get_attname(RelationGetRelid(keyrel), fk->conkey[k], false)));
		appendStringInfoChar(&query, ')');
		truncate_gather_query(query.data);
	}
}

PG_FUNCTION_INFO_V1(dumper_truncate_trigger);

/*
 * dumper.truncate_trigger(): gather the paths of what a TRUNCATE removes.
 */
Datum
dumper_truncate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.truncate_trigger() was not called by the trigger manager")));
	event = trigdata->tg_event;
	if (!TRIGGER_FIRED_BY_TRUNCATE(event) || !TRIGGER_FIRED_BEFORE(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.truncate_trigger() must be fired BEFORE TRUNCATE")));
	if (!dumper_enabled)
		return PointerGetDatum(NULL);

	SPI_connect();
	if (strcmp(trigdata->tg_trigger->tgname, DUMPER_JOIN_TRUNCATE_TRIGGER) == 0)
		dumper_gather_join(trigdata->tg_relation,
						   RelationGetRelid(trigdata->tg_relation), true,
						   TRUNCATE_RLS_HINT);
	else
		truncate_registered(trigdata->tg_relation);
	SPI_finish();
	return PointerGetDatum(NULL);
}
