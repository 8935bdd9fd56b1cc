/*-------------------------------------------------------------------------
 *
 * twophase.c
 *	  Waking the background worker after COMMIT PREPARED.
 *
 * A prepared transaction writes its paths into dumper.queue at
 * PREPARE TRANSACTION, like any other at pre-commit, but its commit comes
 * later, from whichever session runs COMMIT PREPARED: no commit callback of
 * the writer is left to wake the worker.  A ProcessUtility hook does it
 * instead, once the statement has committed the prepared transaction (its
 * rows are visible to new snapshots from then on).  The block the rows went
 * into is not known here, so the worker is told to scan the queue from its
 * first block.  ROLLBACK PREPARED wakes nobody: its rows vanish.
 *
 * Rules: installed only with shared_preload_libraries (without the worker
 * there is nobody to wake); the hook chains to the previous one and adds no
 * work to any other statement than a type test.  Errors: none of its own;
 * a failing COMMIT PREPARED throws before the wake-up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "dumper.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * Run the statement, then wake the worker if it was a COMMIT PREPARED.
 */
static void
twophase_process_utility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		commit_prepared = IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED;

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (commit_prepared)
		dumper_wake_worker(0, InvalidBlockNumber);
}

/* Install the hook; from _PG_init, with shared_preload_libraries only. */
void
dumper_twophase_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = twophase_process_utility;
}
