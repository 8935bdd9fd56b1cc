/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The row trigger of registered tables: row -> paths -> transaction set.
 *
 * dumper.trigger() fires AFTER INSERT, UPDATE or DELETE FOR EACH ROW.  It
 * gathers the paths of the new row (INSERT), the old row (DELETE) or both
 * (UPDATE: a changed slug invalidates the old URL and the new one).  All
 * catalog work is done once per backend by regcache.c; this file only picks
 * the tuples.  It never talks to Redis.
 *
 * Errors: an error of the paths function propagates and aborts the write, so
 * that an invalidation is never silently dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

#include "dumper.h"
#include "registration.h"

PG_FUNCTION_INFO_V1(dumper_trigger);

/*
 * dumper.trigger(): gather the paths of the row(s) the event touched.
 */
Datum
dumper_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.trigger() was not called by the trigger manager")));

	event = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_ROW(event) || !TRIGGER_FIRED_AFTER(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dumper.trigger() must be fired AFTER ... FOR EACH ROW")));

	if (!dumper_enabled)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_INSERT(event) || TRIGGER_FIRED_BY_DELETE(event))
		dumper_regcache_gather(trigdata->tg_relation, trigdata->tg_trigtuple,
							   NULL);
	else if (TRIGGER_FIRED_BY_UPDATE(event))
		dumper_regcache_gather(trigdata->tg_relation, trigdata->tg_trigtuple,
							   trigdata->tg_newtuple);

	return PointerGetDatum(NULL);
}
