/*-------------------------------------------------------------------------
 *
 * fuzz_redis_url.c
 *	  libFuzzer target for the dumper.redis_url parser (src/redis_url.c).
 *
 * The input, NUL-terminated in a buffer of exactly its size plus one (so
 * AddressSanitizer catches a read past the NUL), is parsed as a URL.
 * Beyond "no crash", each input checks that:
 *	- a failure returns a constant sentence (capitalised, ending with a
 *	  period) that is not a piece of the input;
 *	- a success leaves host, user and password NUL-terminated within their
 *	  fields, the port in 1..65535, the db non-negative, has_password set
 *	  exactly when the password is non-empty, and a host made only of the
 *	  characters its form allows;
 *	- the parsed URL, written back as a URL (credentials percent-encoded,
 *	  port and db always given; a unix:// URL's password once in the user
 *	  information and once as the query's password), parses again to the
 *	  identical struct;
 *	- describe() writes a NUL-terminated prefix of its full output into
 *	  buffers of small sizes and of sizes around that output's length, and
 *	  never a byte past the size it was given; and it stays within bounds
 *	  on a struct whose host has no NUL at all.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

/* Room for any URL write_url can produce. */
#define URL_BUF_SIZE (48 + 6 * DUMPER_REDIS_CRED_MAX + DUMPER_REDIS_HOST_MAX)
#define DESC_BUF_SIZE (DUMPER_REDIS_HOST_MAX + 32)

/* Stop the fuzzer with a message: a broken invariant. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_redis_url: invariant broken: %s\n", what);
	abort();
}

/* Check a condition that must hold. */
#define CHECK(cond) do { if (!(cond)) fail(#cond); } while (0)

/* Is the NUL-terminator of field f (a char array) inside it? */
#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* RFC 3986 unreserved: never percent-encoded by write_url. */
static int
is_unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append s to dst at *n, percent-encoding every reserved byte. */
static void
put_encoded(char *dst, size_t *n, const char *s)
{
	for (; *s != '\0'; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (is_unreserved(c))
			dst[(*n)++] = (char) c;
		else
			*n += (size_t) sprintf(dst + *n, "%%%02X", c);
	}
}

/*
 * Append u's user information to dst at *n: "user:password@", "user@" or
 * ":password@", percent-encoded; nothing when there is neither.  With
 * query_password, the password is left out (it goes into the query).
 */
static void
put_userinfo(const DumperRedisUrl *u, char *dst, size_t *n, int query_password)
{
	int			password = u->has_password && !query_password;

	if (u->user[0] == '\0' && !password)
		return;
	put_encoded(dst, n, u->user);
	if (password)
	{
		dst[(*n)++] = ':';
		put_encoded(dst, n, u->password);
	}
	dst[(*n)++] = '@';
}

/*
 * Write u back as a URL into dst (URL_BUF_SIZE bytes): the canonical form,
 * with port and db always spelled out.  A unix:// URL's password goes into
 * the user information, or with query_password into "&password=".
 */
static void
write_url(const DumperRedisUrl *u, char *dst, int query_password)
{
	size_t		n = 0;

	if (u->unix_socket)
	{
		n += (size_t) sprintf(dst, "unix://");
		put_userinfo(u, dst, &n, query_password);
		n += (size_t) sprintf(dst + n, "%s?db=%d", u->host, u->db);
		if (query_password && u->has_password)
		{
			n += (size_t) sprintf(dst + n, "&password=");
			put_encoded(dst, &n, u->password);
		}
		dst[n] = '\0';
		return;
	}
	n += (size_t) sprintf(dst, "redis://");
	put_userinfo(u, dst, &n, 0);
	if (strchr(u->host, ':') != NULL)
	{
		/* the zone index's '%' as RFC 6874 writes it, "%25" */
		const char *zone = strchr(u->host, '%');

		if (zone == NULL)
			n += (size_t) sprintf(dst + n, "[%s]", u->host);
		else
			n += (size_t) sprintf(dst + n, "[%.*s%%25%s]",
								  (int) (zone - u->host), u->host, zone + 1);
	}
	else
		n += (size_t) sprintf(dst + n, "%s", u->host);
	sprintf(dst + n, ":%d/%d", u->port, u->db);
}

/* Check the fields of a successful parse. */
static void
check_parsed(const DumperRedisUrl *u)
{
	size_t		hostlen;

	CHECK(TERMINATED(u->host));
	CHECK(TERMINATED(u->user));
	CHECK(TERMINATED(u->password));
	CHECK(u->port >= 1 && u->port <= 65535);
	CHECK(u->db >= 0);
	CHECK(u->has_password == (u->password[0] != '\0'));
	hostlen = strlen(u->host);
	CHECK(hostlen > 0);
	if (u->unix_socket)
	{
		CHECK(u->host[0] == '/' && hostlen <= DUMPER_REDIS_SOCK_MAX);
		CHECK(strchr(u->host, '?') == NULL);
		for (size_t i = 0; i < hostlen; i++)
			CHECK((unsigned char) u->host[i] >= 0x20 && u->host[i] != 0x7f);
		CHECK(u->port == 6379);
	}
	else
	{
		int			v6 = strchr(u->host, ':') != NULL;

		for (size_t i = 0; i < hostlen; i++)
		{
			unsigned char c = (unsigned char) u->host[i];

			CHECK(is_unreserved(c) || (v6 && (c == ':' || c == '%')));
			CHECK(c != '~');
		}
	}
}

/*
 * Describe u into a buffer of size len (0..DESC_BUF_SIZE): the result is a
 * prefix of the full description, terminated within len bytes, and no byte
 * at or past len is touched.
 */
static void
check_describe_len(const DumperRedisUrl *u, const char *full, size_t len)
{
	char		buf[DESC_BUF_SIZE + 8];

	memset(buf, 0x5a, sizeof(buf));
	dumper_redis_url_describe(u, buf, len);
	for (size_t i = len; i < len + 8; i++)
		CHECK((unsigned char) buf[i] == 0x5a);
	if (len == 0)
		return;
	CHECK(memchr(buf, '\0', len) != NULL);
	CHECK(strncmp(buf, full, len - 1) == 0);
}

/*
 * Describe u into buffers of sizes 0 to 8, around the length of the full
 * description, and one in between.  Returns the full length.
 */
static size_t
check_describe(const DumperRedisUrl *u)
{
	char		full[DESC_BUF_SIZE];
	size_t		fulllen;

	dumper_redis_url_describe(u, full, sizeof(full));
	CHECK(TERMINATED(full));
	fulllen = strlen(full);
	CHECK(fulllen < sizeof(full) - 1);	/* never cut at this size */
	for (size_t len = 0; len <= 8; len++)
		check_describe_len(u, full, len);
	for (size_t len = fulllen > 2 ? fulllen - 2 : 0; len <= fulllen + 2; len++)
		check_describe_len(u, full, len);
	check_describe_len(u, full, fulllen / 2);
	/* a NULL buffer is ignored */
	dumper_redis_url_describe(u, NULL, 16);
	return fulllen;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *url;
	DumperRedisUrl *u;
	DumperRedisUrl *again;
	const char *err;

	if (size > 4096)
		return -1;
	url = malloc(size + 1);
	memcpy(url, data, size);
	url[size] = '\0';
	u = malloc(sizeof(*u));
	again = malloc(sizeof(*again));

	err = dumper_redis_url_parse(url, u);
	if (err != NULL)
	{
		size_t		len = strlen(err);

		CHECK(len > 1 && err[0] >= 'A' && err[0] <= 'Z' && err[len - 1] == '.');
		CHECK(err < url || err > url + size);
		/* the same input gives the same sentence */
		CHECK(dumper_redis_url_parse(url, again) == err);
	}
	else
	{
		char		canon[URL_BUF_SIZE];
		char		desc[DESC_BUF_SIZE];
		const char *err2;

		check_parsed(u);
		/* a unix:// URL's password in both places it may be written */
		for (int query_password = 0; query_password <= u->unix_socket; query_password++)
		{
			write_url(u, canon, query_password);
			err2 = dumper_redis_url_parse(canon, again);
			if (err2 != NULL)
			{
				fprintf(stderr, "canonical form \"%s\" refused: %s\n", canon, err2);
				fail("the canonical form parses");
			}
			CHECK(memcmp(u, again, sizeof(*u)) == 0);
		}

		/* the description names the server */
		check_describe(u);
		dumper_redis_url_describe(u, desc, sizeof(desc));
		CHECK(strstr(desc, u->host) != NULL);
	}

	/*
	 * describe() on a struct that never came from the parser: the host is
	 * filled to its last byte with no NUL, from the input.
	 */
	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < sizeof(u->host); i++)
		u->host[i] = size > 0 ? (char) (data[i % size] | 1) : 'x';
	u->unix_socket = size > 0 && (data[0] & 2) != 0;
	u->port = size > 1 ? (int) data[1] * 300 : 0;
	(void) check_describe(u);

	free(again);
	free(u);
	free(url);
	return 0;
}
