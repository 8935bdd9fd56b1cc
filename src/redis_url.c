/*-------------------------------------------------------------------------
 *
 * redis_url.c
 *	  Parsing of dumper.redis_url.
 *
 * Two forms are accepted (the scheme is case-insensitive):
 *
 *	  redis://[[user][:password]@]host[:port][/db]
 *	  unix://[[user][:password]@]/absolute/path/to/redis.sock[?db=N][&password=P]
 *
 * host is a DNS name, an IPv4 address, or an IPv6 address in brackets
 * ("[::1]", stored without the brackets; a zone index may be written
 * "%25eth0", as RFC 6874 has it, or "%eth0").  port is 1..65535 (6379 when
 * omitted); db is 0..2147483647 (0 when omitted or when the URL ends in a
 * bare "/").  user and password are percent-decoded; a unix:// URL may
 * give the password as the query parameter password instead.
 *
 * AUTH is sent only when the decoded password is non-empty: Redis has no
 * AUTH without a password, so "redis://user@host" connects without AUTH
 * and the user name is kept but unused.  An ACL user created with nopass
 * accepts any password, so write "redis://user:x@host" to log in as one.
 *
 * Rules of this file:
 *	- Plain C and libc only (no postgres.h, no palloc, no ereport), so that a
 *	  fuzzer can link this file alone.
 *	- No allocation.  Output is written only into the fixed-size fields of
 *	  DumperRedisUrl, each write checked against the field's size first; an
 *	  over-long component is an error, never silently cut.
 *	- The input is measured once with strlen and then only read inside
 *	  [url, url + strlen(url)), so nothing past the NUL is ever read.
 *	- Errors are constant sentences in static storage.  They never quote the
 *	  input, because the URL may hold a password.
 *	- Time and stack use are linear in, respectively constant in, the length
 *	  of the URL; nothing recurses.
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "redis_url.h"

/* Turn a numeric macro into a string literal, for the error sentences. */
#define URL_STR2(x) #x
#define URL_STR(x) URL_STR2(x)

#define URL_DEFAULT_PORT	6379

/* Outcome of url_parse_number. */
typedef enum UrlNumber
{
	URL_NUMBER_OK,
	URL_NUMBER_EMPTY,			/* no characters at all */
	URL_NUMBER_NOT_DIGITS,		/* something other than 0-9 */
	URL_NUMBER_TOO_BIG			/* larger than the allowed maximum */
} UrlNumber;

/*
 * ASCII lower-casing that ignores the locale, so that parsing does not
 * depend on LC_CTYPE.
 */
static int
url_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* ASCII letter or digit, independent of the locale. */
static int
url_is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/*
 * Value of a hexadecimal digit, or -1.  Used by the percent-decoder.
 */
static int
url_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Does [s, e) equal the lower-case literal lit, ignoring ASCII case?
 * Used for the scheme, which RFC 3986 makes case-insensitive.
 */
static int
url_equal_ci(const char *s, const char *e, const char *lit)
{
	size_t		n = strlen(lit);
	size_t		i;

	if ((size_t) (e - s) != n)
		return 0;
	for (i = 0; i < n; i++)
	{
		if (url_lower((unsigned char) s[i]) != lit[i])
			return 0;
	}
	return 1;
}

/*
 * First occurrence of c in [s, e), or NULL (also when s >= e).  Used
 * instead of memchr so that every search is visibly bounded by e.
 */
static const char *
url_find(const char *s, const char *e, char c)
{
	const char *p;

	for (p = s; p < e; p++)
	{
		if (*p == c)
			return p;
	}
	return NULL;
}

/*
 * Last occurrence of c in [s, e), or NULL.  The user information of a
 * redis:// URL ends at the last '@' of the authority, so that an unencoded
 * '@' in a password still works.
 */
static const char *
url_find_last(const char *s, const char *e, char c)
{
	const char *p;

	for (p = e; p > s; p--)
	{
		if (p[-1] == c)
			return p - 1;
	}
	return NULL;
}

/*
 * Parse [s, e) as a non-empty decimal number no larger than max.
 * Only the digits 0-9 are accepted (no sign, no blanks); leading zeros are
 * fine.  Accumulation stops as soon as max is exceeded, so nothing can
 * overflow however many digits there are.
 */
static UrlNumber
url_parse_number(const char *s, const char *e, long max, long *out)
{
	long		v = 0;
	const char *p;

	if (s == e)
		return URL_NUMBER_EMPTY;
	for (p = s; p < e; p++)
	{
		if (*p < '0' || *p > '9')
			return URL_NUMBER_NOT_DIGITS;
	}
	for (p = s; p < e; p++)
	{
		v = v * 10 + (*p - '0');
		if (v > max)
			return URL_NUMBER_TOO_BIG;
	}
	*out = v;
	return URL_NUMBER_OK;
}

/*
 * Percent-decode the user name or password [s, e) into dst, which has room
 * for DUMPER_REDIS_CRED_MAX bytes plus the terminating NUL.  A '%' must be
 * followed by two hexadecimal digits, and "%00" is refused because the
 * result is handled as a C string afterwards.
 */
static const char *
url_decode_credential(const char *s, const char *e, char *dst)
{
	size_t		n = 0;

	while (s < e)
	{
		int			c = (unsigned char) *s;

		if (c == '%')
		{
			int			hi,
						lo;

			if (e - s < 3)
				return "Malformed percent-escape in the user name or password: '%' must be followed by two hexadecimal digits.";
			hi = url_hex_value((unsigned char) s[1]);
			lo = url_hex_value((unsigned char) s[2]);
			if (hi < 0 || lo < 0)
				return "Malformed percent-escape in the user name or password: '%' must be followed by two hexadecimal digits.";
			c = hi * 16 + lo;
			if (c == 0)
				return "The user name or password contains an encoded NUL byte (%00).";
			s += 3;
		}
		else
			s++;

		if (n >= DUMPER_REDIS_CRED_MAX)
			return "The user name or password is longer than " URL_STR(DUMPER_REDIS_CRED_MAX) " bytes after percent-decoding.";
		dst[n++] = (char) c;
	}
	dst[n] = '\0';
	return NULL;
}

/*
 * Parse the port [s, e) that followed a ':' after the host.
 */
static const char *
url_parse_port(const char *s, const char *e, DumperRedisUrl *out)
{
	long		port = 0;

	switch (url_parse_number(s, e, 65535, &port))
	{
		case URL_NUMBER_OK:
			break;
		case URL_NUMBER_EMPTY:
			return "The port after ':' is empty.";
		case URL_NUMBER_NOT_DIGITS:
			return "The port is not a decimal number.";
		case URL_NUMBER_TOO_BIG:
			return "The port must be between 1 and 65535.";
	}
	if (port == 0)
		return "Port 0 is not valid: the port must be between 1 and 65535.";
	out->port = (int) port;
	return NULL;
}

/*
 * Parse "host[:port]" or "[ipv6][:port]", the part [s, e) of a redis:// URL
 * between the user information and the path.  Host names are restricted to
 * letters, digits, '-', '.' and '_', which also keeps control characters
 * and blanks out of error messages that describe the server.
 */
static const char *
url_parse_host_port(const char *s, const char *e, DumperRedisUrl *out)
{
	const char *host;
	const char *host_end;
	const char *port = NULL;	/* start of the port, after ':' */
	const char *zone;			/* '%' of an IPv6 zone index, or NULL */
	const char *p;
	size_t		skip = 0;		/* 2 when the zone's '%' is written "%25" */
	size_t		len;

	if (s == e)
		return "The Redis URL has no host name.";

	if (*s == '[')
	{
		const char *close = url_find(s, e, ']');
		int			has_colon = 0;

		if (close == NULL)
			return "Unbalanced brackets: the IPv6 address has a '[' but no closing ']'.";
		host = s + 1;
		host_end = close;
		if (host == host_end)
			return "The Redis URL has no host name: the brackets are empty.";
		for (p = host; p < host_end; p++)
		{
			/* hex digits, ':', '.', and a zone index ("%eth0", "%25eth0") */
			if (*p == ':')
				has_colon = 1;
			else if (*p == '[')
				return "Unbalanced brackets: the IPv6 address contains a second '['.";
			else if (!url_is_alnum((unsigned char) *p) && *p != '.' &&
					 *p != '%' && *p != '-' && *p != '_')
				return "The IPv6 address in brackets contains a character that is not allowed.";
		}
		if (!has_colon)
			return "The text in brackets is not an IPv6 address; only IPv6 addresses are written in brackets.";
		if (close + 1 < e)
		{
			if (close[1] != ':')
				return "Unexpected characters after the IPv6 address: expected ':' and a port.";
			port = close + 2;
		}
	}
	else
	{
		const char *colon = url_find(s, e, ':');

		if (url_find(s, e, '[') != NULL ||
			url_find(s, e, ']') != NULL)
			return "Unbalanced brackets in the host: write an IPv6 address as [::1], at the start of the host.";
		if (colon != NULL &&
			url_find(colon + 1, e, ':') != NULL)
			return "An IPv6 address must be written in brackets, as in redis://[::1]:6379.";
		host = s;
		host_end = colon != NULL ? colon : e;
		if (host == host_end)
			return "The Redis URL has no host name.";
		for (p = host; p < host_end; p++)
		{
			if (!url_is_alnum((unsigned char) *p) && *p != '-' &&
				*p != '.' && *p != '_')
				return "The host name contains a character that is not allowed (only letters, digits, '-', '.' and '_' are).";
		}
		if (colon != NULL)
			port = colon + 1;
	}

	/*
	 * RFC 6874 writes the '%' before an IPv6 zone index as "%25"
	 * ("[fe80::1%25eth0]", what a URL library or a browser gives): stored as
	 * a bare '%', which is also accepted as is.  The rest of the zone is
	 * kept verbatim, and the limit applies to what is stored.
	 */
	zone = (*s == '[') ? url_find(host, host_end, '%') : NULL;
	if (zone != NULL && host_end - zone >= 3 && zone[1] == '2' && zone[2] == '5')
		skip = 2;
	len = (size_t) (host_end - host) - skip;
	if (len > DUMPER_REDIS_HOST_MAX)
		return "The host name is longer than " URL_STR(DUMPER_REDIS_HOST_MAX) " bytes.";
	if (skip == 0)
		memcpy(out->host, host, len);
	else
	{
		size_t		head = (size_t) (zone + 1 - host);

		memcpy(out->host, host, head);
		memcpy(out->host + head, zone + 3, len - head);
	}
	out->host[len] = '\0';

	if (port != NULL)
		return url_parse_port(port, e, out);
	return NULL;
}

/*
 * Split the user information [s, at) of a URL at its first ':' and
 * percent-decode the user name and the password into out.  An empty
 * password is no password.  *password_given, unless NULL, says whether
 * there was a ':'.
 */
static const char *
url_parse_userinfo(const char *s, const char *at, DumperRedisUrl *out,
				   int *password_given)
{
	const char *colon = url_find(s, at, ':');
	const char *err;

	if (password_given != NULL)
		*password_given = colon != NULL;
	err = url_decode_credential(s, colon != NULL ? colon : at, out->user);
	if (err != NULL || colon == NULL)
		return err;
	err = url_decode_credential(colon + 1, at, out->password);
	if (err != NULL)
		return err;
	out->has_password = out->password[0] != '\0';
	return NULL;
}

/*
 * Parse what follows "redis://": [user information '@'] host [':' port]
 * ['/' [db]].  The authority ends at the first '/' or '?', so those two
 * characters must be percent-encoded in a user name or password; an '@'
 * after that point can only be such a mistake, and gets its own sentence.
 */
static const char *
url_parse_tcp(const char *s, const char *e, DumperRedisUrl *out)
{
	const char *auth_end = s;
	const char *at;
	const char *hostport = s;
	const char *err;

	while (auth_end < e && *auth_end != '/' && *auth_end != '?')
		auth_end++;
	if (url_find(auth_end, e, '@') != NULL)
		return "An '@' follows the host part: a '/' or '?' in the user name or password must be percent-encoded (%2F, %3F).";

	at = url_find_last(s, auth_end, '@');
	if (at != NULL)
	{
		err = url_parse_userinfo(s, at, out, NULL);
		if (err != NULL)
			return err;
		hostport = at + 1;
	}

	err = url_parse_host_port(hostport, auth_end, out);
	if (err != NULL)
		return err;

	if (auth_end == e)
		return NULL;
	if (*auth_end == '?')
		return "Query parameters are not accepted in redis:// URLs; give the database number as /db.";

	/* *auth_end == '/': an optional database number follows */
	{
		const char *db = auth_end + 1;
		const char *db_end = db;
		long		v = 0;

		while (db_end < e && *db_end >= '0' && *db_end <= '9')
			db_end++;
		if (db_end < e)
		{
			if (db_end == db)
				return "The database number after '/' is not a decimal number.";
			if (*db_end == '?')
				return "Query parameters are not accepted in redis:// URLs; give the database number as /db.";
			return "Unexpected characters after the database number.";
		}
		if (db == db_end)
			return NULL;		/* a bare trailing '/' means db 0 */
		if (url_parse_number(db, db_end, INT_MAX, &v) != URL_NUMBER_OK)
			return "The database number is larger than 2147483647.";
		out->db = (int) v;
	}
	return NULL;
}

/*
 * Parse what follows "unix://": optional user information ending in '@',
 * an absolute socket path, then optionally a query of '&'-separated "db=N"
 * and "password=P" (redis-py's two spellings of a password on a socket:
 * "unix://:P@/path" and "unix:///path?password=P").  The path is taken
 * literally (no percent-decoding); it may not contain '?' or control
 * characters, and user information is recognised only before the first '/'
 * after "unix://", so a path may contain '@'.  The password is percent-decoded in either
 * place, and may be given only once.
 */
static const char *
url_parse_unix(const char *s, const char *e, DumperRedisUrl *out)
{
	static const char not_absolute[] = "The socket path must be absolute, as in unix:///run/redis/redis.sock, or unix://:password@/run/redis/redis.sock with a password.";
	const char *q;
	const char *path_end;
	const char *p;
	const char *err;
	size_t		len;
	int			seen_db = 0;
	int			seen_password = 0;

	if (s < e && *s != '/')
	{
		const char *slash = url_find(s, e, '/');
		const char *at = slash != NULL ? url_find_last(s, slash, '@') : NULL;

		if (at == NULL || at + 1 != slash)
			return not_absolute;
		err = url_parse_userinfo(s, at, out, &seen_password);
		if (err != NULL)
			return err;
		s = slash;
	}
	if (s == e)
		return not_absolute;
	q = url_find(s, e, '?');
	path_end = q != NULL ? q : e;
	len = (size_t) (path_end - s);
	if (len > DUMPER_REDIS_SOCK_MAX)
		return "The socket path is longer than " URL_STR(DUMPER_REDIS_SOCK_MAX) " bytes.";
	for (p = s; p < path_end; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return "The socket path contains a control character.";
	}
	memcpy(out->host, s, len);
	out->host[len] = '\0';
	out->unix_socket = 1;

	if (q == NULL)
		return NULL;

	/* query: one or more '&'-separated parameters, "db=N" or "password=P" */
	s = q + 1;
	for (;;)
	{
		const char *amp = url_find(s, e, '&');
		const char *pe = amp != NULL ? amp : e;
		long		v = 0;

		if (pe - s >= 9 && memcmp(s, "password=", 9) == 0)
		{
			if (seen_password)
				return "The password is given more than once.";
			seen_password = 1;
			err = url_decode_credential(s + 9, pe, out->password);
			if (err != NULL)
				return err;
			out->has_password = out->password[0] != '\0';
		}
		else if (pe - s >= 3 && memcmp(s, "db=", 3) == 0)
		{
			if (seen_db)
				return "The db parameter is given more than once.";
			seen_db = 1;
			switch (url_parse_number(s + 3, pe, INT_MAX, &v))
			{
				case URL_NUMBER_OK:
					break;
				case URL_NUMBER_EMPTY:
				case URL_NUMBER_NOT_DIGITS:
					return "The db parameter is not a decimal number.";
				case URL_NUMBER_TOO_BIG:
					return "The database number is larger than 2147483647.";
			}
			out->db = (int) v;
		}
		else
			return "Unknown or empty query parameter in the unix:// URL; only db=N and password=P are accepted.";
		if (amp == NULL)
			break;
		s = amp + 1;
	}
	return NULL;
}

/*
 * Parse url into *out; see redis_url.h.  Dispatches on the scheme after
 * resetting *out to the defaults (no credentials, port 6379, db 0).
 */
const char *
dumper_redis_url_parse(const char *url, DumperRedisUrl *out)
{
	const char *e;
	const char *p;

	memset(out, 0, sizeof(*out));
	out->port = URL_DEFAULT_PORT;

	if (url == NULL || url[0] == '\0')
		return "The Redis URL is empty.";
	e = url + strlen(url);

	/* scheme: letters, digits, '+', '-', '.', then "://" */
	p = url;
	while (p < e && (url_is_alnum((unsigned char) *p) || *p == '+' ||
					 *p == '-' || *p == '.'))
		p++;
	if (p == url || e - p < 3 || memcmp(p, "://", 3) != 0)
		return "The Redis URL must start with redis:// or unix://.";

	if (url_equal_ci(url, p, "redis"))
		return url_parse_tcp(p + 3, e, out);
	if (url_equal_ci(url, p, "unix"))
		return url_parse_unix(p + 3, e, out);
	if (url_equal_ci(url, p, "rediss"))
		return "TLS (rediss://) is not supported: the hiredis library in use (0.14) has no TLS support; use redis:// or unix://.";
	return "Unknown URL scheme: only redis:// and unix:// are accepted.";
}

/*
 * Describe the server for messages: "host:port", "[ipv6]:port" or
 * "unix:/path".  Credentials and the database number are never shown.
 * The host field is read only up to its size, so even a DumperRedisUrl that
 * did not come from the parser cannot make this read out of bounds.
 */
void
dumper_redis_url_describe(const DumperRedisUrl *u, char *buf, size_t len)
{
	int			hostlen;

	if (buf == NULL || len == 0)
		return;
	hostlen = (int) strnlen(u->host, sizeof(u->host));
	if (u->unix_socket)
		snprintf(buf, len, "unix:%.*s", hostlen, u->host);
	else if (url_find(u->host, u->host + hostlen, ':') != NULL)
		snprintf(buf, len, "[%.*s]:%d", hostlen, u->host, u->port);
	else
		snprintf(buf, len, "%.*s:%d", hostlen, u->host, u->port);
}
