/*-------------------------------------------------------------------------
 *
 * delivery.h
 *	  Delivery: the worker (worker.c) claims committed rows of the queue and
 *	  sends their paths to Redis (deliver.c, redis_client.c), rotates the
 *	  queue (rotate.c) and keeps the liveness key (liveness.c); shared
 *	  memory holds its latch, the scan hint and the statistics (shmem.c);
 *	  sessions ask whether a worker serves them and wait for it (service.c)
 *	  and read the views (views.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_DELIVERY_H
#define DUMPER_DELIVERY_H

#include "postgres.h"

#include "storage/block.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "redis_client.h"

/* shmem.c: dumper's shared memory (a no-op, or "no worker", without it) */
/* What the worker's connection to Redis is doing, for dumper_stats. */
typedef enum DumperConnState
{
	DUMPER_CONN_DISCONNECTED = 0,
	DUMPER_CONN_CONNECTED,
	DUMPER_CONN_BACKING_OFF
} DumperConnState;

extern void dumper_shmem_init(void);
extern void dumper_worker_attach(Latch *latch, Oid dboid, const char *dbname);
extern bool dumper_worker_database(char *dbname);
extern void dumper_worker_detach(void);
/*
 * The worker's scan hint: where rows committed since the worker last took
 * it can be (deliver.c's header; docs/design.md, "The scan hint").
 */
#define DUMPER_HINT_BLOCKS	4096
#define DUMPER_HINT_WORDS	(DUMPER_HINT_BLOCKS / 32)

typedef struct DumperScanHint
{
	BlockNumber from;			/* scan every block from here on
								 * (InvalidBlockNumber: none) */
	uint32		blocks[DUMPER_HINT_WORDS];	/* bit b % 32 of word b / 32 */
	bool		spill;			/* scan dumper.spill_queue (whole) too */
} DumperScanHint;

extern bool dumper_take_scan_hint(DumperScanHint *hint);
extern bool dumper_scan_hint_pending(void);
extern uint64 dumper_commit_seq(void);
extern void dumper_delivered_through(uint64 seq);
extern ConditionVariable *dumper_delivered_cv(uint64 *delivered);
extern void dumper_stats_delivered(int64 paths);
extern void dumper_stats_failure(const char *error);
extern void dumper_stats_connection(DumperConnState state);

/* Longest last_error kept, in bytes. */
#define DUMPER_ERROR_LEN	256

/* The worker's identity and delivery statistics, as dumper_stats shows them. */
typedef struct DumperStats
{
	pid_t		worker_pid;		/* 0: no worker runs */
	char		worker_dbname[NAMEDATALEN];
	DumperConnState connection;
	int64		paths_delivered;
	int64		batches_delivered;
	int64		failures;
	TimestampTz last_delivery_at;	/* 0: never */
	TimestampTz last_error_at;	/* 0: never */
	char		last_error[DUMPER_ERROR_LEN];
} DumperStats;

extern bool dumper_stats_snapshot(DumperStats *snap);

/* Waking the worker after a commit (shmem.c) */
extern uint64 dumper_wake_worker(BlockNumber first, BlockNumber last, bool spill);


/* deliver.c: claiming committed invalidations from the queue and sending them */
/*
 * Claim (delete) queue rows holding up to about max_paths pending paths and
 * send them.  Must run inside a transaction; the caller commits.  Returns
 * the number of distinct paths sent (0: nothing to claim), or -1 when Redis
 * failed (err says why; the caller must abort the transaction, which puts
 * the claimed rows back).  *nrows is set to the number of queue rows
 * claimed.
 *
 * scan_from: NULL scans the whole queue.  The worker passes where its
 * previous batch left rows behind (0 after a failure or when a full scan
 * is due; InvalidBlockNumber for nothing) and gets back where
 * the next batch must scan from at the latest; the scan also reads every
 * block of the writers' hint (deliver.c).  scan_spill, with scan_from: in,
 * whether dumper.spill_queue must be scanned besides the hint's "spill"
 * (a row left there by the previous batch, a failure, a full scan); out,
 * whether the next batch must look at it again.  The caller must be at
 * READ COMMITTED.
 */
extern int64 dumper_deliver_batch(DumperRedis *redis, int max_paths,
								  BlockNumber *scan_from, bool *scan_spill,
								  int64 *nrows, char *err, size_t errlen);

/* rotate.c: replacing a bloated queue */
/* What dumper_queue_maybe_rotate did. */
typedef enum DumperRotation
{
	DUMPER_ROTATE_NOT_NEEDED,	/* small enough, or no extension */
	DUMPER_ROTATE_DONE,			/* rotated */
	DUMPER_ROTATE_LOCK_BUSY,	/* a transaction is using the queue: retry soon */
	DUMPER_ROTATE_TOO_MANY_PENDING	/* deliver first: retry later */
} DumperRotation;

/*
 * When the queue's heap has grown past a megabyte and its ACCESS EXCLUSIVE
 * lock can be had without waiting, replace it by a new file holding only
 * the rows still pending.  Runs inside a transaction (without an active
 * snapshot of its own: it takes one after the lock); the caller commits,
 * which releases the lock.
 */
extern DumperRotation dumper_queue_maybe_rotate(void);

/* liveness.c: the liveness key */
extern bool dumper_liveness_refresh(DumperRedis *r, const char *dbname,
									char *err, size_t errlen);
extern void dumper_liveness_drop(DumperRedis *r, const char *dbname);
extern DumperRedis *dumper_redis_probe(const char *url, int timeout_ms,
									   char *err, size_t errlen);

/* service.c: whether a worker serves this database; read-your-writes */
extern void dumper_note_commit(uint64 seq);
extern bool dumper_serves_this_database(void);
extern void dumper_warn_if_unserved(const char *what, bool registration);

/* views.c: what dumper's views show */
extern bool dumper_may_read_all(void);

/* worker.c */
extern void dumper_worker_register(void);

#endif							/* DUMPER_DELIVERY_H */
