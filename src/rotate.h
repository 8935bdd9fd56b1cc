/*-------------------------------------------------------------------------
 *
 * rotate.h
 *	  Keeping the queue table small: rotation with TRUNCATE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_ROTATE_H
#define DUMPER_ROTATE_H

/* What dumper_queue_maybe_rotate did. */
typedef enum DumperRotation
{
	DUMPER_ROTATE_NOT_NEEDED,	/* small enough, or no extension */
	DUMPER_ROTATE_DONE,			/* rotated */
	DUMPER_ROTATE_LOCK_BUSY,	/* a transaction is using the queue: retry soon */
	DUMPER_ROTATE_TOO_MANY_PENDING	/* deliver first: retry later */
} DumperRotation;

/*
 * When the queue's heap has grown past a megabyte and its ACCESS EXCLUSIVE
 * lock can be had without waiting, replace it by a new file holding only
 * the rows still pending.  Runs inside a transaction (without an active
 * snapshot of its own: it takes one after the lock); the caller commits,
 * which releases the lock.
 */
extern DumperRotation dumper_queue_maybe_rotate(void);

#endif							/* DUMPER_ROTATE_H */
