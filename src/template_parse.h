/*-------------------------------------------------------------------------
 *
 * template_parse.h
 *	  Syntax of path templates ('/icecream/{slug}/'), in plain C.
 *
 * No PostgreSQL dependency, so that a fuzzer can link template_parse.c
 * alone; template.c adds the column lookup and the allocation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_TEMPLATE_PARSE_H
#define DUMPER_TEMPLATE_PARSE_H

#include <stddef.h>

/* What dumper_template_next found. */
typedef enum DumperTemplateTokenKind
{
	DUMPER_TEMPLATE_END,		/* the end of the template */
	DUMPER_TEMPLATE_LITERAL,	/* a non-empty run of literal text */
	DUMPER_TEMPLATE_COLUMN		/* a {column} placeholder */
} DumperTemplateTokenKind;

/*
 * One token.  For a literal, [start, start + len) is the text as written,
 * "{{" and "}}" escapes included, and unescaped_len its length once they
 * are undone; for a column, it is the column name without the braces
 * (non-empty, with no '{' or '}') and unescaped_len equals len.  start
 * points into the template, so the token lives as long as the template.
 */
typedef struct DumperTemplateToken
{
	DumperTemplateTokenKind kind;
	const char *start;
	size_t		len;
	size_t		unescaped_len;
} DumperTemplateToken;

/*
 * Read the next token of the template whose unread part is [*pos, end), and
 * advance *pos past it.  Returns NULL on success, otherwise a constant
 * English sentence (capitalised, ending with a period) for errdetail; then
 * *tok and *pos are unspecified.  Nothing at or past end is read.
 */
extern const char *dumper_template_next(const char **pos, const char *end,
										DumperTemplateToken *tok);

/*
 * Copy a literal token with its escapes undone into dst, which must have
 * room for tok->unescaped_len + 1 bytes; the copy is NUL-terminated.
 * Returns the number of bytes written before the NUL (tok->unescaped_len).
 * A column token is copied as is.
 */
extern size_t dumper_template_unescape(const DumperTemplateToken *tok, char *dst);

#endif							/* DUMPER_TEMPLATE_PARSE_H */
