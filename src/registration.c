/*-------------------------------------------------------------------------
 *
 * registration.c
 *	  Reading dumper.registration: which paths function or templates a
 *	  table is registered with.
 *
 * A paths function is recorded three ways: its OID, its schema and its
 * name.  Its one argument is always the registered table's row type, so
 * schema and name identify it; they are what a pg_dump and pg_upgrade carry
 * across (both give functions new OIDs, and pg_upgrade refuses to copy a
 * regprocedure column).  The OID is what follows a rename until
 * dumper_sync_registrations (ddl.c) records the new schema and name.  So the
 * function is looked up by schema and name first, then by OID: after a
 * restore the name finds it although the OID is stale; after a rename the
 * OID finds it although the name is stale.  A stale OID is only trusted
 * when it names a function taking the table's row type.  The lookups read
 * the catalog directly: the schema need not be on the search_path, nor
 * usable by the writer or by whoever reads dumper_registrations (a function
 * is called by OID without USAGE on its schema).
 *
 * The table is read as the extension's owner (spi.c), with the latest
 * snapshot.
 *
 * Errors: may ereport (SPI); callers are in a transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "registration.h"
#include "spi.h"

/*
 * The paths function of registered table relid recorded as schema.name or
 * as oid: by schema and name when such a function takes the table's row
 * type, else oid when that function takes it, else InvalidOid.
 */
static Oid
registration_paths_function(Oid relid, Name schema, Name name, Oid oid)
{
	Oid			rowtype = get_rel_type_id(relid);
	HeapTuple	tup;
	Oid			result = InvalidOid;

	if (!OidIsValid(rowtype))
		return InvalidOid;		/* the table is gone */
	if (schema != NULL && name != NULL)
	{
		/* Straight from the catalog: no search_path, no privilege check. */
		Oid			nspoid = get_namespace_oid(NameStr(*schema), true);

		if (OidIsValid(nspoid))
			result = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
									 NameGetDatum(name),
									 PointerGetDatum(buildoidvector(&rowtype, 1)),
									 ObjectIdGetDatum(nspoid));
		if (OidIsValid(result))
			return result;
	}
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(oid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

		if (proc->pronargs == 1 && proc->proargtypes.values[0] == rowtype)
			result = oid;
		ReleaseSysCache(tup);
	}
	return result;
}

PG_FUNCTION_INFO_V1(dumper_paths_function);

/*
 * dumper.paths_function(tbl regclass, schema name, name name, oid oid)
 * RETURNS regprocedure: the function a registration row names, or NULL.
 */
Datum
dumper_paths_function(PG_FUNCTION_ARGS)
{
	Oid			result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	result = registration_paths_function(PG_GETARG_OID(0),
										 PG_ARGISNULL(1) ? NULL : PG_GETARG_NAME(1),
										 PG_ARGISNULL(2) ? NULL : PG_GETARG_NAME(2),
										 PG_GETARG_OID(3));
	if (!OidIsValid(result))
		PG_RETURN_NULL();
	PG_RETURN_OID(result);
}

/*
 * Read the registration of relid from dumper.registration, as the
 * extension's owner, into *reg (allocated in the caller's context).  False
 * when relid is not registered.
 */
bool
dumper_registration_read(Oid relid, DumperRegistration *reg)
{
	MemoryContext callercxt = CurrentMemoryContext;
	bool		found = false;

	reg->funcoid = InvalidOid;
	reg->templates = NIL;
	SPI_connect();

	/*
	 * Read like a catalog, with the latest snapshot, not the transaction's:
	 * a REPEATABLE READ transaction older than a registration sees its
	 * trigger (catalogs are read fresh), and must see its row too; and the
	 * cache must not keep what an old snapshot showed as current.
	 */
	(void) dumper_read_by_oid("SELECT paths_schema, paths_name, paths_oid, templates"
							  " FROM dumper.registration"
							  " WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
							  relid);

	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		found = true;
		d = SPI_getbinval(tuple, desc, 3, &isnull);
		if (!isnull)
		{
			Oid			oid = DatumGetObjectId(d);
			Datum		schema = SPI_getbinval(tuple, desc, 1, &isnull);
			Datum		name = SPI_getbinval(tuple, desc, 2, &isnull);

			reg->funcoid = registration_paths_function(relid, DatumGetName(schema),
													   DatumGetName(name), oid);
			/* Neither exists: the OID, which fails as clearly as before. */
			if (!OidIsValid(reg->funcoid))
				reg->funcoid = oid;
		}
		d = SPI_getbinval(tuple, desc, 4, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			for (int i = 0; i < n; i++)
				if (!nulls[i])
					reg->templates = lappend(reg->templates, TextDatumGetCString(elems[i]));
			MemoryContextSwitchTo(spicxt);
		}
	}
	SPI_finish();
	return found;
}

/*
 * The registered table covering relid: relid itself, or the nearest
 * registered ancestor of a partition.  InvalidOid when none; *reg gets its
 * registration.
 */
Oid
dumper_registered_table(Oid relid, DumperRegistration *reg)
{
	List	   *ancestors;
	ListCell   *lc;

	if (dumper_registration_read(relid, reg))
		return relid;
	if (!get_rel_relispartition(relid))
		return InvalidOid;
	ancestors = get_partition_ancestors(relid);
	foreach(lc, ancestors)
	{
		if (dumper_registration_read(lfirst_oid(lc), reg))
			return lfirst_oid(lc);
	}
	return InvalidOid;
}

