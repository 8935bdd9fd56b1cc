/*-------------------------------------------------------------------------
 *
 * redis_client.h
 *	  A small, time-bounded, interruptible Redis client over hiredis 0.14.
 *
 * Every call returns within its timeout and within about 100 ms of an
 * interrupt (it waits with WaitLatchOrSocket and runs CHECK_FOR_INTERRUPTS,
 * so a query cancel or SIGTERM ends it with the usual ereport).  Failures of
 * Redis itself are not ereport'ed: the functions return false/NULL and put a
 * one-line English message in err, so that the caller chooses between an
 * ERROR (dumper_deliver) and a retry (the background worker).  A connection
 * that failed once is unusable: close it and connect again.
 *
 * Memory: the connection is malloc'ed (hiredis allocates with malloc), so it
 * may outlive any memory context; the caller must close it, also on error
 * (PG_FINALLY), or keep it in a static.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_REDIS_CLIENT_H
#define DUMPER_REDIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct DumperRedis DumperRedis;

/*
 * Connect to the server named by url (dumper.redis_url syntax), then AUTH
 * and SELECT as the URL says, all within timeout_ms.  NULL on failure.
 */
extern DumperRedis *dumper_redis_connect(const char *url, int timeout_ms,
										 char *err, size_t errlen);

/*
 * In one pipelined round trip, DEL prefix||path for every path (several keys
 * per DEL command) and, when channel is non-empty, PUBLISH channel path for
 * every path.  Keys and messages are binary-safe.  True only when Redis
 * acknowledged every command without an error reply.
 */
extern bool dumper_redis_invalidate(DumperRedis *r, const char *prefix,
									const char *channel,
									const char *const *paths, int npaths,
									int timeout_ms, char *err, size_t errlen);

/* The kind of reply dumper_redis_command requires. */
typedef enum DumperRedisReply
{
	DUMPER_REDIS_REPLY_STATUS,	/* +OK, +PONG */
	DUMPER_REDIS_REPLY_INTEGER	/* :1 */
} DumperRedisReply;

/*
 * Send one command (binary-safe arguments) and wait for its reply, which
 * must be of the kind expect.  True when it was.
 */
extern bool dumper_redis_command(DumperRedis *r, int argc,
								 const char *const *argv,
								 const size_t *argvlen,
								 DumperRedisReply expect,
								 int timeout_ms, char *err, size_t errlen);

/*
 * Whether the last call on r failed because Redis answered with an error
 * reply.  False for NULL.
 */
extern bool dumper_redis_error_replied(const DumperRedis *r);

/*
 * Whether the last call on r failed because Redis did not answer within its
 * timeout (not because the connection was lost).  False for NULL.
 */
extern bool dumper_redis_timed_out(const DumperRedis *r);

/* Close the connection and free it; NULL is allowed. */
extern void dumper_redis_close(DumperRedis *r);

#endif							/* DUMPER_REDIS_CLIENT_H */
