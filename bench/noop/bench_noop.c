/*-------------------------------------------------------------------------
 *
 * bench_noop.c
 *	  A C row trigger that does nothing: the floor of any row-trigger design,
 *	  measured by make bench next to dumper (variant "cnoop").
 *
 * Benchmark-only module, never installed by dumper's own build.  It must
 * stay empty: whatever it did would be counted as the floor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_noop_trigger);

/*
 * The trigger: check that it is called as one, change nothing.
 */
Datum
bench_noop_trigger(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "bench_noop_trigger: not called as a trigger");
	return PointerGetDatum(NULL);
}
