/*-------------------------------------------------------------------------
 *
 * owner.c
 *	  Running dumper's own statements: as the extension's owner, under a
 *	  pinned search_path.
 *
 * Ordinary roles have no privilege on schema dumper, so the statements that
 * read or write its tables on their behalf (registering, the DDL event
 * triggers, the worker) run as the extension's owner, a superuser.  Every
 * such statement runs inside a DumperOwnerScope, the one place where the
 * identity changes, and which does what PostgreSQL's own maintenance
 * commands do around a table owner's code:
 *
 *	- the role is the extension's owner, with SECURITY_RESTRICTED_OPERATION
 *	  (no SET ROLE, no temporary objects), and
 *	- search_path is "pg_catalog, pg_temp" in a GUC nest level of its own,
 *	  undone on exit (and by any abort, with the identity).
 *
 * So no operator or function of another role's schema can be picked by
 * name resolution, whatever the caller's search_path, ALTER ROLE or ALTER
 * DATABASE settings: a row comparison (a, b) = (c, d), IS DISTINCT FROM or
 * an unqualified function would otherwise resolve through the caller's
 * search_path and run that role's code as a superuser.  The statements also
 * name every object and operator with its schema, so that they mean the
 * same under any search_path; the pin is what keeps a statement that forgot
 * one safe.  Statements that run as the caller (reading a table to gather
 * its paths) pin search_path the same way without changing the identity
 * (dumper_query_oids).
 *
 * Errors: a statement may ereport; the transaction's (or subtransaction's)
 * abort restores the identity and the GUC nest level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "dumper.h"

/* The search_path of every statement dumper runs. */
#define OWNER_SEARCH_PATH	"pg_catalog, pg_temp"

/*
 * Pin search_path for the statements that follow, in a GUC nest level of
 * its own; returns the level to give to dumper_unpin_search_path.
 */
int
dumper_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", OWNER_SEARCH_PATH, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* Undo dumper_pin_search_path. */
void
dumper_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

/*
 * Become the extension's owner, restricted, under the pinned search_path,
 * until dumper_owner_exit(scope).
 */
void
dumper_owner_enter(DumperOwnerScope *scope)
{
	Oid			owner = dumper_internal_owner();

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(owner, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->save_nestlevel = dumper_pin_search_path();
}

/* Leave the scope dumper_owner_enter opened. */
void
dumper_owner_exit(DumperOwnerScope *scope)
{
	dumper_unpin_search_path(scope->save_nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

/*
 * Run an internal statement (SQL text naming every object and operator with
 * its schema) on dumper's tables as the extension's owner, inside SPI;
 * ereport unless SPI returns expected.
 */
void
dumper_execute_as_owner(const char *sql, int nargs, Oid *argtypes, Datum *args,
						const char *nulls, int expected)
{
	DumperOwnerScope scope;
	int			ret;

	dumper_owner_enter(&scope);
	ret = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0);
	dumper_owner_exit(&scope);
	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
}
