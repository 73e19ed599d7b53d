/*-------------------------------------------------------------------------
 * pipeline.c
 *	  The caller's side of a parallel backup: plan the ranges, start the
 *	  workers, store what they send, in the caller's transaction.
 *
 * Owns: how many workers a backup gets (vault.max_parallel_workers, the
 * call's own degree, the slots the postmaster has), the ranges a point's
 * tables are read in (vault.parallel_range_size blocks, claimed one at a
 * time), and storing: a sealed chunk is stored as it arrives, from
 * whichever worker, and takes its place in its table's manifest when every
 * earlier range of the table is in.  A table with a previous stream that
 * workers wrote in ranges of the same size is sealed by the workers too,
 * each range against the stretch of that stream the same range held (the
 * marks: where each range began in a manifest, kept with the point); any
 * other table with a previous stream gets its bytes range by range, in
 * order, through its writer, which cuts them against that stream's bases.
 * A table's page digest (the proof that a later backup may find it
 * unchanged) is taken from the records of the blocks each range read,
 * range by range in order.  The workers
 * themselves, their segment and queues, their errors and their end are
 * group.c's.
 *
 * Everything is stored by this backend in the caller's transaction, so a
 * parallel backup is exactly as atomic as a serial one.  It must not decide
 * what a point holds (backup_tables.c does) nor read a table itself.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_int.h"

#include "access/heapam.h"
#include "access/table.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

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

typedef struct Pipeline
{
	WorkerGroup *group;
	PipeShared *shared;
	PipeTable  *tables;
	PipeHeap   *heaps;
	PipeRange  *ranges;
	int			ntables;
	int			nranges;
	int			nworkers;
	TableState *ts;
	RangeState *rs;
	WorkerState *ws;
	const PipelineCallbacks *cb;
	int			ranges_done;
	int			tables_done;
	int64		bytes;			/* for the progress board */
	int64		chunks_new;
	int64		chunks_reused;
} Pipeline;

/*
 * The workers a backup may have: the call's degree (negative: the
 * setting's), never above vault.max_parallel_workers nor the postmaster's
 * max_worker_processes.
 */
int
parallel_degree(int requested)
{
	int			degree = requested < 0 ? vault_max_parallel_workers :
		Min(requested, vault_max_parallel_workers);

	return Min(degree, max_worker_processes);
}

/*
 * The heaps and ranges of the tables; false (nothing planned) when a table
 * cannot be read in block ranges or all of them are too small to be worth
 * a worker (min_parallel_table_scan_size, as parallel query decides).
 */
static bool
plan_ranges(PipelineTable *tables, int ntables, List **heaps_out, List **ranges_out,
			PipeTable *pt, uint64 *total_blocks)
{
	List	   *heaps = NIL;
	List	   *ranges = NIL;
	int			nheaps = 0;

	*total_blocks = 0;
	for (int i = 0; i < ntables; i++)
	{
		Relation	rel = table_open(tables[i].relid, NoLock);
		uint64		blocks = 0;
		ListCell   *lc;
		uint64		start;

		pt[i].relid = tables[i].relid;
		pt[i].seal = tables[i].seal;
		pt[i].delta = !tables[i].seal && tables[i].marks != NULL && tables[i].nmarks > 0;
		pt[i].base_point = tables[i].base_point;
		pt[i].base_ordinal = tables[i].base_ordinal;
		pt[i].nmarks = pt[i].delta ? tables[i].nmarks : 0;
		pt[i].pages = tables[i].pages;
		pt[i].first_heap = nheaps;
		pt[i].first_range = list_length(ranges);
		foreach(lc, table_stream_heaps(rel))
		{
			Relation	heap = table_open(lfirst_oid(lc), NoLock);
			PipeHeap   *ph = palloc(sizeof(PipeHeap));

			if (heap->rd_tableam != GetHeapamTableAmRoutine())
			{
				ereport(DEBUG1,
						(errmsg("vault: \"%s\" is not a heap: the backup runs serially",
								RelationGetRelationName(heap))));
				table_close(heap, NoLock);
				table_close(rel, NoLock);
				return false;
			}
			ph->relid = RelationGetRelid(heap);
			ph->node = proof_heap_node(heap);
			ph->nblocks = RelationGetNumberOfBlocks(heap);
			blocks += ph->nblocks;
			heaps = lappend(heaps, ph);
			nheaps++;
			table_close(heap, NoLock);
		}
		pt[i].nheaps = nheaps - pt[i].first_heap;
		table_close(rel, NoLock);

		/*
		 * Ranges of vault.parallel_range_size blocks of the table's heaps
		 * (one after the other), each read by one worker.  Fixed, so that
		 * the cuts a range forces at its ends fall in the same places in
		 * every backup of an unchanged stretch of a table; a table smaller
		 * than one range is cut exactly as the serial path cuts it.
		 */
		start = 0;
		do
		{
			PipeRange  *r = palloc0(sizeof(PipeRange));

			r->table = i;
			r->start = start;
			r->nblocks = Min((uint64) vault_parallel_range_size, blocks - start);
			r->first = start == 0;
			start += r->nblocks;
			r->last = start >= blocks;
			ranges = lappend(ranges, r);
		} while (start < blocks);
		*total_blocks += blocks;
	}
	*heaps_out = heaps;
	*ranges_out = ranges;
	return *total_blocks >= (uint64) min_parallel_table_scan_size;
}

/* ---------------------------------------------------------------- storing */

static ChunkWriter *
table_writer(Pipeline *p, int t)
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

static void
range_add_chunk(RangeState *rs, int64 chunk_no)
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
static void
range_done(Pipeline *p, int k, const PipeEndMsg *end)
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
			chunk_writer_append(table_writer(p, t), rs->chunk_nos, rs->n);
		/* every range ends with a cut: the next one begins here */
		if (ts->next + 1 < ts->nranges)
			ts->marks[ts->next + 1] = chunk_writer_running(table_writer(p, t))->chunks;
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

		chunk_writer_finish(table_writer(p, t), &ws);
		p->tables_done++;
		p->cb->done(p->cb->arg, t, &ts->ts, &ws, ts->marks, ts->nranges);
	}
}

/* Store one message of worker i, of range k. */
static void
take_message(Pipeline *p, int i, int k, const char *data, Size len)
{
	int			t = p->ranges[k].table;
	ChunkWriter *w = table_writer(p, t);
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
				range_add_chunk(&p->rs[k],
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
				range_done(p, k, &end);
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
 * Take whatever the workers have, until every range is in; sleep when none
 * has anything.  A range of a sealed table counts its chunks as reused
 * only when its place in the manifest comes (the board is approximate
 * meanwhile).
 */
static void
consume(Pipeline *p)
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
		if (gone)
			group_fail(p->group, psprintf("%d of %d ranges unread", p->nranges - p->ranges_done,
										  p->nranges));
		gone = group_wait(p->group);
	}
}

/*
 * Back up tables[] with up to degree workers under snapshot, storing into
 * store; cb opens each table's writer and hears when it is written.
 * Returns the number of workers that did it, or 0 when the pipeline did
 * nothing (no worker could be had, or the tables are too small or not
 * heaps): the caller then backs them up itself.  The caller holds a lock
 * on every table and runs as the role the tables are read as.
 */
int
parallel_backup(VaultCall *call, VaultInfo *vault, ChunkStore *store, Snapshot snapshot,
				PipelineTable *tables, int ntables, int degree, const PipelineCallbacks *cb)
{
	PipeTable  *pt = palloc0(sizeof(PipeTable) * Max(ntables, 1));
	List	   *heaps;
	List	   *ranges;
	uint64		total_blocks;
	int			nranges;
	int			nmarks;
	int			ndelta;
	Size		own[PIPE_PARTS];
	void	   *space[PIPE_PARTS];
	VaultKeys	keys;
	Pipeline	p;
	int			i;
	ListCell   *lc;

	if (degree <= 0 || ntables == 0)
		return 0;
	if (!plan_ranges(tables, ntables, &heaps, &ranges, pt, &total_blocks))
		return 0;
	nranges = list_length(ranges);
	degree = Min(degree, nranges);

	/* the group's segment, with the tables, their heaps and ranges */
	own[PIPE_PART_SHARED] = add_size(offsetof(PipeShared, owner), mul_size(sizeof(int), nranges));
	own[PIPE_PART_TABLES] = mul_size(sizeof(PipeTable), ntables);
	own[PIPE_PART_HEAPS] = mul_size(sizeof(PipeHeap), Max(list_length(heaps), 1));
	own[PIPE_PART_RANGES] = mul_size(sizeof(PipeRange), nranges);
	nmarks = 0;
	ndelta = 0;
	for (i = 0; i < ntables; i++)
	{
		pt[i].first_mark = nmarks;
		nmarks += pt[i].nmarks;
		ndelta += pt[i].delta;
	}
	own[PIPE_PART_MARKS] = mul_size(sizeof(int64), Max(nmarks, 1));
	chunk_store_keys(store, &keys);
	memset(&p, 0, sizeof(p));
	p.group = group_create("backup", degree, snapshot, &keys, vault->zstd_level, own, PIPE_PARTS, space);
	explicit_bzero(&keys, sizeof(keys));
	if (p.group == NULL)
		return 0;
	p.shared = space[PIPE_PART_SHARED];
	memset(p.shared, 0, own[PIPE_PART_SHARED]);
	SpinLockInit(&p.shared->mutex);
	p.shared->nranges = nranges;
	p.shared->ntables = ntables;
	p.shared->nheaps = list_length(heaps);
	for (i = 0; i < nranges; i++)
		p.shared->owner[i] = -1;
	p.tables = space[PIPE_PART_TABLES];
	memcpy(p.tables, pt, sizeof(PipeTable) * ntables);
	i = 0;
	foreach(lc, heaps)
		memcpy((char *) space[PIPE_PART_HEAPS] + sizeof(PipeHeap) * i++, lfirst(lc), sizeof(PipeHeap));
	p.heaps = space[PIPE_PART_HEAPS];
	p.ranges = space[PIPE_PART_RANGES];
	i = 0;
	foreach(lc, ranges)
		memcpy(&p.ranges[i++], lfirst(lc), sizeof(PipeRange));
	for (i = 0; i < ntables; i++)
		if (pt[i].nmarks > 0)
			memcpy((int64 *) space[PIPE_PART_MARKS] + pt[i].first_mark, tables[i].marks,
				   sizeof(int64) * pt[i].nmarks);

	p.nworkers = group_launch(p.group, "vault_scan_worker_main");
	if (p.nworkers == 0)
		return 0;
	p.ws = palloc0(sizeof(WorkerState) * p.nworkers);
	for (i = 0; i < p.nworkers; i++)
		p.ws[i].head = -1;
	for (i = 0; i < ntables; i++)
		if (pt[i].delta)
			ereport(DEBUG1,
					(errmsg("vault: the workers seal \"%s\" against the ranges of its previous stream",
							get_rel_name(pt[i].relid))));
	ereport(DEBUG2,
			(errmsg("vault: %d parallel workers back up %d tables (%d against their previous streams' ranges) in %d ranges (%llu blocks)",
					p.nworkers, ntables, ndelta, nranges, (unsigned long long) total_blocks)));

	p.ntables = ntables;
	p.nranges = nranges;
	p.cb = cb;

	p.ts = palloc0(sizeof(TableState) * ntables);
	p.rs = palloc0(sizeof(RangeState) * nranges);
	for (i = nranges - 1; i >= 0; i--)
	{
		p.ts[p.ranges[i].table].first_range = i;
		p.ts[p.ranges[i].table].nranges++;
	}
	for (i = 0; i < ntables; i++)
		p.ts[i].marks = palloc0(sizeof(int64) * p.ts[i].nranges);
	consume(&p);
	group_finish(p.group);
	return p.nworkers;
}
