/*-------------------------------------------------------------------------
 *
 * template.h
 *	  Path templates ('/icecream/{slug}/'), compiled and evaluated in C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_TEMPLATE_H
#define DUMPER_TEMPLATE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/bitmapset.h"
#include "nodes/nodes.h"

/*
 * A literal run (attnum 0) or a column placeholder (literal = its name).
 * len and raw are set by dumper_template_prepare_output.
 */
typedef struct DumperTemplateSeg
{
	AttrNumber	attnum;
	char	   *literal;
	int			len;			/* strlen(literal), for a literal run */
	bool		raw;			/* text or varchar column: its own bytes */
} DumperTemplateSeg;

typedef struct DumperTemplate
{
	int			nsegs;
	int			maxsegs;		/* room in segs */
	DumperTemplateSeg *segs;
} DumperTemplate;

extern DumperTemplate *dumper_template_compile(const char *tmpl, TupleDesc desc,
											   const char *relname);
extern DumperTemplate *dumper_template_new(void);
extern void dumper_template_append(DumperTemplate *t, AttrNumber attnum,
								   const char *literal);
extern FmgrInfo *dumper_template_prepare_output(DumperTemplate **tmpls, int ntmpls,
												TupleDesc desc, MemoryContext cxt);
extern void dumper_template_gather(DumperTemplate **tmpls, int ntmpls, HeapTuple tuple,
								   TupleDesc desc, FmgrInfo *outfuncs);
extern void dumper_template_columns(DumperTemplate **tmpls, int ntmpls, Bitmapset **cols);
extern DumperTemplate *dumper_template_from_expr(Node *expr, TupleDesc desc,
												 bool *alwaysnull);
extern bool dumper_expr_row_columns(Node *expr, Bitmapset **cols);
extern char *dumper_template_sql(const char *tmpl, TupleDesc desc, const char *relname,
								 const char *rowexpr);

#endif							/* DUMPER_TEMPLATE_H */
