/*-------------------------------------------------------------------------
 * parallel/pipeline_int.h
 *	  What the caller (pipeline.c) and its workers (scan_worker.c) share:
 *	  the dynamic shared memory segment's layout and the messages on the
 *	  workers' queues.  No one else includes it.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_PIPELINE_INT_H
#define VAULT_PIPELINE_INT_H

#include "parallel/parallel.h"

#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"

#define PIPE_MAGIC			0x5641554c	/* "VAUL" */

/* shm_toc keys */
#define PIPE_KEY_SHARED		1
#define PIPE_KEY_TABLES		2
#define PIPE_KEY_HEAPS		3
#define PIPE_KEY_RANGES		4
#define PIPE_KEY_SNAPSHOT	5
#define PIPE_KEY_GUC		6
#define PIPE_KEY_ERROR_QUEUES 7
#define PIPE_KEY_DATA_QUEUES 8

#define PIPE_ERROR_QUEUE_SIZE	16384
#define PIPE_DATA_QUEUE_SIZE	(2 * 1024 * 1024)

typedef struct PipeShared
{
	slock_t		mutex;			/* guards next_range and owner[] */
	int			next_range;		/* ranges claimed so far */
	int			nranges;
	int			ntables;
	int			nheaps;
	Oid			database;
	Oid			authenticated_user;
	Oid			current_user;
	int			sec_context;
	PGPROC	   *leader;
	pid_t		leader_pid;
	int			zstd_level;
	VaultKeys	keys;			/* wiped when the segment is let go */
	int			owner[FLEXIBLE_ARRAY_MEMBER];	/* worker of each claimed range */
} PipeShared;

typedef struct PipeTable
{
	Oid			relid;
	bool		seal;
	int			first_heap;		/* its heaps in PIPE_KEY_HEAPS */
	int			nheaps;
} PipeTable;

typedef struct PipeHeap
{
	Oid			relid;
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

/* messages on a worker's data queue, each a range's, in range order */
#define PIPE_MSG_CHUNK		'C' /* PipeChunkMsg, then the sealed bytes */
#define PIPE_MSG_RAW		'R' /* the type byte, then stream bytes */
#define PIPE_MSG_END		'E' /* PipeEndMsg: the range is done */

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

#endif							/* VAULT_PIPELINE_INT_H */
