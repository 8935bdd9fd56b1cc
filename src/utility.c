/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  dumper's ProcessUtility hook: the statements other files must see run.
 *
 * Three kinds of utility statement concern dumper, each handled by its own
 * file: PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED
 * (twophase.c: waking the worker after COMMIT PREPARED); a COPY or a
 * COMMENT, whose object restore.c compares with dumper's before it runs,
 * and a COPY into dumper.registration, after which the restored triggers
 * get their dependencies (ddl.c); an ALTER TABLE or ALTER TYPE, which
 * rewrite.c reads (its rows' paths, when it changes a column's type).
 *
 * Rules: installed only with shared_preload_libraries (twophase.c's table
 * comes with it); chains to the previous hook; adds no work to any other
 * statement but type tests.
 * Errors: none of its own (the files it calls raise theirs).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "capture.h"
#include "registration.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* Run the statement through the next hook, or PostgreSQL's own. */
static void
utility_next(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			 ProcessUtilityContext context, ParamListInfo params,
			 QueryEnvironment *queryEnv, DestReceiver *dest,
			 QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * Run the statement; a COPY or a COMMENT is first checked by restore.c, a
 * two-phase statement is run by twophase.c, any other by rewrite.c (which
 * runs it through utility_next), and a COPY into dumper.registration that
 * succeeded is followed by the restore's trigger dependencies.
 */
static void
utility_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, CopyStmt) || IsA(parsetree, CommentStmt))
		dumper_restore_check_statement(parsetree);
	if (dumper_twophase_utility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc, utility_next))
		return;
	/* rewrite.c: an ALTER TABLE rewriting a covered table's rows */
	dumper_rewrite_utility(pstmt, queryString, readOnlyTree, context,
						   params, queryEnv, dest, qc, utility_next);
	if (dumper_restore_loaded_registrations(parsetree))
		dumper_sync_restored_registrations();
}

/* Install the hook; from _PG_init, with shared_preload_libraries only. */
void
dumper_utility_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = utility_process_utility;
}
