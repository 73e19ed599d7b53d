/*-------------------------------------------------------------------------
 * parallel/feed_int.h
 *	  What a restore's caller (feed.c) and its workers (open_worker.c)
 *	  share: their part of the group's segment and the messages on the
 *	  workers' data queues.  No one else includes it.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_FEED_INT_H
#define VAULT_FEED_INT_H

#include "parallel/group.h"

#include "port/atomics.h"

/* the segment's parts (group_create's own[]) */
#define FEED_PART_SHARED	0
#define FEED_PART_LABELS	1	/* a stream's table, for messages */
#define FEED_PARTS			2
#define FEED_LABEL_LEN		(2 * NAMEDATALEN + 8)

typedef struct FeedShared
{
	pg_atomic_uint32 launched;	/* workers started; 0 until the caller knows */
	int64		point_id;
	int			ntables;
	int			ordinals[FLEXIBLE_ARRAY_MEMBER];	/* the streams, in load order */
} FeedShared;

/*
 * Worker i opens chunks i, i + n, i + 2n, ... of each stream (n workers
 * started) and sends each one's plaintext; at the end of a stream every
 * worker sends one FEED_MSG_END.
 */
#define FEED_MSG_CHUNK		'D' /* the type byte, then the chunk's plaintext */
#define FEED_MSG_END		'E' /* the type byte alone */

#endif							/* VAULT_FEED_INT_H */
