/*
 * dumper_test_paths.c
 *	  A paths function in C, as a dumper user would write one: it takes a
 *	  row and returns the row's path, '/c/' || slug, or NULL when slug is
 *	  NULL.  Used by the regression tests.
 */
#include "postgres.h"

#include "executor/executor.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(c_paths);

/* c_paths(row) -> text: '/c/' || row.slug */
Datum
c_paths(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		isnull;
	Datum		slug = GetAttributeByName(row, "slug", &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("/c/%s", TextDatumGetCString(slug))));
}
