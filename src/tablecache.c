/*-------------------------------------------------------------------------
 *
 * tablecache.c
 *	  The skeleton of dumper's per-backend caches of per-table entries:
 *	  regcache.c's registrations and join.c's join tables.
 *
 * A cache is a hash table under CacheMemoryContext, made at its first use.
 * An entry begins with its key, and the key with the table's OID.  A new
 * entry is zeroed beyond its key.  Every TABLECACHE_SWEEP_EVERY new
 * entries, the entries of dropped tables (their drop invalidated them,
 * and nothing is using them) are released and removed, so that a
 * long-lived session writing to ever new tables (daily partitions) does
 * not keep one entry, context and plan per table it ever wrote to.
 * Invalidation stays with each cache: what makes an entry stale differs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "registration.h"

#define TABLECACHE_SWEEP_EVERY	64

/*
 * Release and remove the entries of dropped tables that cache->keep does
 * not keep (an entry valid or in use).
 */
static void
tablecache_sweep(DumperTableCache *cache)
{
	HASH_SEQ_STATUS status;
	void	   *entry;

	hash_seq_init(&status, cache->htab);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (cache->keep(entry) ||
			SearchSysCacheExists1(RELOID, ObjectIdGetDatum(*(Oid *) entry)))
			continue;
		cache->release(entry);
		/* Removing the entry just returned is allowed during a scan. */
		(void) hash_search(cache->htab, entry, HASH_REMOVE, NULL);
	}
}

/*
 * The entry of key in cache, made (zeroed beyond its key) when new:
 * *found says which.  A new entry may set off a sweep, which keeps it (its
 * table exists).
 */
void *
dumper_tablecache_enter(DumperTableCache *cache, const void *key, bool *found)
{
	void	   *entry;

	if (cache->htab == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = cache->keysize;
		ctl.entrysize = cache->entrysize;
		ctl.hcxt = CacheMemoryContext;
		cache->htab = hash_create(cache->name, cache->nelem, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(cache->htab, key, HASH_ENTER, found);
	if (!*found)
	{
		memset((char *) entry + cache->keysize, 0,
			   cache->entrysize - cache->keysize);
		if (++cache->created >= TABLECACHE_SWEEP_EVERY)
		{
			cache->created = 0;
			tablecache_sweep(cache);
		}
	}
	return entry;
}
