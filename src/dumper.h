/*-------------------------------------------------------------------------
 *
 * dumper.h
 *	  Declarations shared by dumper's subsystems.
 *
 * Data flows one way: trigger.c (row -> paths, through regcache.c) ->
 * pathset.c (the transaction's de-duplicated set) -> queue.c (the WAL-logged
 * queue table, written at pre-commit) -> deliver.c (claims committed rows)
 * -> redis_client.c (pipelined DEL/PUBLISH).  Nothing before deliver.c knows
 * that Redis exists.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_H
#define DUMPER_H

#include "postgres.h"

#include "access/htup.h"
#include "storage/block.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/relcache.h"

/* Schema holding dumper's internal state (queue, registrations, trigger). */
#define DUMPER_SCHEMA			"dumper"

/* The triggers dumper installs. */
#define DUMPER_ROW_TRIGGER				"dumper_row"
#define DUMPER_TRUNCATE_TRIGGER			"dumper_truncate"
#define DUMPER_JOIN_TRIGGER				"dumper_join"
#define DUMPER_JOIN_TRUNCATE_TRIGGER	"dumper_join_truncate"

/* Longest path accepted, in bytes; longer ones are an error, never cut. */
#define DUMPER_MAX_PATH_LEN		4096

/* GUC variables (dumper.c) */
extern char *dumper_redis_url;
extern char *dumper_redis_prefix;
extern char *dumper_publish_channel;
extern char *dumper_database;
extern int	dumper_batch_size;
extern int	dumper_redis_timeout;
extern int	dumper_naptime;
extern int	dumper_work_mem;
extern int	dumper_batch_delay;
extern int	dumper_liveness_timeout;
extern bool dumper_enabled;

/* pathset.c: the current transaction's de-duplicated set of paths */
extern void dumper_pathset_init(void);
extern void dumper_pathset_add(const char *path, int len);
extern void dumper_path_too_long(const char *start, int startlen, int64 len)
			pg_attribute_noreturn();
extern void dumper_pathset_add_array(ArrayType *paths);

/* queue.c: the durable queue */
/* Attribute numbers of dumper.queue (sql/dumper--1.0.sql). */
#define Anum_queue_xid			1
#define Anum_queue_enqueued_at	2
#define Anum_queue_paths		3
#define Natts_queue				3

extern Oid	dumper_queue_relid(bool missing_ok);
extern Oid	dumper_spill_queue_relid(bool missing_ok);
extern bool dumper_queue_shape_ok(Relation rel);
extern void dumper_queue_check(Relation rel);
extern void dumper_queue_write(const char *const *paths, int npaths, bool spill);
extern BlockNumber dumper_queue_take_blocks(BlockNumber *last, bool *spilled);

/* A table's registration: a paths function or path templates. */
typedef struct DumperRegistration
{
	Oid			funcoid;		/* paths function, or InvalidOid */
	List	   *templates;		/* path templates (char *), or NIL */
} DumperRegistration;

/* registration.c: reading dumper.registration */
extern bool dumper_registration_read(Oid relid, DumperRegistration *reg);
extern Oid	dumper_registered_table(Oid relid, DumperRegistration *reg);

/* regcache.c: per-backend cache of registrations */
struct _SPI_plan;				/* SPIPlanPtr, without executor/spi.h */
extern void dumper_regcache_init(void);
extern void dumper_regcache_gather(Relation rel, HeapTuple tuple,
								   HeapTuple newtuple);
extern char *dumper_paths_expr(const DumperRegistration *reg, Oid relid,
							   const char *rowexpr, bool *read_only);
extern void dumper_gather_tuptable(void);
extern void dumper_gather_plan(struct _SPI_plan *plan, Datum *values,
							   const char *nulls, bool read_only);
extern bool dumper_same_columns(TupleDesc desc, const AttrNumber *atts,
								int natts, HeapTuple oldtuple,
								HeapTuple newtuple);

/* join.c: join tables */
extern void dumper_join_init(void);
extern char *dumper_qualified_operator(Oid opoid);

/* owner.c: running dumper's own statements (as the extension's owner) */
typedef struct DumperOwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} DumperOwnerScope;

extern void dumper_owner_enter(DumperOwnerScope *scope);
extern void dumper_owner_exit(DumperOwnerScope *scope);
extern int	dumper_pin_search_path(void);
extern void dumper_unpin_search_path(int nestlevel);
extern void dumper_execute_as_owner(const char *sql, int nargs, Oid *argtypes,
									Datum *args, const char *nulls, int expected);

/* registry.c: catalog helpers shared with other files */
extern Oid	dumper_internal_owner(void);
extern void dumper_install_truncate_triggers(Oid relid, const char *name, Oid funcoid);
extern bool dumper_is_pure_join_table(Relation rel);
extern bool dumper_join_check_sides(Relation join);
extern bool dumper_join_side_covered(Oid joinrelid, Oid confrelid);
extern List *dumper_query_oids(const char *sql, Oid param);
extern List *dumper_tuptable_oids(MemoryContext cxt);
extern List *dumper_fkey_list(Relation rel);
extern void dumper_drop_detached_truncate_triggers(Oid partid);
extern void dumper_install_join(Oid relid, bool explicit);

/* truncate.c: the paths of every row of a table */
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

/* shmem.c: waking the background worker (a no-op without it) */
extern uint64 dumper_wake_worker(BlockNumber first, BlockNumber last, bool spill);

/* service.c: whether a worker serves this database; read-your-writes */
extern void dumper_note_commit(uint64 seq);
extern bool dumper_serves_this_database(void);
extern void dumper_warn_if_unserved(const char *what, bool registration);

/* twophase.c: waking the worker after COMMIT PREPARED */
extern void dumper_twophase_init(void);
extern void dumper_twophase_prepared(bool queued);
extern bool dumper_twophase_utility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc,
									ProcessUtility_hook_type next);

/* utility.c: the ProcessUtility hook */
extern void dumper_utility_init(void);

/* views.c: what dumper's views show */
extern bool dumper_may_read_all(void);

/* worker.c */
extern void dumper_worker_register(void);

#endif							/* DUMPER_H */
