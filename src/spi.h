/*-------------------------------------------------------------------------
 *
 * spi.h
 *	  spi.c: running dumper's own statements (as the extension's owner,
 *	  under a pinned search_path) and the SPI helpers several files share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_SPI_H
#define DUMPER_SPI_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/palloc.h"

/* Running dumper's own statements as the extension's owner */
typedef struct DumperOwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} DumperOwnerScope;

extern void dumper_owner_enter(DumperOwnerScope *scope);
extern void dumper_owner_exit(DumperOwnerScope *scope);
extern uint64 dumper_read_by_oid(const char *query, Oid oid);
extern char *dumper_qualified_relname(Oid relid);
extern struct varlena *dumper_tuptable_text(uint64 i);
extern int	dumper_pin_search_path(void);
extern void dumper_unpin_search_path(int nestlevel);
extern void dumper_execute_as_owner(const char *sql, int nargs, Oid *argtypes,
									Datum *args, const char *nulls, int expected);

/* The role that owns dumper's tables; oid queries; paths gathered from SPI */
extern Oid	dumper_internal_owner(void);
extern List *dumper_query_oids(const char *sql, Oid param);
extern List *dumper_tuptable_oids(MemoryContext cxt);
struct _SPI_plan;				/* SPIPlanPtr, without executor/spi.h */
extern void dumper_gather_tuptable(void);
extern void dumper_gather_plan(struct _SPI_plan *plan, Datum *values,
							   const char *nulls, bool read_only);

#endif							/* DUMPER_SPI_H */
