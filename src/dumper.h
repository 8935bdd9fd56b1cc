/*-------------------------------------------------------------------------
 *
 * dumper.h
 *	  What every subsystem shares: the GUCs and a few constants.  Each
 *	  family of files declares its own functions: capture.h (trigger ->
 *	  path set -> queue), registration.h (which tables, and keeping up with
 *	  the schema), delivery.h (worker -> Redis), spi.h (dumper's own SQL).
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

#endif							/* DUMPER_H */
