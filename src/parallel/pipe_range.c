/*-------------------------------------------------------------------------
 * pipe_range.c
 *	  One range of a parallel backup read the same whoever reads it: a
 *	  worker (scan_worker.c) or the calling backend (pipeline_lead.c).
 *
 * Owns: the rows of a range's blocks of its table's heaps written to a
 * table stream in order, the stream's header before the table's first
 * range and its trailer after its last; and the stretch of the previous
 * stream a delta table's range is sealed against (the range's marks).  It
 * must not claim ranges, nor send or store what it reads.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_int.h"

#include "access/table.h"

/* Range r of table t (its heaps at heaps[t->first_heap]) into ts, flushed. */
void
pipe_range_rows(TableStream *ts, const PipeTable *t, const PipeHeap *heaps, const PipeRange *r,
				Snapshot snapshot)
{
	uint64		heap_start = 0;

	if (r->first)
		table_stream_header(ts);
	/* the table's heaps one after the other: the range's part of each */
	for (int h = 0; h < t->nheaps; h++)
	{
		const PipeHeap *heap = &heaps[t->first_heap + h];
		uint64		from = Max(r->start, heap_start);
		uint64		to = Min(r->start + r->nblocks, heap_start + heap->nblocks);

		if (from < to)
		{
			Relation	rel = table_open(heap->relid, AccessShareLock);

			table_stream_rows(ts, rel, snapshot, (BlockNumber) (from - heap_start),
							  (BlockNumber) (to - from));
			table_close(rel, NoLock);
		}
		heap_start += heap->nblocks;
	}
	if (r->last)
		table_stream_trailer(ts);
	table_stream_flush(ts);
}

/*
 * The writer w of range k of delta table t seals against entries marks[j]
 * .. marks[j + 1] - 1 of the previous stream's manifest for the table's
 * j-th range (its last: to the stream's end); a range the previous stream
 * did not have gets no base (its chunks are sealed whole).
 */
void
pipe_range_base(ChunkWriter *w, const PipeTable *t, const int64 *marks, int k)
{
	int			j = k - t->first_range;

	if (j < t->nmarks)
	{
		const int64 *m = marks + t->first_mark;

		chunk_writer_set_base_range(w, t->base_point, t->base_ordinal, m[j],
									j + 1 < t->nmarks ? m[j + 1] - 1 : -1);
	}
}
