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

#include "access/htup_details.h"
#include "port/atomics.h"

/* the segment's parts (group_create's own[]) */
#define FEED_PART_SHARED	0
#define FEED_PART_LABELS	1	/* a stream's table, for messages */
#define FEED_PART_FORM		2	/* the last decision on forming rows */
#define FEED_PARTS			3
#define FEED_LABEL_LEN		(2 * NAMEDATALEN + 8)

/*
 * A stream of at least min_parallel_table_scan_size is a candidate for its
 * rows to be formed by a worker (form_rows.c); the workers wait at its start
 * for the caller's decision, which it takes with the target table in hand.
 */
typedef struct FeedStream
{
	int			ordinal;		/* the stream's table in the point */
	bool		candidate;		/* its rows may come formed */
} FeedStream;

typedef struct FeedShared
{
	pg_atomic_uint32 launched;	/* workers started; 0 until the caller knows */
	pg_atomic_uint32 decided;	/* streams before this one are decided */
	int64		point_id;
	int			ntables;
	FeedStream	streams[FLEXIBLE_ARRAY_MEMBER];	/* in load order */
} FeedShared;

/*
 * The caller's decision on the candidate stream decided - 1: written before
 * decided moves past it, read by the workers at the stream's start.  The
 * next candidate's decision is written only once every worker has sent its
 * end of this stream, so one such area serves them all.
 */
typedef struct FeedForm
{
	bool		formed;			/* false: the workers send the stream's bytes */
	RowColumn	columns[MaxTupleAttributeNumber];
	int			ncolumns;
} FeedForm;

/*
 * Raw streams: worker i opens chunks i, i + n, i + 2n, ... of each stream
 * (n workers started) and sends each one's plaintext; at the end of a stream
 * every worker sends one FEED_MSG_END.  A formed stream: worker t mod n (t
 * its place in the load order) reads the whole stream and sends its rows as
 * heap tuples, FEED_MSG_ROWS each holding a FeedRowsHead and then, for each
 * tuple, its length (uint64) and its bytes padded to MAXALIGN; then its end,
 * as every other worker does at once.
 */
#define FEED_MSG_CHUNK		'D' /* the type byte, then the chunk's plaintext */
#define FEED_MSG_ROWS		'R' /* a FeedRowsHead, then the tuples */
#define FEED_MSG_END		'E' /* the type byte alone */

typedef struct FeedRowsHead
{
	char		type;			/* FEED_MSG_ROWS */
	uint32		ntuples;
	uint64		stream_bytes;	/* of the stream read so far: for progress */
} FeedRowsHead;

/* form_rows.c: a formed stream's rows, sent by the worker reading it */
extern void form_rows_send(GroupWorker *w, ChunkReader *r, const FeedForm *form,
						   const char *label, int64 point_id);

#endif							/* VAULT_FEED_INT_H */
