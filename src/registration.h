/*-------------------------------------------------------------------------
 *
 * registration.h
 *	  Registration: which tables are covered and how (registry.c,
 *	  registration.c), the per-backend caches of it (regcache.c, join.c,
 *	  on tablecache.c), the paths of whole tables (truncate.c), and keeping
 *	  it all in step with the schema (ddl.c, partition.c, rewrite.c,
 *	  restore.c, utility.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_REGISTRATION_H
#define DUMPER_REGISTRATION_H

#include "postgres.h"

#include "access/htup.h"
#include "nodes/pg_list.h"
#include "tcop/utility.h"
#include "utils/relcache.h"

/* A table's registration: a paths function or path templates. */
typedef struct DumperRegistration
{
	Oid			funcoid;		/* paths function, or InvalidOid */
	List	   *templates;		/* path templates (char *), or NIL */
} DumperRegistration;

/* registration.c: reading dumper.registration */
extern bool dumper_registration_read(Oid relid, DumperRegistration *reg);
extern Oid	dumper_registered_table(Oid relid, DumperRegistration *reg);

/*
 * tablecache.c: a per-backend cache of per-table entries.  An entry begins
 * with its key, the key with the table's OID; keep says whether the entry
 * must stay although its table was dropped (valid, or in use), release
 * frees what it owns before its removal.
 */
typedef struct DumperTableCache
{
	const char *name;			/* for the hash table */
	Size		keysize;
	Size		entrysize;
	long		nelem;			/* initial size */
	bool		(*keep) (void *entry);
	void		(*release) (void *entry);
	struct HTAB *htab;			/* NULL until the first entry */
	int			created;		/* entries made since the last sweep */
} DumperTableCache;

extern void *dumper_tablecache_enter(DumperTableCache *cache, const void *key,
									 bool *found);

/* regcache.c: per-backend cache of registrations */
struct _SPI_plan;				/* SPIPlanPtr, without executor/spi.h */
extern void dumper_regcache_init(void);
extern void dumper_regcache_gather(Relation rel, HeapTuple tuple,
								   HeapTuple newtuple);
extern char *dumper_paths_expr(const DumperRegistration *reg, Oid relid,
							   const char *rowexpr, bool *read_only);
extern bool dumper_same_columns(TupleDesc desc, const AttrNumber *atts,
								int natts, HeapTuple oldtuple,
								HeapTuple newtuple);

/* join.c: join tables */
extern void dumper_join_init(void);
extern char *dumper_qualified_operator(Oid opoid);

/* registry.c: catalog helpers shared with other files */
extern void dumper_install_truncate_triggers(Oid relid, const char *name, Oid funcoid);
extern bool dumper_is_pure_join_table(Relation rel);
extern bool dumper_join_check_sides(Relation join);
extern bool dumper_join_side_covered(Oid joinrelid, Oid confrelid);
extern List *dumper_fkey_list(Relation rel);
extern void dumper_drop_detached_truncate_triggers(Oid partid);
extern void dumper_install_join(Oid relid, bool explicit);

/* truncate.c: the paths of every row of a table */
extern char *dumper_row_as(Oid regrelid, const char *row);
extern void dumper_gather_table(Oid relid, bool only, Oid regrelid,
								const DumperRegistration *reg,
								const char *rls_hint);
extern void dumper_gather_join(Relation keyrel, Oid relid, bool only,
							   const char *rls_hint);

/* partition.c: partitions attached, detached or dropped */
extern bool dumper_partition_ddl_start(Node *parsetree);
extern void dumper_partition_ddl_end(void);

/* rewrite.c: ALTER TABLE ... ALTER COLUMN ... TYPE of a covered table */
extern void dumper_rewrite_utility(PlannedStmt *pstmt, const char *queryString,
								   bool readOnlyTree, ProcessUtilityContext context,
								   ParamListInfo params, QueryEnvironment *queryEnv,
								   DestReceiver *dest, QueryCompletion *qc,
								   ProcessUtility_hook_type next);

/* restore.c: a restore's statements re-creating dumper's objects */
struct CreateTrigStmt;
extern void dumper_restore_before_create_trigger(struct CreateTrigStmt *stmt);
extern void dumper_restore_check_statement(Node *parsetree);
extern bool dumper_restore_loaded_registrations(Node *parsetree);

/* ddl.c: keeping registrations up to date with the schema */
extern void dumper_sync_registrations(void);
extern void dumper_sync_restored_registrations(void);

/* utility.c: the ProcessUtility hook */
extern void dumper_utility_init(void);

#endif							/* DUMPER_REGISTRATION_H */
