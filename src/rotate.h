/*-------------------------------------------------------------------------
 *
 * rotate.h
 *	  Keeping the queue table small: rotation with TRUNCATE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DUMPER_ROTATE_H
#define DUMPER_ROTATE_H

/*
 * When the queue's heap has grown past a megabyte and its ACCESS EXCLUSIVE
 * lock can be had without waiting, replace it by a new file holding only
 * the rows still pending.  Runs inside a transaction (without an active
 * snapshot of its own: it takes one after the lock); the caller commits,
 * which releases the lock.  Returns whether it rotated.
 */
extern bool dumper_queue_maybe_rotate(void);

#endif							/* DUMPER_ROTATE_H */
