/*-------------------------------------------------------------------------
 *
 * fuzz_template.c
 *	  libFuzzer target for the path template parser (src/template_parse.c).
 *
 * The input is the template, unterminated: the parser is handed exactly
 * [data, data + size), so AddressSanitizer catches a read past the end.
 * Beyond "no crash", each input checks that:
 *	- the tokens tile the template: every literal starts where the previous
 *	  token ended, every placeholder one byte later (after its '{') and ends
 *	  before a '}', and together they reach the end;
 *	- literals are non-empty and never follow each other, placeholder names
 *	  are non-empty and hold no brace;
 *	- unescaping writes exactly unescaped_len bytes and a NUL into a buffer
 *	  of that size (ASan guards its end), and escaping the result again
 *	  gives back the literal as written;
 *	- the segments and the error are those of the parser template.c had
 *	  before the split (ref_compile below, a copy of its loop with malloc in
 *	  place of palloc), for every input: the split changed no behaviour.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_parse.h"

#define MAX_LEN 4096			/* longer inputs are skipped */
#define MAX_SEGS (MAX_LEN + 1)	/* a segment takes at least one byte */

/* A segment as template.c stores it: column name or unescaped literal. */
typedef struct RefSeg
{
	int			is_column;
	char	   *text;
} RefSeg;

/* Stop the fuzzer with a message: a broken invariant. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_template: invariant broken: %s\n", what);
	abort();
}

/* Check a condition that must hold. */
#define CHECK(cond) do { if (!(cond)) fail(#cond); } while (0)

/*
 * The loop of dumper_template_compile before template_parse.c existed,
 * over a NUL-terminated tmpl: fills segs, returns the error detail or NULL.
 * Every column is taken to exist.
 */
static const char *
ref_compile(const char *tmpl, RefSeg *segs, int *nsegs)
{
	const char *p = tmpl;
	char	   *lit = malloc(strlen(tmpl) + 1);
	size_t		litlen = 0;

	*nsegs = 0;
	while (*p != '\0' || litlen > 0)
	{
		RefSeg		seg = {0};

		if (*p == '\0' || (*p == '{' && p[1] != '{'))
		{
			if (litlen > 0)
			{
				lit[litlen] = '\0';
				seg.text = strdup(lit);
				litlen = 0;
			}
			else
			{
				const char *end = strchr(p + 1, '}');

				if (end == NULL)
				{
					free(lit);
					return "A \"{\" is not closed by \"}\".";
				}
				seg.text = strndup(p + 1, end - p - 1);
				if (seg.text[0] == '\0')
				{
					free(seg.text);
					free(lit);
					return "A placeholder \"{}\" names no column.";
				}
				if (strchr(seg.text, '{') != NULL)
				{
					free(seg.text);
					free(lit);
					return "A placeholder contains \"{\".";
				}
				seg.is_column = 1;
				p = end + 1;
			}
			CHECK(*nsegs < MAX_SEGS);
			segs[(*nsegs)++] = seg;
			continue;
		}
		if ((*p == '{' && p[1] == '{') || (*p == '}' && p[1] == '}'))
		{
			lit[litlen++] = *p;
			p += 2;
		}
		else if (*p == '}')
		{
			free(lit);
			return "A \"}\" closes no placeholder; write \"}}\" for a literal brace.";
		}
		else
			lit[litlen++] = *p++;
	}
	free(lit);
	return NULL;
}

/* Free the segments ref_compile made. */
static void
ref_free(RefSeg *segs, int nsegs)
{
	for (int i = 0; i < nsegs; i++)
		free(segs[i].text);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tmpl = (const char *) data;
	const char *end = tmpl + size;
	const char *pos = tmpl;
	const char *err = NULL;
	char	   *cstr;
	RefSeg	   *ref;
	int			nref = 0;
	int			nseg = 0;
	const char *referr;
	DumperTemplateTokenKind prev = DUMPER_TEMPLATE_END;

	/* Templates are SQL text: no NUL inside. */
	if (size > MAX_LEN || memchr(data, '\0', size) != NULL)
		return -1;
	cstr = malloc(size + 1);
	memcpy(cstr, data, size);
	cstr[size] = '\0';
	ref = calloc(MAX_SEGS, sizeof(RefSeg));
	referr = ref_compile(cstr, ref, &nref);

	for (;;)
	{
		DumperTemplateToken tok;
		const char *before = pos;
		char	   *buf;
		size_t		n;

		err = dumper_template_next(&pos, end, &tok);
		if (err != NULL)
			break;
		CHECK(pos >= before && pos <= end);
		if (tok.kind == DUMPER_TEMPLATE_END)
		{
			CHECK(before == end && pos == end);
			break;
		}
		CHECK(pos > before);	/* progress: the loop ends */
		if (tok.kind == DUMPER_TEMPLATE_LITERAL)
		{
			CHECK(prev != DUMPER_TEMPLATE_LITERAL);
			CHECK(tok.start == before && tok.start + tok.len == pos);
			CHECK(tok.len > 0 && tok.unescaped_len > 0);
			CHECK(tok.unescaped_len <= tok.len);
		}
		else
		{
			CHECK(tok.kind == DUMPER_TEMPLATE_COLUMN);
			CHECK(*before == '{' && tok.start == before + 1);
			CHECK(tok.start + tok.len + 1 == pos && pos[-1] == '}');
			CHECK(tok.len > 0 && tok.unescaped_len == tok.len);
			CHECK(memchr(tok.start, '{', tok.len) == NULL);
			CHECK(memchr(tok.start, '}', tok.len) == NULL);
		}
		prev = tok.kind;

		/* exactly sized: ASan reports a write past unescaped_len + 1 */
		buf = malloc(tok.unescaped_len + 1);
		n = dumper_template_unescape(&tok, buf);
		CHECK(n == tok.unescaped_len && buf[n] == '\0');
		if (tok.kind == DUMPER_TEMPLATE_LITERAL)
		{
			/* escaping again gives the text as written */
			size_t		j = 0;

			for (size_t i = 0; i < n; i++)
			{
				CHECK(j < tok.len && tok.start[j] == buf[i]);
				if (buf[i] == '{' || buf[i] == '}')
				{
					CHECK(j + 1 < tok.len && tok.start[j + 1] == buf[i]);
					j += 2;
				}
				else
					j++;
			}
			CHECK(j == tok.len);
		}

		/* the same segment as the parser before the split */
		CHECK(nseg < nref || referr != NULL);
		if (nseg < nref)
		{
			CHECK(ref[nseg].is_column == (tok.kind == DUMPER_TEMPLATE_COLUMN));
			CHECK(strlen(ref[nseg].text) == n);
			CHECK(memcmp(ref[nseg].text, buf, n) == 0);
		}
		nseg++;
		free(buf);
	}

	/* the same outcome as before the split, byte for byte */
	if (err == NULL)
	{
		CHECK(referr == NULL);
		CHECK(nseg == nref);
	}
	else
	{
		CHECK(referr != NULL && strcmp(err, referr) == 0);
		CHECK(nseg == nref);
		/* an error needs a brace */
		CHECK(memchr(data, '{', size) != NULL || memchr(data, '}', size) != NULL);
	}

	ref_free(ref, nref);
	free(ref);
	free(cstr);
	return 0;
}
