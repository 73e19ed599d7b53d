/*-------------------------------------------------------------------------
 * parallel/pipeline_caller.h
 *	  The calling backend's state of a parallel backup, shared by its
 *	  parts: pipeline.c (planning the ranges, deciding the tables, starting
 *	  the workers), pipeline_store.c (storing what they send) and
 *	  pipeline_lead.c (reading ranges itself while they have nothing for
 *	  it).  The workers never see it; no one else includes it.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_PIPELINE_CALLER_H
#define VAULT_PIPELINE_CALLER_H

#include "parallel/pipeline_int.h"

typedef struct RangeState
{
	int64	   *chunk_nos;		/* a sealed table's range done ahead of an
								 * earlier one: its chunks, in order */
	int			n;
	int			cap;
	char	   *pages;			/* its blocks' page records, until digested */
	bool		done;
} RangeState;

typedef struct TableState
{
	ChunkWriter *writer;		/* NULL until its first bytes */
	int			first_range;
	int			nranges;
	int			next;			/* its ranges in the manifest so far */
	ProofDigest *digest;		/* its page digest (pages), once asked for */
	bool		digest_asked;
	int			heap;			/* the page digest's heap, of the table's */
	bool		heap_begun;		/* its identity is in the digest */
	BlockNumber heap_pages;		/* its pages in the digest so far */
	int64	   *marks;			/* where each of its ranges began in its
								 * manifest (a later backup's workers' bases) */
	TableStreamStats ts;
} TableState;

typedef struct WorkerState
{
	int			head;			/* the range of its next message; -1: not
								 * known yet */
	int			seen;			/* claims looked at up to here */
} WorkerState;

typedef struct PipelineLead PipelineLead;

typedef struct Pipeline
{
	WorkerGroup *group;			/* NULL until a table's rows are to be read */
	PipeShared *shared;
	PipeTable  *tables;			/* in the segment */
	PipeHeap   *heaps;
	PipeRange  *ranges;
	int64	   *marks;
	int			ntables;
	int			nranges;
	int			nworkers;

	/* the plan, in this backend until the group's segment has it */
	PipeTable  *plan;
	List	   *plan_heaps;
	List	   *plan_ranges;
	int64	   *plan_marks;
	int			nmarks;
	uint64	   *table_blocks;
	int			decided;		/* tables decided so far */
	int			streamed;		/* of them, tables whose rows are read */
	int			ndelta;
	int			streamed_ranges;
	uint64		streamed_blocks;
	TableState *ts;
	RangeState *rs;
	WorkerState *ws;
	const PipelineCallbacks *cb;
	int			ranges_done;
	int			tables_done;
	int64		bytes;			/* for the progress board */
	int64		chunks_new;
	int64		chunks_reused;
	PipelineLead *lead;			/* NULL: the caller reads no range */
	/* its own work while the workers have sent nothing (pipeline_lead.c's
	 * reading), false when there is none; or NULL */
	bool		(*idle) (struct Pipeline *p);
} Pipeline;

/* pipeline_store.c */
extern void pipeline_consume(Pipeline *p, bool all);
extern ChunkWriter *pipeline_table_writer(Pipeline *p, int t);
extern void pipeline_range_add_chunk(RangeState *rs, int64 chunk_no);
extern void pipeline_range_done(Pipeline *p, int k, const PipeEndMsg *end);

/* pipeline_lead.c */
extern PipelineLead *pipeline_lead_begin(VaultCall *call, ChunkStore *store, VaultInfo *vault,
										  Snapshot snapshot);
extern bool pipeline_lead_read(Pipeline *p);
extern int	pipeline_lead_end(PipelineLead *lead);

#endif							/* VAULT_PIPELINE_CALLER_H */
