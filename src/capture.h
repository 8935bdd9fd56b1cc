/*-------------------------------------------------------------------------
 *
 * capture.h
 *	  Capture: a write's paths, from the trigger (trigger.c, through
 *	  regcache.c) to the transaction's set (pathset.c), written to the queue
 *	  at pre-commit (queue.c); prepared transactions (twophase.c).  Nothing
 *	  here knows that Redis exists.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_CAPTURE_H
#define DUMPER_CAPTURE_H

#include "postgres.h"

#include "storage/block.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/relcache.h"

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

/* twophase.c: waking the worker after COMMIT PREPARED */
extern void dumper_twophase_init(void);
extern void dumper_twophase_prepared(bool queued);
extern bool dumper_twophase_utility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc,
									ProcessUtility_hook_type next);

#endif							/* DUMPER_CAPTURE_H */
