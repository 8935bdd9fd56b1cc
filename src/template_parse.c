/*-------------------------------------------------------------------------
 *
 * template_parse.c
 *	  Syntax of path templates: literal runs and {column} placeholders.
 *
 * A template is literal text with {column} placeholders; "{{" and "}}"
 * stand for literal braces.  A placeholder runs from a '{' that is not
 * doubled to the next '}'; its name is taken exactly as written.  A lone
 * '}' outside a placeholder is an error.  Scanning goes left to right and
 * yields one token at a time, so that template.c can look a column up as
 * soon as its placeholder is read, and the first problem met, syntax or
 * unknown column, is the one reported.
 *
 * Rules of this file:
 *	- Plain C and libc only (no postgres.h, no palloc, no ereport), so that a
 *	  fuzzer can link this file alone.
 *	- No allocation: tokens point into the template, and unescaping writes
 *	  into a buffer the caller sized from the token.
 *	- The template is [pos, end); nothing at or past end is read, so it
 *	  needs no terminating NUL.
 *	- Errors are constant sentences in static storage.
 *	- Time is linear in the length of the template, stack use constant.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "template_parse.h"

/* Does [p, end) start with two copies of c? */
static int
tparse_doubled(const char *p, const char *end, char c)
{
	return end - p >= 2 && p[0] == c && p[1] == c;
}

/*
 * Read the next token; see template_parse.h.  A '{' not followed by another
 * '{' opens a placeholder; anything else is literal text up to such a '{'
 * or the end.
 */
const char *
dumper_template_next(const char **pos, const char *end, DumperTemplateToken *tok)
{
	const char *p = *pos;

	memset(tok, 0, sizeof(*tok));
	if (p >= end)
	{
		tok->kind = DUMPER_TEMPLATE_END;
		tok->start = end;
		return NULL;
	}

	if (*p == '{' && !tparse_doubled(p, end, '{'))
	{
		const char *name = p + 1;
		const char *close = memchr(name, '}', (size_t) (end - name));

		if (close == NULL)
			return "A \"{\" is not closed by \"}\".";
		if (close == name)
			return "A placeholder \"{}\" names no column.";
		if (memchr(name, '{', (size_t) (close - name)) != NULL)
			return "A placeholder contains \"{\".";
		tok->kind = DUMPER_TEMPLATE_COLUMN;
		tok->start = name;
		tok->len = (size_t) (close - name);
		tok->unescaped_len = tok->len;
		*pos = close + 1;
		return NULL;
	}

	tok->kind = DUMPER_TEMPLATE_LITERAL;
	tok->start = p;
	while (p < end && !(*p == '{' && !tparse_doubled(p, end, '{')))
	{
		if (tparse_doubled(p, end, '{') || tparse_doubled(p, end, '}'))
			p += 2;
		else if (*p == '}')
			return "A \"}\" closes no placeholder; write \"}}\" for a literal brace.";
		else
			p++;
		tok->unescaped_len++;
	}
	tok->len = (size_t) (p - tok->start);
	*pos = p;
	return NULL;
}

/*
 * Copy a token with "{{" and "}}" undone; see template_parse.h.  A literal
 * token holds no lone brace, so every brace met here is the first of a pair.
 * At most tok->unescaped_len bytes are written before the NUL whatever the
 * token holds.
 */
size_t
dumper_template_unescape(const DumperTemplateToken *tok, char *dst)
{
	const char *p = tok->start;
	const char *end = tok->start + tok->len;
	size_t		n = 0;

	if (tok->kind != DUMPER_TEMPLATE_LITERAL)
	{
		memcpy(dst, tok->start, tok->len);
		dst[tok->len] = '\0';
		return tok->len;
	}
	while (p < end && n < tok->unescaped_len)
	{
		dst[n++] = *p;
		p += (*p == '{' || *p == '}') ? 2 : 1;
	}
	dst[n] = '\0';
	return n;
}
