/*-------------------------------------------------------------------------
 *
 * redis_client.c
 *	  A small, time-bounded, interruptible Redis client over hiredis 0.14.
 *
 * hiredis serves only as protocol encoder/decoder and socket owner: the
 * context is created non-blocking (redisConnectNonBlock,
 * redisConnectUnixNonBlock) and we do every wait ourselves with
 * a wait event set of our own, so that the backend stays responsive to
 * interrupts and to postmaster death.  redisGetReply and redisCommand
 * are never used: in non-blocking mode they cannot wait.
 *
 * Rules of this file:
 *	- Time: each public function measures its deadline from its own start
 *	  with a monotonic clock, and no wait is longer than what remains of
 *	  timeout_ms, nor than RC_WAIT_SLICE_MS (100 ms).  The one step we cannot
 *	  bound is the name lookup (getaddrinfo) inside redisConnectNonBlock,
 *	  which blocks; use an IP address or a unix socket where DNS may hang.
 *	- Interrupts: after every wake-up comes CHECK_FOR_INTERRUPTS(), so a
 *	  query cancel or SIGTERM ends the call with the usual ereport at the
 *	  latest when the wait slice ends, and WL_EXIT_ON_PM_DEATH ends the
 *	  process if the postmaster dies.  The waits leave the latch out: a
 *	  committing backend's wake-up of the worker during a round trip then
 *	  finds no sleeper and costs it no system call, and the latch stays set
 *	  for the worker's own next wait.  Each connection keeps one wait event
 *	  set (socket and postmaster death, which a single-user backend has
 *	  none of), so a wait makes no epoll set.
 *	- What may ereport: only CHECK_FOR_INTERRUPTS, palloc running out of
 *	  memory, and the latch machinery itself.  Everything Redis or the
 *	  network does wrong is returned as false/NULL plus a one-line English
 *	  message in err (lower case, no trailing period, like an errmsg).
 *	- Messages name the server with dumper_redis_url_describe (never with
 *	  credentials), and Redis's own error text is copied with control
 *	  characters blanked and the password, should Redis echo it, masked.
 *	- Memory: DumperRedis and everything hiredis owns are malloc'ed, so a
 *	  connection can outlive memory contexts; dumper_redis_close frees them.
 *	  Argument vectors are palloc'ed in CurrentMemoryContext and pfree'd
 *	  before the first wait, so nothing leaks per call, and an ereport from
 *	  an interrupt leaves nothing behind but what the context reset frees.
 *	  Reply objects are freed as soon as they are checked; none is held
 *	  across a wait.
 *	- Reuse: a connection is marked unusable at the start of every call and
 *	  usable again only when the call succeeded.  One that failed, or whose
 *	  call was interrupted in the middle of a pipeline, may only be closed;
 *	  any other call on it fails at once.  In particular a hiredis context
 *	  whose err is set is never used again.
 *	- hiredis 0.14 writes with write(2), not send(MSG_NOSIGNAL): a write to a
 *	  connection Redis has closed raises SIGPIPE.  Backends and background
 *	  workers ignore SIGPIPE, so it surfaces as EPIPE; any other process
 *	  linking this file must ignore SIGPIPE too.
 *	- Redis Cluster is not supported: a multi-key DEL would need all keys in
 *	  one hash slot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include <hiredis/hiredis.h>

#include "redis_client.h"
#include "redis_url.h"

/* Longest single wait, so that we look at the clock and interrupts often. */
#define RC_WAIT_SLICE_MS	100

/* Keys per DEL command; several DELs are pipelined for more keys. */
#define RC_DEL_MAX_KEYS		256

/* Room for "[" host "]:" port, or "unix:" path, plus the NUL. */
#define RC_DESC_SIZE		(DUMPER_REDIS_HOST_MAX + 16)

/* Longest piece of a Redis error reply copied into a message. */
#define RC_REPLY_TEXT_MAX	200

struct DumperRedis
{
	redisContext *ctx;			/* non-blocking hiredis context */
	WaitEventSet *wes;			/* ctx's socket and postmaster death, or NULL */
	int			wes_events;		/* socket events wes waits for */
	bool		usable;			/* false during a call and after a failure */
	bool		timed_out;		/* the last failure was a timeout */
	bool		error_reply;	/* the last failure was an error reply */
	char		desc[RC_DESC_SIZE]; /* server, for messages; no credentials */
};

/*
 * A run of consecutive pipelined commands of one kind, and the reply type
 * each must get.  A pipeline is described by a short array of these, in
 * sending order, so that the n-th reply can be matched to its command.
 */
typedef struct RcCommandRun
{
	const char *command;		/* name, for messages: "DEL" */
	int			count;			/* number of commands in the run */
	int			reply_type;		/* REDIS_REPLY_INTEGER, ..._STATUS */
} RcCommandRun;

/*
 * Put a printf-style message into err, when the caller gave room for one.
 * All failure paths go through here so that err is always NUL-terminated.
 */
static void
pg_attribute_printf(3, 4)
rc_set_error(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Milliseconds left until start + timeout_ms: 0 once the deadline has
 * passed, otherwise at least 1 (a sub-millisecond rest still gets a short
 * wait rather than a premature timeout).  instr_time uses a monotonic
 * clock, so a change of the system time cannot stretch or cut a call.
 */
static int
rc_remaining_ms(const instr_time *start, int timeout_ms)
{
	instr_time	now;
	double		left;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, *start);
	left = (double) timeout_ms - INSTR_TIME_GET_MILLISEC(now);
	if (left <= 0.0)
		return 0;
	return left < 1.0 ? 1 : (int) left;
}

/*
 * Wait until the connection's socket is ready for events
 * (WL_SOCKET_READABLE and/or WL_SOCKET_WRITEABLE) or at most
 * min(remaining_ms, RC_WAIT_SLICE_MS) have passed.  Then serve interrupts,
 * which may ereport and so end the whole call.  Returns the socket's ready
 * events, 0 on a timeout.  The wait event set is made at the first wait
 * (in TopMemoryContext, freed by dumper_redis_close).
 */
static int
rc_wait(DumperRedis *r, int events, int remaining_ms)
{
	WaitEvent	event;
	int			ready = 0;

	if (r->wes == NULL)
	{
		r->wes = CreateWaitEventSet(TopMemoryContext, 2);
		AddWaitEventToSet(r->wes, events, r->ctx->fd, NULL, NULL);
		/* A single-user backend has no postmaster to watch (as WaitLatch). */
		if (IsUnderPostmaster)
			AddWaitEventToSet(r->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
							  NULL, NULL);
		r->wes_events = events;
	}
	else if (r->wes_events != events)
	{
		ModifyWaitEvent(r->wes, 0, events, NULL);
		r->wes_events = events;
	}
	if (WaitEventSetWait(r->wes, Min(remaining_ms, RC_WAIT_SLICE_MS),
						 &event, 1, PG_WAIT_EXTENSION) == 1)
		ready = event.events & events;
	CHECK_FOR_INTERRUPTS();
	return ready;
}

/*
 * Copy len bytes of Redis's reply text into dst (size dstsize) so that it
 * fits on one line: control characters become blanks, and every occurrence
 * of secret (the password, when there is one) becomes "***", in case a
 * server or proxy echoes the arguments of a failed AUTH.  The copy is cut
 * at dstsize - 1 bytes.
 */
static void
rc_copy_reply_text(char *dst, size_t dstsize, const char *src, size_t len,
				   const char *secret)
{
	size_t		secretlen = secret != NULL ? strlen(secret) : 0;
	size_t		i = 0;
	size_t		n = 0;

	while (i < len && n + 1 < dstsize)
	{
		unsigned char c = (unsigned char) src[i];

		if (secretlen > 0 && len - i >= secretlen &&
			memcmp(src + i, secret, secretlen) == 0)
		{
			const char *mask = "***";

			while (*mask != '\0' && n + 1 < dstsize)
				dst[n++] = *mask++;
			i += secretlen;
			continue;
		}
		dst[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
		i++;
	}
	dst[n] = '\0';
}

/*
 * Describe a hiredis-level failure (c->err set by redisBufferRead,
 * redisBufferWrite, redisGetReplyFromReader or redisAppendCommandArgv)
 * in err.  Always returns false, for "return rc_context_error(...)".
 */
static bool
rc_context_error(DumperRedis *r, char *err, size_t errlen)
{
	redisContext *c = r->ctx;
	char		text[sizeof(c->errstr)];

	rc_copy_reply_text(text, sizeof(text), c->errstr,
					   strnlen(c->errstr, sizeof(c->errstr)), NULL);
	if (text[0] == '\0')
		strlcpy(text, "unknown error", sizeof(text));
	switch (c->err)
	{
		case REDIS_ERR_EOF:
			rc_set_error(err, errlen, "Redis at %s closed the connection",
						 r->desc);
			break;
		case REDIS_ERR_IO:
			rc_set_error(err, errlen, "lost connection to Redis at %s: %s",
						 r->desc, text);
			break;
		case REDIS_ERR_PROTOCOL:
			rc_set_error(err, errlen, "Redis at %s sent an invalid reply: %s",
						 r->desc, text);
			break;
		case REDIS_ERR_OOM:
			rc_set_error(err, errlen,
						 "out of memory in the Redis client for %s", r->desc);
			break;
		default:
			rc_set_error(err, errlen, "error talking to Redis at %s: %s",
						 r->desc, text);
			break;
	}
	return false;
}

/*
 * Name of a reply type, for the message about an unexpected reply.
 */
static const char *
rc_reply_type_name(int type)
{
	switch (type)
	{
		case REDIS_REPLY_STRING:
			return "string";
		case REDIS_REPLY_ARRAY:
			return "array";
		case REDIS_REPLY_INTEGER:
			return "integer";
		case REDIS_REPLY_NIL:
			return "nil";
		case REDIS_REPLY_STATUS:
			return "status";
		case REDIS_REPLY_ERROR:
			return "error";
	}
	return "unknown";
}

/*
 * Check one reply against what its command must get.  An error reply is
 * reported with Redis's text ("NOAUTH Authentication required."), any other
 * unexpected type by name.  Does not free the reply.
 */
static bool
rc_check_reply(DumperRedis *r, const RcCommandRun *run, const redisReply *reply,
			   const char *secret, char *err, size_t errlen)
{
	char		text[RC_REPLY_TEXT_MAX + 1];

	if (reply->type == REDIS_REPLY_ERROR)
	{
		r->error_reply = true;
		rc_copy_reply_text(text, sizeof(text),
						   reply->str != NULL ? reply->str : "",
						   reply->str != NULL ? reply->len : 0, secret);
		rc_set_error(err, errlen, "Redis at %s replied to %s: %s",
					 r->desc, run->command, text);
		return false;
	}
	if (reply->type != run->reply_type)
	{
		rc_set_error(err, errlen,
					 "Redis at %s sent an unexpected %s reply to %s",
					 r->desc, rc_reply_type_name(reply->type), run->command);
		return false;
	}
	return true;
}

/*
 * The run that the reply with index idx (0-based, in sending order)
 * answers.  Runs with count 0 are skipped.
 */
static const RcCommandRun *
rc_run_of_reply(const RcCommandRun *runs, int nruns, int idx)
{
	int			i;

	for (i = 0; i < nruns; i++)
	{
		if (idx < runs[i].count)
			return &runs[i];
		idx -= runs[i].count;
	}
	return NULL;				/* not reached: callers stay below the total */
}

/*
 * Send what redisAppendCommandArgv queued in the output buffer and collect
 * exactly one reply per queued command, checking each against runs.
 *
 * One loop does both directions: write while the output buffer is not
 * empty, take every complete reply the reader holds, then wait for the
 * socket to become readable (and writable, while there is still output).
 * Reading while still writing matters for large pipelines: Redis stops
 * reading commands when its replies cannot be sent, so a client that only
 * wrote would deadlock with it.
 *
 * Returns true when every reply arrived and was as expected; false, with a
 * message, on the first error reply, I/O error, EOF, protocol error or when
 * the deadline passes.  secret, when not NULL, is masked in error replies.
 */
static bool
rc_exchange(DumperRedis *r, const RcCommandRun *runs, int nruns,
			const char *secret, const instr_time *start, int timeout_ms,
			char *err, size_t errlen)
{
	redisContext *c = r->ctx;
	int			total = 0;
	int			got = 0;
	bool		flushed = false;
	int			i;

	for (i = 0; i < nruns; i++)
		total += runs[i].count;

	for (;;)
	{
		int			remaining;
		int			rc;

		if (!flushed)
		{
			int			done = 0;

			if (redisBufferWrite(c, &done) != REDIS_OK)
				return rc_context_error(r, err, errlen);
			flushed = (done != 0);
		}

		while (got < total)
		{
			void	   *reply = NULL;
			bool		ok;

			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				return rc_context_error(r, err, errlen);
			if (reply == NULL)
				break;			/* no complete reply buffered yet */
			ok = rc_check_reply(r, rc_run_of_reply(runs, nruns, got),
								(redisReply *) reply, secret, err, errlen);
			freeReplyObject(reply);
			if (!ok)
				return false;
			got++;
		}

		if (got == total && flushed)
			return true;

		remaining = rc_remaining_ms(start, timeout_ms);
		if (remaining <= 0)
		{
			rc_set_error(err, errlen,
						 "Redis at %s did not answer within %d ms",
						 r->desc, timeout_ms);
			r->timed_out = true;
			return false;
		}
		rc = rc_wait(r,
					 WL_SOCKET_READABLE | (flushed ? 0 : WL_SOCKET_WRITEABLE),
					 remaining);
		if ((rc & WL_SOCKET_READABLE) != 0 && redisBufferRead(c) != REDIS_OK)
			return rc_context_error(r, err, errlen);
	}
}

/*
 * Wait for the non-blocking connect() that hiredis started to finish, then
 * read its outcome with getsockopt(SO_ERROR): writability alone also
 * signals a failed connect.
 */
static bool
rc_wait_connected(DumperRedis *r, const instr_time *start, int timeout_ms,
				  char *err, size_t errlen)
{
	int			fd = r->ctx->fd;
	int			soerr = 0;
	socklen_t	soerrlen = sizeof(soerr);

	for (;;)
	{
		int			remaining = rc_remaining_ms(start, timeout_ms);

		if (remaining <= 0)
		{
			rc_set_error(err, errlen,
						 "could not connect to Redis at %s within %d ms",
						 r->desc, timeout_ms);
			return false;
		}
		if ((rc_wait(r, WL_SOCKET_WRITEABLE, remaining) &
			 WL_SOCKET_WRITEABLE) != 0)
			break;
	}

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerrlen) != 0)
		soerr = errno;
	if (soerr != 0)
	{
		rc_set_error(err, errlen, "could not connect to Redis at %s: %s",
					 r->desc, strerror(soerr));
		return false;
	}
	return true;
}

/*
 * Everything dumper_redis_connect does once hiredis has a socket: wait for
 * the connection, then send AUTH and SELECT (each only when the URL asks
 * for it) in one pipeline and check both replies.
 */
static bool
rc_handshake(DumperRedis *r, const DumperRedisUrl *u, const instr_time *start,
			 int timeout_ms, char *err, size_t errlen)
{
	RcCommandRun runs[2];
	char		dbtext[16];

	if (!rc_wait_connected(r, start, timeout_ms, err, errlen))
		return false;

	runs[0].command = "AUTH";
	runs[0].count = 0;
	runs[0].reply_type = REDIS_REPLY_STATUS;
	runs[1].command = "SELECT";
	runs[1].count = 0;
	runs[1].reply_type = REDIS_REPLY_STATUS;

	if (u->has_password)
	{
		const char *argv[3];
		size_t		argvlen[3];
		int			argc = 0;

		argv[argc] = "AUTH";
		argvlen[argc++] = 4;
		if (u->user[0] != '\0')
		{
			argv[argc] = u->user;
			argvlen[argc++] = strlen(u->user);
		}
		argv[argc] = u->password;
		argvlen[argc++] = strlen(u->password);
		if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK)
			return rc_context_error(r, err, errlen);
		runs[0].count = 1;
	}
	if (u->db != 0)
	{
		const char *argv[2];
		size_t		argvlen[2];

		snprintf(dbtext, sizeof(dbtext), "%d", u->db);
		argv[0] = "SELECT";
		argvlen[0] = 6;
		argv[1] = dbtext;
		argvlen[1] = strlen(dbtext);
		if (redisAppendCommandArgv(r->ctx, 2, argv, argvlen) != REDIS_OK)
			return rc_context_error(r, err, errlen);
		runs[1].count = 1;
	}
	if (runs[0].count + runs[1].count == 0)
		return true;

	return rc_exchange(r, runs, 2, u->has_password ? u->password : NULL,
					   start, timeout_ms, err, errlen);
}

/*
 * Connect to the server named by url; see redis_client.h.
 *
 * On a parse error err holds the parser's sentence as is.  The connection
 * is not yet known to the caller while we wait, so an ereport from an
 * interrupt would leak it: PG_TRY closes it before re-throwing.  The
 * decoded password is wiped from the stack before returning.
 */
DumperRedis *
dumper_redis_connect(const char *url, int timeout_ms, char *err, size_t errlen)
{
	DumperRedisUrl u;
	const char *perr;
	instr_time	start;
	DumperRedis *r;
	redisContext *c;
	volatile bool ok = false;

	INSTR_TIME_SET_CURRENT(start);
	if (timeout_ms < 1)
		timeout_ms = 1;

	perr = dumper_redis_url_parse(url, &u);
	if (perr != NULL)
	{
		rc_set_error(err, errlen, "%s", perr);
		explicit_bzero(&u, sizeof(u));
		return NULL;
	}

	r = (DumperRedis *) malloc(sizeof(DumperRedis));
	if (r == NULL)
	{
		rc_set_error(err, errlen, "out of memory in the Redis client");
		explicit_bzero(&u, sizeof(u));
		return NULL;
	}
	memset(r, 0, sizeof(DumperRedis));
	dumper_redis_url_describe(&u, r->desc, sizeof(r->desc));

	if (u.unix_socket)
		c = redisConnectUnixNonBlock(u.host);
	else
		c = redisConnectNonBlock(u.host, u.port);
	if (c == NULL)
	{
		rc_set_error(err, errlen,
					 "could not connect to Redis at %s: out of memory",
					 r->desc);
		free(r);
		explicit_bzero(&u, sizeof(u));
		return NULL;
	}
	r->ctx = c;
	if (c->err != 0)
	{
		char		text[sizeof(c->errstr)];

		rc_copy_reply_text(text, sizeof(text), c->errstr,
						   strnlen(c->errstr, sizeof(c->errstr)), NULL);
		rc_set_error(err, errlen, "could not connect to Redis at %s: %s",
					 r->desc, text);
		dumper_redis_close(r);
		explicit_bzero(&u, sizeof(u));
		return NULL;
	}

	PG_TRY();
	{
		ok = rc_handshake(r, &u, &start, timeout_ms, err, errlen);
	}
	PG_CATCH();
	{
		dumper_redis_close(r);
		explicit_bzero(&u, sizeof(u));
		PG_RE_THROW();
	}
	PG_END_TRY();

	explicit_bzero(&u, sizeof(u));
	if (!ok)
	{
		dumper_redis_close(r);
		return NULL;
	}
	r->usable = true;
	return r;
}

/*
 * The start of a call on r: its clock starts, its timeout is at least 1 ms,
 * and r must be a connection that has not failed.  False, with a message,
 * when it is not.
 */
static bool
rc_begin(DumperRedis *r, instr_time *start, int *timeout_ms,
		 char *err, size_t errlen)
{
	INSTR_TIME_SET_CURRENT(*start);
	if (*timeout_ms < 1)
		*timeout_ms = 1;
	if (r == NULL)
	{
		rc_set_error(err, errlen, "not connected to Redis");
		return false;
	}
	if (!r->usable)
	{
		rc_set_error(err, errlen,
					 "the connection to Redis at %s failed earlier and cannot be reused",
					 r->desc);
		return false;
	}
	return true;
}

/*
 * DEL prefix||path for every path and optionally PUBLISH channel path for
 * every path, in one pipelined round trip; see redis_client.h.
 *
 * All commands are appended to hiredis's output buffer first (keys are
 * built in one scratch buffer per DEL, which hiredis copies), the scratch
 * memory is freed, and only then does the exchange begin.  Replies are
 * checked in order: ceil(npaths / 256) integer replies to DEL, then npaths
 * integer replies to PUBLISH.
 */
bool
dumper_redis_invalidate(DumperRedis *r, const char *prefix,
						const char *channel,
						const char *const *paths, int npaths,
						int timeout_ms, char *err, size_t errlen)
{
	instr_time	start;
	size_t		prefixlen;
	bool		publish;
	const char **argv;
	size_t	   *argvlen;
	char	   *keybuf = NULL;
	size_t		keybufsize = 0;
	RcCommandRun runs[2];
	int			i;

	if (!rc_begin(r, &start, &timeout_ms, err, errlen))
		return false;
	if (npaths <= 0)
		return true;
	Assert(paths != NULL);

	/* poisoned until the whole exchange has succeeded */
	r->usable = false;

	if (prefix == NULL)
		prefix = "";
	prefixlen = strlen(prefix);
	publish = (channel != NULL && channel[0] != '\0');

	argv = (const char **) palloc((RC_DEL_MAX_KEYS + 1) * sizeof(char *));
	argvlen = (size_t *) palloc((RC_DEL_MAX_KEYS + 1) * sizeof(size_t));

	/* DEL commands of up to RC_DEL_MAX_KEYS keys each */
	for (i = 0; i < npaths; i += RC_DEL_MAX_KEYS)
	{
		int			nkeys = Min(npaths - i, RC_DEL_MAX_KEYS);
		size_t		need = 0;
		char	   *pos;
		int			k;

		for (k = 0; k < nkeys; k++)
		{
			Assert(paths[i + k] != NULL);
			need += prefixlen + strlen(paths[i + k]);
		}
		if (need > keybufsize || keybuf == NULL)
		{
			if (keybuf != NULL)
				pfree(keybuf);
			keybufsize = Max(need, 1);
			keybuf = MemoryContextAllocHuge(CurrentMemoryContext, keybufsize);
		}

		argv[0] = "DEL";
		argvlen[0] = 3;
		pos = keybuf;
		for (k = 0; k < nkeys; k++)
		{
			size_t		pathlen = strlen(paths[i + k]);

			memcpy(pos, prefix, prefixlen);
			memcpy(pos + prefixlen, paths[i + k], pathlen);
			argv[k + 1] = pos;
			argvlen[k + 1] = prefixlen + pathlen;
			pos += prefixlen + pathlen;
		}
		if (redisAppendCommandArgv(r->ctx, nkeys + 1, argv, argvlen) != REDIS_OK)
		{
			pfree(keybuf);
			pfree(argv);
			pfree(argvlen);
			return rc_context_error(r, err, errlen);
		}
	}

	/* PUBLISH channel path, one command per path */
	if (publish)
	{
		argv[0] = "PUBLISH";
		argvlen[0] = 7;
		argv[1] = channel;
		argvlen[1] = strlen(channel);
		for (i = 0; i < npaths; i++)
		{
			argv[2] = paths[i];
			argvlen[2] = strlen(paths[i]);
			if (redisAppendCommandArgv(r->ctx, 3, argv, argvlen) != REDIS_OK)
			{
				pfree(keybuf);
				pfree(argv);
				pfree(argvlen);
				return rc_context_error(r, err, errlen);
			}
		}
	}

	pfree(keybuf);
	pfree(argv);
	pfree(argvlen);

	runs[0].command = "DEL";
	runs[0].count = npaths / RC_DEL_MAX_KEYS +
		(npaths % RC_DEL_MAX_KEYS != 0 ? 1 : 0);
	runs[0].reply_type = REDIS_REPLY_INTEGER;
	runs[1].command = "PUBLISH";
	runs[1].count = publish ? npaths : 0;
	runs[1].reply_type = REDIS_REPLY_INTEGER;

	if (!rc_exchange(r, runs, 2, NULL, &start, timeout_ms, err, errlen))
		return false;
	r->usable = true;
	return true;
}

/*
 * Send one command and check its reply's kind; see redis_client.h.  Like
 * dumper_redis_invalidate, the argument vector is copied into hiredis's
 * output buffer before the first wait.
 */
bool
dumper_redis_command(DumperRedis *r, int argc, const char *const *argv,
					 const size_t *argvlen, DumperRedisReply expect,
					 int timeout_ms, char *err, size_t errlen)
{
	instr_time	start;
	RcCommandRun run;

	if (!rc_begin(r, &start, &timeout_ms, err, errlen))
		return false;
	r->usable = false;
	r->timed_out = false;
	r->error_reply = false;
	if (redisAppendCommandArgv(r->ctx, argc, (const char **) argv, argvlen) != REDIS_OK)
		return rc_context_error(r, err, errlen);
	run.command = argv[0];
	run.count = 1;
	run.reply_type = (expect == DUMPER_REDIS_REPLY_STATUS) ?
		REDIS_REPLY_STATUS : REDIS_REPLY_INTEGER;
	if (!rc_exchange(r, &run, 1, NULL, &start, timeout_ms, err, errlen))
		return false;
	r->usable = true;
	return true;
}

/*
 * Whether the last call on r failed because Redis answered with an error
 * (NOAUTH, READONLY, MISCONF...), rather than by silence or a lost
 * connection: a server that answers so will answer so again.
 */
bool
dumper_redis_error_replied(const DumperRedis *r)
{
	return r != NULL && r->error_reply;
}

/*
 * Close the connection and free everything it owns.  Safe on NULL and on
 * a connection that failed or was interrupted half-way.
 */
void
dumper_redis_close(DumperRedis *r)
{
	if (r == NULL)
		return;
	if (r->wes != NULL)
		FreeWaitEventSet(r->wes);
	if (r->ctx != NULL)
		redisFree(r->ctx);
	free(r);
}

/*
 * Whether the last call on r failed for want of an answer within its
 * timeout, rather than because the connection was closed or refused.
 */
bool
dumper_redis_timed_out(const DumperRedis *r)
{
	return r != NULL && r->timed_out;
}
