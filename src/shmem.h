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
#include "storage/latch.h"

/* What the worker's connection to Redis is doing, for dumper_stats. */
typedef enum DumperConnState
{
	DUMPER_CONN_DISCONNECTED = 0,
	DUMPER_CONN_CONNECTED,
	DUMPER_CONN_BACKING_OFF
} DumperConnState;

extern void dumper_shmem_init(void);
extern bool dumper_shmem_available(void);
extern void dumper_worker_attach(Latch *latch, Oid dboid);
extern void dumper_worker_detach(void);
extern BlockNumber dumper_take_scan_hint(void);
extern bool dumper_scan_hint_pending(void);
extern void dumper_stats_delivered(int64 paths);
extern void dumper_stats_failure(const char *error);
extern void dumper_stats_connection(DumperConnState state);

#endif							/* DUMPER_SHMEM_H */
