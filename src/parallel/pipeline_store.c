/*-------------------------------------------------------------------------
 * pipeline_store.c
 *	  The caller's side of a parallel backup, storing: what the workers
 *	  send, taken from their queues and stored in the caller's transaction.
 *
 * Owns: a sealed chunk stored as it arrives, from whichever worker (or
 * from this backend's own reading of a range, pipeline_lead.c), and
 * given its place in its table's manifest when every earlier range of the
 * table is in; the bytes of a table cut by the caller (against its previous
 * stream's bases), range by range in order; a table's page digest taken
 * from the records of the blocks each range read, in order; the progress
 * board's counts.  It must not plan ranges, decide tables or start
 * workers (pipeline.c does).
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_caller.h"

#include "monitor/monitor.h"

ChunkWriter *
pipeline_table_writer(Pipeline *p, int t)
{
	if (p->ts[t].writer == NULL)
		p->ts[t].writer = p->cb->open(p->cb->arg, t);
	return p->ts[t].writer;
}

/* The range worker i's next message belongs to, or -1 if none is claimed. */
static int
head_range(Pipeline *p, int i)
{
	WorkerState *ws = &p->ws[i];
	int			claimed;

	if (ws->head >= 0)
		return ws->head;
	SpinLockAcquire(&p->shared->mutex);
	claimed = p->shared->next_range;
	SpinLockRelease(&p->shared->mutex);
	for (; ws->seen < claimed; ws->seen++)
	{
		if (p->shared->owner[ws->seen] == i)
		{
			ws->head = ws->seen++;
			break;
		}
	}
	return ws->head;
}

/*
 * Whether range k's messages can be taken now: sealed chunks (a table
 * sealed by the workers, or a delta table) at any time, the bytes of
 * another table only when every earlier range of it is in.
 */
static bool
range_ready(Pipeline *p, int k)
{
	const PipeRange *r = &p->ranges[k];
	const PipeTable *pt = &p->tables[r->table];
	TableState *t = &p->ts[r->table];

	return pt->seal || pt->delta || k == t->first_range + t->next;
}

void
pipeline_range_add_chunk(RangeState *rs, int64 chunk_no)
{
	if (rs->n == rs->cap)
	{
		rs->cap = Max(64, rs->cap * 2);
		rs->chunk_nos = rs->chunk_nos ? repalloc(rs->chunk_nos, sizeof(int64) * rs->cap) :
			palloc(sizeof(int64) * rs->cap);
	}
	rs->chunk_nos[rs->n++] = chunk_no;
}

/*
 * The page records of table t's next n blocks (its heaps one after the
 * other) to its digest, each heap's identity before its pages; n = 0 at
 * the table's end takes the identities of the empty heaps left.
 */
static void
digest_pages(Pipeline *p, int t, const char *records, uint64 n)
{
	TableState *ts = &p->ts[t];
	const PipeTable *pt = &p->tables[t];
	ProofDigest *pd;

	if (!ts->digest_asked)
	{
		ts->digest = p->cb->digest(p->cb->arg, t);
		ts->digest_asked = true;
	}
	pd = ts->digest;
	if (pd == NULL)
		return;
	for (;;)
	{
		const PipeHeap *heap;
		uint64		take;

		/* past the heaps whose pages are all in, to one with room */
		while (ts->heap < pt->nheaps)
		{
			heap = &p->heaps[pt->first_heap + ts->heap];
			if (!ts->heap_begun)
			{
				proof_digest_heap(pd, heap->relid, heap->node, heap->nblocks);
				ts->heap_begun = true;
				ts->heap_pages = 0;
			}
			if (ts->heap_pages < heap->nblocks)
				break;
			ts->heap++;
			ts->heap_begun = false;
		}
		if (n == 0)
			return;
		if (ts->heap >= pt->nheaps)
			elog(ERROR, "vault parallel backup: more page records than blocks");
		heap = &p->heaps[pt->first_heap + ts->heap];
		take = Min(n, (uint64) (heap->nblocks - ts->heap_pages));
		proof_digest_pages(pd, records, (int) take);
		records += take * PROOF_PAGE_RECORD;
		ts->heap_pages += take;
		n -= take;
	}
}

/* Range k is in: its table's manifest takes every range now in order. */
void
pipeline_range_done(Pipeline *p, int k, const PipeEndMsg *end)
{
	int			t = p->ranges[k].table;
	TableState *ts = &p->ts[t];

	p->rs[k].done = true;
	ts->ts.rows += end->rows;
	ts->ts.bytes += end->bytes;
	p->ranges_done++;
	while (ts->next < ts->nranges && p->rs[ts->first_range + ts->next].done)
	{
		RangeState *rs = &p->rs[ts->first_range + ts->next];

		if (rs->n > 0)
			chunk_writer_append(pipeline_table_writer(p, t), rs->chunk_nos, rs->n);
		/* every range ends with a cut: the next one begins here */
		if (ts->next + 1 < ts->nranges)
			ts->marks[ts->next + 1] = chunk_writer_running(pipeline_table_writer(p, t))->chunks;
		if (rs->chunk_nos)
			pfree(rs->chunk_nos);
		rs->chunk_nos = NULL;
		if (rs->pages)
		{
			digest_pages(p, t, rs->pages, p->ranges[ts->first_range + ts->next].nblocks);
			pfree(rs->pages);
			rs->pages = NULL;
		}
		ts->next++;
	}
	if (ts->next == ts->nranges)
	{
		ChunkWriterStats ws;

		if (p->tables[t].pages)
			digest_pages(p, t, NULL, 0);

		chunk_writer_finish(pipeline_table_writer(p, t), &ws);
		p->tables_done++;
		p->cb->done(p->cb->arg, t, &ts->ts, &ws, ts->marks, ts->nranges);
	}
}

/* Store one message of worker i, of range k. */
static void
take_message(Pipeline *p, int i, int k, const char *data, Size len)
{
	int			t = p->ranges[k].table;
	ChunkWriter *w = pipeline_table_writer(p, t);
	ChunkWriterStats before = *chunk_writer_running(w);
	const ChunkWriterStats *after;

	switch (len > 0 ? data[0] : 0)
	{
		case PIPE_MSG_CHUNK:
			{
				PipeChunkMsg msg;

				if (len < sizeof(msg))
					elog(ERROR, "short chunk message from vault parallel backup worker %d", i);
				memcpy(&msg, data, sizeof(msg));
				if (len != sizeof(msg) + msg.chunk.sealed_len)
					elog(ERROR, "malformed chunk message from vault parallel backup worker %d", i);
				pipeline_range_add_chunk(&p->rs[k],
								chunk_writer_put_sealed(w, &msg.chunk, (const uint8 *) data + sizeof(msg)));
				break;
			}
		case PIPE_MSG_RAW:
			chunk_writer_write(w, data + 1, len - 1);
			break;
		case PIPE_MSG_END:
			{
				PipeEndMsg	end;

				if (len != sizeof(end) +
					(p->tables[t].pages ? p->ranges[k].nblocks * PROOF_PAGE_RECORD : 0))
					elog(ERROR, "malformed end message from vault parallel backup worker %d", i);
				memcpy(&end, data, sizeof(end));
				if (p->tables[t].pages && len > sizeof(end))
				{
					p->rs[k].pages = palloc(len - sizeof(end));
					memcpy(p->rs[k].pages, data + sizeof(end), len - sizeof(end));
				}
				p->ws[i].head = -1;
				if (!p->tables[t].seal && !p->tables[t].delta)
					chunk_writer_cut(w);	/* as the sealing workers cut */
				pipeline_range_done(p, k, &end);
				return;
			}
		default:
			elog(ERROR, "unknown message from vault parallel backup worker %d", i);
	}
	after = chunk_writer_running(w);
	p->bytes += after->logical_bytes - before.logical_bytes;
	p->chunks_new += after->new_chunks - before.new_chunks;
	p->chunks_reused += (after->chunks - after->new_chunks) - (before.chunks - before.new_chunks);
}

/*
 * Take whatever the workers have, until every range is in (all) or until
 * none has anything more now; sleep when none has anything and all are
 * awaited.  A range of a sealed table counts its chunks as reused only
 * when its place in the manifest comes (the board is approximate
 * meanwhile).
 */
void
pipeline_consume(Pipeline *p, bool all)
{
	bool		gone = false;	/* every worker had exited at the last wait */

	while (p->ranges_done < p->nranges)
	{
		bool		progressed = false;

		for (int i = 0; i < p->nworkers; i++)
		{
			int			k = head_range(p, i);
			Size		len;
			void	   *data;

			if (k < 0 || !range_ready(p, k))
				continue;
			if (!group_receive(p->group, i, &len, &data, true))
				continue;
			take_message(p, i, k, data, len);
			progressed = true;
		}
		if (progressed)
		{
			progress_counts(p->tables_done, p->bytes, p->chunks_new, p->chunks_reused);
			continue;
		}
		if (!all)
			return;
		/* nothing of theirs to store: the caller's own work, if any */
		if (p->idle && p->idle(p))
		{
			progress_counts(p->tables_done, p->bytes, p->chunks_new, p->chunks_reused);
			continue;
		}
		if (gone)
			group_fail(p->group, psprintf("%d of %d ranges unread", p->nranges - p->ranges_done,
										  p->nranges));
		gone = group_wait(p->group);
	}
}
