/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  dumper's shared memory: the worker's latch and delivery statistics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_SHMEM_H
#define DUMPER_SHMEM_H

#include "postgres.h"

#include "storage/block.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

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
 * The worker's scan hint (shmem.c): the blocks of dumper.queue that rows
 * committed into since the worker last took it.  A committing writer marks
 * the few blocks its rows went to in "blocks" when they are among the first
 * DUMPER_HINT_BLOCKS, and otherwise lowers "from", below which nothing is
 * hinted but marked blocks: the worker scans the marked blocks and every
 * block from "from" on (InvalidBlockNumber: none).  A writer that wrote
 * into dumper.spill_queue (spilled paths, a prepared transaction) sets
 * "spill": the worker then scans that small table whole.
 */
#define DUMPER_HINT_BLOCKS	4096
#define DUMPER_HINT_WORDS	(DUMPER_HINT_BLOCKS / 32)

typedef struct DumperScanHint
{
	BlockNumber from;
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

#endif							/* DUMPER_SHMEM_H */
