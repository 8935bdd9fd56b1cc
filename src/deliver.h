/*-------------------------------------------------------------------------
 *
 * deliver.h
 *	  Claiming committed invalidations from the queue and sending them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_DELIVER_H
#define DUMPER_DELIVER_H

#include "redis_client.h"

/*
 * Claim (delete) queue rows holding up to about max_paths pending paths and
 * send them.  Must run inside a transaction; the caller commits.  Returns the number of distinct paths sent (0: queue empty), or
 * -1 when Redis failed (err says why; nothing was deleted, and the caller
 * must abort the transaction to release the claimed rows).  *nrows is set
 * to the number of queue rows claimed.
 */
extern int64 dumper_deliver_batch(DumperRedis *redis, int max_paths,
								  int64 *nrows, char *err, size_t errlen);

#endif							/* DUMPER_DELIVER_H */
