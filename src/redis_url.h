/*-------------------------------------------------------------------------
 *
 * redis_url.h
 *	  Parsing of dumper.redis_url.
 *
 * Plain C with no PostgreSQL dependency, so that a fuzzer can link
 * redis_url.c alone.  The parser never allocates and never writes past the
 * fixed-size fields of DumperRedisUrl; an over-long component is an error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_REDIS_URL_H
#define DUMPER_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

#define DUMPER_REDIS_HOST_MAX	255 /* DNS names are at most 255 bytes */
#define DUMPER_REDIS_SOCK_MAX	107 /* sizeof(sun_path) - 1 on Linux */
#define DUMPER_REDIS_CRED_MAX	512 /* user name or password, decoded */

typedef struct DumperRedisUrl
{
	bool		unix_socket;	/* unix:// rather than redis:// */
	char		host[DUMPER_REDIS_HOST_MAX + 1];	/* host name, IPv4 or IPv6
													 * (no brackets), or the
													 * socket path */
	int			port;			/* 1..65535; 6379 when omitted */
	char		user[DUMPER_REDIS_CRED_MAX + 1];	/* empty: no user */
	char		password[DUMPER_REDIS_CRED_MAX + 1];
	bool		has_password;	/* AUTH needed */
	int			db;				/* SELECT db when not 0 */
} DumperRedisUrl;

/*
 * Parse url into *out.  Returns NULL on success, otherwise a constant
 * English sentence (capitalised, ending with a period) saying what is wrong,
 * suitable for errdetail.  *out is unspecified after a failure.
 */
extern const char *dumper_redis_url_parse(const char *url, DumperRedisUrl *out);

/*
 * Write a description of the server without credentials ("127.0.0.1:6379",
 * "[::1]:6380", "unix:/run/redis.sock") into buf (always NUL-terminated).
 */
extern void dumper_redis_url_describe(const DumperRedisUrl *u, char *buf, size_t len);

#endif							/* DUMPER_REDIS_URL_H */
