/*-------------------------------------------------------------------------
 *
 * template_expr.c
 *	  Recognise a planned paths expression that is a path template in
 *	  disguise: '/icecream/' || $1.slug || '/'.
 *
 * The usual SQL paths function, once the planner has inlined it, is a
 * concatenation (||) of text constants and columns of the row $1.  Such an
 * expression is turned into a DumperTemplate (template.h) and evaluated in C
 * like a registered template: no copy of the row into a composite value, no
 * field selection, no intermediate text per ||.  The paths are the same
 * bytes the expression gives:
 *	- || on text is strict, so a NULL column gives a NULL path (skipped), as
 *	  a NULL placeholder column does in a template;
 *	- a text or varchar column is its own bytes, which is what its output
 *	  function gives;
 *	- a column of any other type is brought to text through its output
 *	  function (CoerceViaIO, which is what || of a non-text value becomes),
 *	  and a template renders a placeholder with that same output function.
 * Anything else (another function, a cast that is not through the output
 * function, bpchar whose cast to text trims, a domain over text) is not
 * recognised, and the caller keeps evaluating the expression.
 *
 * For such an expression, dumper_expr_row_columns finds the columns of $1
 * it reads, when it reads $1 only through field selections and calls no
 * volatile function: its value then depends on those columns only.
 *
 * Rules: pure recognition; allocates in CurrentMemoryContext and never
 * errors on user input.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"

#include "template.h"

/*
 * The attribute of desc that node selects from the row parameter $1, when
 * node is such a field selection of the column's own type; else 0.
 */
static AttrNumber
texpr_column(Node *node, TupleDesc desc)
{
	FieldSelect *fs;
	Param	   *param;
	Form_pg_attribute att;

	if (!IsA(node, FieldSelect))
		return 0;
	fs = (FieldSelect *) node;
	if (!IsA(fs->arg, Param))
		return 0;
	param = (Param *) fs->arg;
	if (param->paramkind != PARAM_EXTERN || param->paramid != 1 ||
		fs->fieldnum <= 0 || fs->fieldnum > desc->natts)
		return 0;
	att = TupleDescAttr(desc, fs->fieldnum - 1);
	if (att->attisdropped || att->atttypid != fs->resulttype)
		return 0;
	return fs->fieldnum;
}

/*
 * Append the segments of node to t.  False when node is not a
 * concatenation of text constants and columns; *alwaysnull is set when a
 * constant is NULL, which makes the whole concatenation NULL.
 */
static bool
texpr_walk(Node *node, TupleDesc desc, DumperTemplate *t, bool *alwaysnull)
{
	AttrNumber	attnum;

	check_stack_depth();		/* a || chain nests as deep as it is long */
	switch (nodeTag(node))
	{
		case T_Const:
			{
				Const	   *c = (Const *) node;

				if (c->consttype != TEXTOID)
					return false;
				if (c->constisnull)
					*alwaysnull = true;
				else
					dumper_template_append(t, 0, TextDatumGetCString(c->constvalue));
				return true;
			}
		case T_OpExpr:
		case T_FuncExpr:
			{
				Oid			funcid;
				List	   *args;

				if (IsA(node, OpExpr))
				{
					funcid = ((OpExpr *) node)->opfuncid;
					args = ((OpExpr *) node)->args;
				}
				else
				{
					funcid = ((FuncExpr *) node)->funcid;
					args = ((FuncExpr *) node)->args;
				}
				if (funcid != F_TEXTCAT || list_length(args) != 2)
					return false;
				return texpr_walk(linitial(args), desc, t, alwaysnull) &&
					texpr_walk(lsecond(args), desc, t, alwaysnull);
			}
		case T_FieldSelect:
			if (((FieldSelect *) node)->resulttype != TEXTOID)
				return false;
			attnum = texpr_column(node, desc);
			break;
		case T_RelabelType:
			{
				RelabelType *r = (RelabelType *) node;

				/* varchar is binary-compatible with text: same bytes */
				if (r->resulttype != TEXTOID ||
					!IsA(r->arg, FieldSelect) ||
					((FieldSelect *) r->arg)->resulttype != VARCHAROID)
					return false;
				attnum = texpr_column((Node *) r->arg, desc);
				break;
			}
		case T_CoerceViaIO:
			{
				CoerceViaIO *io = (CoerceViaIO *) node;

				/* output function, then textin: the output's bytes */
				if (io->resulttype != TEXTOID)
					return false;
				attnum = texpr_column((Node *) io->arg, desc);
				break;
			}
		default:
			return false;
	}
	if (attnum == 0)
		return false;
	dumper_template_append(t, attnum, NameStr(TupleDescAttr(desc, attnum - 1)->attname));
	return true;
}

/*
 * expr, a planned text expression over $1 of row type desc, as a template;
 * NULL when it is not one.  *alwaysnull is set when the expression is NULL
 * whatever the row (a NULL constant in the concatenation).
 */
DumperTemplate *
dumper_template_from_expr(Node *expr, TupleDesc desc, bool *alwaysnull)
{
	DumperTemplate *t = dumper_template_new();

	*alwaysnull = false;
	if (!texpr_walk(expr, desc, t, alwaysnull))
		return NULL;
	return t;
}

/*
 * Walker of dumper_expr_row_columns: add to *cols the field numbers of $1
 * that node selects; true (stop) at a use of $1 as a whole.
 */
static bool
texpr_columns_walker(Node *node, Bitmapset **cols)
{
	if (node == NULL)
		return false;
	if (IsA(node, FieldSelect) && IsA(((FieldSelect *) node)->arg, Param))
	{
		FieldSelect *fs = (FieldSelect *) node;
		Param	   *param = (Param *) fs->arg;

		if (param->paramkind == PARAM_EXTERN && param->paramid == 1 && fs->fieldnum > 0)
		{
			*cols = bms_add_member(*cols, fs->fieldnum);
			return false;
		}
	}
	if (IsA(node, Param))
		return true;			/* the whole row, or a parameter we do not know */
	return expression_tree_walker(node, texpr_columns_walker, (void *) cols);
}

/*
 * Add to *cols the attribute numbers of the columns of the row $1 that expr,
 * a planned paths expression, reads.  False when its value may depend on
 * more than those columns: it uses $1 as a whole (a call that was not
 * inlined, a row passed on) or calls a volatile function.
 */
bool
dumper_expr_row_columns(Node *expr, Bitmapset **cols)
{
	if (contain_volatile_functions(expr))
		return false;
	return !texpr_columns_walker(expr, cols);
}
