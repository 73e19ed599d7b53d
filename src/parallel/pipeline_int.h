/*-------------------------------------------------------------------------
 * parallel/pipeline_int.h
 *	  What the backup's caller (pipeline*.c) and its workers (scan_worker.c)
 *	  share: their parts of the group's segment, the messages on the
 *	  workers' data queues, and how a range is read (pipe_range.c).  No one
 *	  else includes it.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_PIPELINE_INT_H
#define VAULT_PIPELINE_INT_H

#include "parallel/group.h"

/* the segment's parts (group_create's own[]) */
#define PIPE_PART_SHARED	0
#define PIPE_PART_TABLES	1
#define PIPE_PART_HEAPS		2
#define PIPE_PART_RANGES	3
#define PIPE_PART_MARKS		4
#define PIPE_PARTS			5

typedef struct PipeShared
{
	slock_t		mutex;			/* guards next_range, tables_ready, owner[] */
	int			next_range;		/* ranges claimed (or passed) so far */
	int			tables_ready;	/* tables the caller has decided: the
								 * ranges of later ones wait */
	int			nranges;
	int			ntables;
	int			nheaps;
	int			owner[FLEXIBLE_ARRAY_MEMBER];	/* worker of each claimed range,
												 * or PIPE_OWNER_CALLER */
} PipeShared;

#define PIPE_OWNER_CALLER	(-2)	/* a range the caller reads itself */

typedef struct PipeTable
{
	Oid			relid;
	bool		skip;			/* unchanged: no range of it is read */
	bool		seal;
	bool		delta;			/* sealed by the workers too, against the
								 * previous stream: each range against the
								 * stretch the same range held there */
	bool		pages;			/* its ranges' page records go to the caller */
	int			first_heap;		/* its heaps in PIPE_PART_HEAPS */
	int			nheaps;
	int			first_range;	/* its ranges in PIPE_PART_RANGES */
	int			nranges;
	int64		base_point;		/* delta: the previous stream */
	int			base_ordinal;
	int			first_mark;		/* delta: where each of its ranges began in
								 * that stream, in PIPE_PART_MARKS */
	int			nmarks;
} PipeTable;

typedef struct PipeHeap
{
	Oid			relid;
	Oid			node;			/* its file, for the page digest */
	BlockNumber nblocks;		/* when the caller planned the ranges */
} PipeHeap;

typedef struct PipeRange
{
	int			table;
	uint64		start;			/* in the table's heaps, one after the other */
	uint64		nblocks;
	bool		first;			/* the stream's header goes first */
	bool		last;			/* the trailer goes last */
} PipeRange;

/*
 * PIPE_PART_MARKS: for each range of a delta table in its previous point,
 * the index in that point's manifest of the range's first chunk (int64s);
 * room for one more than the table has ranges now (the marks past those
 * are never read), from first_mark on.
 */

/* messages on a worker's data queue, each a range's, in range order */
#define PIPE_MSG_CHUNK		'C' /* PipeChunkMsg, then the sealed bytes */
#define PIPE_MSG_RAW		'R' /* the type byte, then stream bytes */
#define PIPE_MSG_END		'E' /* PipeEndMsg, then (a table with pages) the
								 * records of the range's blocks: the range
								 * is done */

typedef struct PipeChunkMsg
{
	char		type;
	SealedChunk chunk;
} PipeChunkMsg;

typedef struct PipeEndMsg
{
	char		type;
	int64		rows;
	int64		bytes;
} PipeEndMsg;

/* pipe_range.c: a range read the same by a worker and by the caller */
extern void pipe_range_rows(TableStream *ts, const PipeTable *t, const PipeHeap *heaps,
							const PipeRange *r, Snapshot snapshot);
extern void pipe_range_base(ChunkWriter *w, const PipeTable *t, const int64 *marks, int k);

#endif							/* VAULT_PIPELINE_INT_H */
