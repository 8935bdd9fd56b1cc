/*-------------------------------------------------------------------------
 *
 * deliver.h
 *	  Claiming committed invalidations from the queue and sending them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_DELIVER_H
#define DUMPER_DELIVER_H

#include "storage/block.h"

#include "redis_client.h"

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

#endif							/* DUMPER_DELIVER_H */
