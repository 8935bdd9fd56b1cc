/*-------------------------------------------------------------------------
 *
 * liveness.h
 *	  The worker's presence in Redis: the liveness key and the probe.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_LIVENESS_H
#define DUMPER_LIVENESS_H

#include "redis_client.h"

extern bool dumper_liveness_refresh(DumperRedis *r, const char *dbname,
									char *err, size_t errlen);
extern void dumper_liveness_drop(DumperRedis *r, const char *dbname);
extern DumperRedis *dumper_redis_probe(const char *url, int timeout_ms,
									   char *err, size_t errlen);

#endif							/* DUMPER_LIVENESS_H */
