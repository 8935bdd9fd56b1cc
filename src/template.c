/*-------------------------------------------------------------------------
 *
 * template.c
 *	  Path templates: '/icecream/{slug}/' filled from the row, in C.
 *
 * A template is literal text with {column} placeholders; "{{" and "}}"
 * stand for literal braces.  Column names are taken exactly as written (no
 * quoting, case-sensitive).  A placeholder whose column is NULL skips that
 * path.  Values are rendered with their type's output function, as in
 * psql.
 *
 * Compiling resolves each placeholder to an attribute number of the
 * registered table, once per backend (regcache.c); a row then costs no SQL
 * call and no catalog lookup.  The same template can be rendered as a SQL
 * expression for the set-based paths (TRUNCATE, join tables); it calls the
 * same output functions, so both give byte-identical paths.
 *
 * The syntax itself is read by template_parse.c, plain C that a fuzzer links
 * alone (test/fuzz); this file looks the columns up and allocates.
 *
 * Errors: compiling reports a malformed template or an unknown column
 * (dumper_register checks every template this way); evaluation only fails
 * on an over-long path (pathset.c), found without fetching a TOASTed value
 * that cannot fit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#include "capture.h"
#include "dumper.h"
#include "template.h"
#include "template_parse.h"

/* Report a malformed template. */
static void
template_syntax_error(const char *tmpl, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid path template \"%s\"", tmpl),
			 errdetail("%s", detail),
			 errhint("Write {column} for a column's value, {{ and }} for literal braces.")));
}

/*
 * Compile tmpl against desc, the row type of table relname.  The result
 * lives in CurrentMemoryContext.  The syntax is read by template_parse.c,
 * one token at a time, so a column is looked up as soon as its placeholder
 * is read.
 */
DumperTemplate *
dumper_template_compile(const char *tmpl, TupleDesc desc, const char *relname)
{
	DumperTemplate *result = dumper_template_new();
	const char *p = tmpl;
	const char *end = tmpl + strlen(tmpl);

	for (;;)
	{
		DumperTemplateToken tok;
		AttrNumber	attnum = 0;
		char	   *text;
		const char *err = dumper_template_next(&p, end, &tok);

		if (err != NULL)
			template_syntax_error(tmpl, err);
		if (tok.kind == DUMPER_TEMPLATE_END)
			break;

		text = palloc(tok.unescaped_len + 1);
		(void) dumper_template_unescape(&tok, text);
		if (tok.kind == DUMPER_TEMPLATE_COLUMN)
		{
			int			i;

			for (i = 0; i < desc->natts; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, i);

				if (!att->attisdropped && strcmp(NameStr(att->attname), text) == 0)
					break;
			}
			if (i == desc->natts)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of table \"%s\" does not exist", text, relname),
						 errdetail("Path template \"%s\" refers to it.", tmpl),
						 errhint("Placeholders name columns exactly as they are spelled, without quotes.")));
			attnum = i + 1;
		}
		dumper_template_append(result, attnum, text);
		pfree(text);
	}
	return result;
}

/* A template with no segment yet, in CurrentMemoryContext. */
DumperTemplate *
dumper_template_new(void)
{
	DumperTemplate *t = palloc0(sizeof(DumperTemplate));

	t->maxsegs = 4;
	t->segs = palloc(t->maxsegs * sizeof(DumperTemplateSeg));
	return t;
}

/*
 * Append to t a literal run (attnum 0) or the placeholder of column attnum
 * (literal: its name); a literal run right after another one joins it.
 */
void
dumper_template_append(DumperTemplate *t, AttrNumber attnum, const char *literal)
{
	DumperTemplateSeg *last = t->nsegs > 0 ? &t->segs[t->nsegs - 1] : NULL;

	if (attnum == 0 && last != NULL && last->attnum == 0)
	{
		last->literal = psprintf("%s%s", last->literal, literal);
		return;
	}
	if (t->nsegs >= t->maxsegs)
	{
		t->maxsegs *= 2;
		t->segs = repalloc(t->segs, t->maxsegs * sizeof(DumperTemplateSeg));
	}
	memset(&t->segs[t->nsegs], 0, sizeof(DumperTemplateSeg));
	t->segs[t->nsegs].attnum = attnum;
	t->segs[t->nsegs].literal = pstrdup(literal);
	t->nsegs++;
}

/*
 * The output functions of the columns templates refer to, allocated in cxt:
 * one slot per attribute of desc, fn_oid InvalidOid for unused ones.  Also
 * notes each segment's length, and which columns are text or varchar, whose
 * output is their own bytes (textout, varcharout): those are copied
 * straight from the value.
 */
FmgrInfo *
dumper_template_prepare_output(DumperTemplate **tmpls, int ntmpls, TupleDesc desc,
							   MemoryContext cxt)
{
	/* zeroed: fn_oid is InvalidOid until set up */
	FmgrInfo   *outfuncs = MemoryContextAllocZero(cxt, desc->natts * sizeof(FmgrInfo));

	for (int t = 0; t < ntmpls; t++)
		for (int s = 0; s < tmpls[t]->nsegs; s++)
		{
			DumperTemplateSeg *seg = &tmpls[t]->segs[s];
			AttrNumber	attnum = seg->attnum;
			Oid			typoutput;
			bool		isvarlena;

			seg->len = (attnum == 0) ? strlen(seg->literal) : 0;
			if (attnum == 0)
				continue;
			getTypeOutputInfo(TupleDescAttr(desc, attnum - 1)->atttypid,
							  &typoutput, &isvarlena);
			seg->raw = (typoutput == F_TEXTOUT || typoutput == F_VARCHAROUT);
			if (!OidIsValid(outfuncs[attnum - 1].fn_oid))
				fmgr_info_cxt(typoutput, &outfuncs[attnum - 1], cxt);
		}
	return outfuncs;
}

/*
 * Add to *cols the attribute numbers of the columns tmpls read: the paths
 * they give depend on those columns only.
 */
void
dumper_template_columns(DumperTemplate **tmpls, int ntmpls, Bitmapset **cols)
{
	for (int t = 0; t < ntmpls; t++)
		for (int s = 0; s < tmpls[t]->nsegs; s++)
			if (tmpls[t]->segs[s].attnum > 0)
				*cols = bms_add_member(*cols, tmpls[t]->segs[s].attnum);
}

/*
 * Report a path of len bytes that template evaluation only measured: path
 * holds what precedes value, the text value that made it too long, of
 * which only the start is fetched for the message.
 */
static void
template_too_long(StringInfo path, Datum value, int64 len)
{
	struct varlena *head = pg_detoast_datum_slice((struct varlena *) DatumGetPointer(value),
												  0, 64);

	appendBinaryStringInfo(path, VARDATA_ANY(head), VARSIZE_ANY_EXHDR(head));
	dumper_path_too_long(path->data, path->len, len);
}

/*
 * Add the paths of one row (of row type desc) to the transaction's set.
 * The path is built in a buffer kept across rows (TopMemoryContext), given
 * back when a long path made it grow past 64 kB.  Not re-entrant: nothing
 * called while a path is built (output functions) gathers paths.
 */
void
dumper_template_gather(DumperTemplate **tmpls, int ntmpls, HeapTuple tuple,
					   TupleDesc desc, FmgrInfo *outfuncs)
{
	static StringInfo path = NULL;

	if (path == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		path = makeStringInfo();
		MemoryContextSwitchTo(oldcxt);
	}
	for (int t = 0; t < ntmpls; t++)
	{
		bool		skip = false;
		int64		measured = -1;	/* >= 0: too long, only measured on */
		Datum		long_value = (Datum) 0;

		resetStringInfo(path);
		for (int s = 0; s < tmpls[t]->nsegs && !skip; s++)
		{
			DumperTemplateSeg *seg = &tmpls[t]->segs[s];
			Datum		value;
			bool		isnull;

			if (seg->attnum == 0)
			{
				if (measured >= 0)
					measured += seg->len;
				else
					appendBinaryStringInfo(path, seg->literal, seg->len);
				continue;
			}
			value = heap_getattr(tuple, seg->attnum, desc, &isnull);
			if (isnull)
				skip = true;	/* a NULL column: no such page */
			else if (seg->raw)
			{
				struct varlena *v = (struct varlena *) DatumGetPointer(value);

				/*
				 * A TOASTed value is measured before it is fetched: one that
				 * cannot fit is never brought into memory, however large.
				 * The rest is still read, since a later NULL column skips
				 * the path; the error comes at its end.
				 */
				if (measured >= 0 || VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
				{
					int64		rawlen = toast_raw_datum_size(value) - VARHDRSZ;

					if (measured >= 0)
						measured += rawlen;
					else if (path->len + rawlen > DUMPER_MAX_PATH_LEN)
					{
						measured = path->len + rawlen;
						long_value = value;
					}
					if (measured >= 0)
						continue;
				}
				v = pg_detoast_datum_packed(v);
				appendBinaryStringInfo(path, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
			}
			else
			{
				char	   *out = OutputFunctionCall(&outfuncs[seg->attnum - 1], value);

				if (measured >= 0)
					measured += strlen(out);
				else
					appendStringInfoString(path, out);
			}
		}
		if (skip)
			continue;
		if (measured >= 0)
			template_too_long(path, long_value, measured);
		dumper_pathset_add(path->data, path->len);
	}
	if (path->maxlen > 64 * 1024)
	{
		pfree(path->data);
		pfree(path);
		path = NULL;
	}
}

/*
 * The template as a SQL text expression over rowexpr (a value of row type
 * desc): NULL when a placeholder's column is NULL, like the C evaluation.
 */
char *
dumper_template_sql(const char *tmpl, TupleDesc desc, const char *relname,
					const char *rowexpr)
{
	DumperTemplate *compiled = dumper_template_compile(tmpl, desc, relname);
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "(''::pg_catalog.text");
	for (int s = 0; s < compiled->nsegs; s++)
	{
		DumperTemplateSeg *seg = &compiled->segs[s];

		appendStringInfoString(&sql, " OPERATOR(pg_catalog.||) ");
		if (seg->attnum == 0)
			appendStringInfoString(&sql, quote_literal_cstr(seg->literal));
		else
		{
			Oid			typoutput;
			bool		isvarlena;

			getTypeOutputInfo(TupleDescAttr(desc, seg->attnum - 1)->atttypid,
							  &typoutput, &isvarlena);
			appendStringInfo(&sql, "pg_catalog.textin(%s((%s).%s))",
							 quote_qualified_identifier(get_namespace_name(get_func_namespace(typoutput)),
														get_func_name(typoutput)),
							 rowexpr,
							 quote_identifier(seg->literal));
		}
	}
	appendStringInfoChar(&sql, ')');
	return sql.data;
}
