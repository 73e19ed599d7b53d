/*-------------------------------------------------------------------------
 * pipeline.c
 *	  The caller's side of a parallel backup: plan the ranges, decide the
 *	  tables, start the workers; what they send is pipeline_store.c's.
 *
 * Owns: how many workers a backup gets (vault.max_parallel_workers, the
 * call's own degree, the slots the postmaster has), the ranges a point's
 * tables are read in (vault.parallel_range_size blocks, claimed one at a
 * time), when the workers start and what they may read: the tables are
 * decided one by one, in order (the caller's prepare: definition captured,
 * found unchanged or how it is to be cut), the workers start at the first
 * one to read (before the first is decided when every one is to be read)
 * and read the ranges of each table once it is decided, passing over the
 * unchanged ones, while this backend decides the next and stores what
 * they sent.  A table with a previous stream that workers wrote in
 * ranges of the same size is sealed by the workers too, each range against
 * the stretch of that stream the same range held (the marks: where each
 * range began in a manifest, kept with the point); any other table with a
 * previous stream gets its bytes range by range, in order, and this
 * backend's writer cuts them against that stream's bases.  The workers
 * themselves, their segment and queues, their errors and their end are
 * group.c's.
 *
 * Everything is stored by this backend in the caller's transaction, so a
 * parallel backup is exactly as atomic as a serial one.  It must not decide
 * what a point holds (backup_tables.c does) nor read a table itself (the
 * ranges this backend reads while its workers have nothing for it are
 * pipeline_lead.c's).
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_caller.h"

#include "access/heapam.h"
#include "access/table.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

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
 * The heaps and ranges of the tables, how many blocks each has and where
 * its marks go (nmarks_out: room for all of them); false (nothing planned)
 * when a table cannot be read in block ranges.
 */
static bool
plan_ranges(const Oid *relids, int ntables, List **heaps_out, List **ranges_out,
			PipeTable *pt, uint64 *table_blocks, int *nmarks_out)
{
	List	   *heaps = NIL;
	List	   *ranges = NIL;
	int			nheaps = 0;
	int			nmarks = 0;

	for (int i = 0; i < ntables; i++)
	{
		Relation	rel = table_open(relids[i], NoLock);
		uint64		blocks = 0;
		ListCell   *lc;
		uint64		start;

		pt[i].relid = relids[i];
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
		pt[i].nranges = list_length(ranges) - pt[i].first_range;
		pt[i].first_mark = nmarks;
		nmarks += pt[i].nranges + 1;
		table_blocks[i] = blocks;
	}
	*heaps_out = heaps;
	*ranges_out = ranges;
	*nmarks_out = nmarks;
	return true;
}

/*
 * The group, its segment holding the plan and the decisions so far, and
 * its workers started; false when it could not be had (no segment, no
 * worker).
 */
static bool
pipeline_start(Pipeline *p, VaultCall *call, VaultInfo *vault, ChunkStore *store, Snapshot snapshot,
			   int degree)
{
	Size		own[PIPE_PARTS];
	void	   *space[PIPE_PARTS];
	VaultKeys	keys;
	int			i;
	ListCell   *lc;

	own[PIPE_PART_SHARED] = add_size(offsetof(PipeShared, owner), mul_size(sizeof(int), p->nranges));
	own[PIPE_PART_TABLES] = mul_size(sizeof(PipeTable), p->ntables);
	own[PIPE_PART_HEAPS] = mul_size(sizeof(PipeHeap), Max(list_length(p->plan_heaps), 1));
	own[PIPE_PART_RANGES] = mul_size(sizeof(PipeRange), p->nranges);
	own[PIPE_PART_MARKS] = mul_size(sizeof(int64), p->nmarks);
	chunk_store_keys(store, &keys);
	p->group = group_create("backup", degree, snapshot, &keys, vault->zstd_level, own, PIPE_PARTS, space);
	explicit_bzero(&keys, sizeof(keys));
	if (p->group == NULL)
		return false;
	p->shared = space[PIPE_PART_SHARED];
	memset(p->shared, 0, own[PIPE_PART_SHARED]);
	SpinLockInit(&p->shared->mutex);
	p->shared->nranges = p->nranges;
	p->shared->ntables = p->ntables;
	p->shared->nheaps = list_length(p->plan_heaps);
	for (i = 0; i < p->nranges; i++)
		p->shared->owner[i] = -1;
	p->tables = space[PIPE_PART_TABLES];
	memcpy(p->tables, p->plan, sizeof(PipeTable) * p->ntables);
	i = 0;
	foreach(lc, p->plan_heaps)
		memcpy((char *) space[PIPE_PART_HEAPS] + sizeof(PipeHeap) * i++, lfirst(lc), sizeof(PipeHeap));
	p->heaps = space[PIPE_PART_HEAPS];
	p->ranges = space[PIPE_PART_RANGES];
	i = 0;
	foreach(lc, p->plan_ranges)
		memcpy(&p->ranges[i++], lfirst(lc), sizeof(PipeRange));
	p->marks = space[PIPE_PART_MARKS];
	memcpy(p->marks, p->plan_marks, sizeof(int64) * p->nmarks);

	/* the tables decided so far; every later one waits for its decision */
	p->shared->tables_ready = p->decided;
	p->nworkers = group_launch(p->group, "vault_scan_worker_main");
	if (p->nworkers == 0)
		return false;
	p->ws = palloc0(sizeof(WorkerState) * p->nworkers);
	for (i = 0; i < p->nworkers; i++)
		p->ws[i].head = -1;
	p->lead = pipeline_lead_begin(call, store, vault, snapshot);
	if (p->lead)
		p->idle = pipeline_lead_read;
	return true;
}

/* Table i is decided: the workers may take its ranges, or pass them over. */
static void
pipeline_publish(Pipeline *p, int i)
{
	const PipeTable *pt = &p->plan[i];

	memcpy(&p->tables[i], pt, sizeof(PipeTable));
	memcpy(p->marks + pt->first_mark, p->plan_marks + pt->first_mark,
		   sizeof(int64) * (pt->nranges + 1));
	SpinLockAcquire(&p->shared->mutex);
	p->shared->tables_ready = i + 1;
	SpinLockRelease(&p->shared->mutex);
}

/*
 * Decide table i (cb->prepare): read, and how, or found unchanged.  Its
 * previous stream's marks are kept up to one past its ranges now.
 */
static void
pipeline_decide(Pipeline *p, int i)
{
	PipeTable  *pt = &p->plan[i];
	PipelineTable t;

	memset(&t, 0, sizeof(t));
	if (!p->cb->prepare(p->cb->arg, i, &t))
	{
		pt->skip = true;
		p->ranges_done += pt->nranges;
	}
	else
	{
		pt->seal = t.seal;
		pt->delta = !t.seal && t.marks != NULL && t.nmarks > 0;
		pt->base_point = t.base_point;
		pt->base_ordinal = t.base_ordinal;
		pt->pages = t.pages;
		pt->nmarks = pt->delta ? Min(t.nmarks, pt->nranges + 1) : 0;
		if (pt->nmarks > 0)
			memcpy(p->plan_marks + pt->first_mark, t.marks, sizeof(int64) * pt->nmarks);
		p->streamed++;
		p->ndelta += pt->delta;
		p->streamed_ranges += pt->nranges;
		p->streamed_blocks += p->table_blocks[i];
	}
	p->decided = i + 1;
}

/*
 * Back up the tables relids[] with up to degree workers under snapshot,
 * storing into store.  Each table is decided first (cb->prepare, in order:
 * its definition captured, whether it is unchanged, against what it is
 * cut); the workers start as soon as a table's rows are to be read and
 * enough blocks are (min_parallel_table_scan_size, as parallel query
 * decides), or before the first table is decided when cb->all_read says
 * every one is to be read, and read the ranges of each table once it is
 * decided, while this backend decides the next ones and stores what they
 * send.  cb opens each table's writer and hears when it is written.
 * Returns the number of workers that read the tables, or 0 when none did
 * (no worker could be had, too few blocks to read, a table not a heap):
 * every table is decided then too, and the caller reads the ones to be read
 * itself.  The caller holds a lock on every table and runs as the role the
 * tables are read as.
 */
int
parallel_backup(VaultCall *call, VaultInfo *vault, ChunkStore *store, Snapshot snapshot,
				const Oid *relids, int ntables, int degree, const PipelineCallbacks *cb)
{
	Pipeline	p;
	int			i;

	memset(&p, 0, sizeof(p));
	p.ntables = ntables;
	p.cb = cb;
	p.plan = palloc0(sizeof(PipeTable) * Max(ntables, 1));
	p.table_blocks = palloc0(sizeof(uint64) * Max(ntables, 1));
	if (degree <= 0 || ntables == 0 ||
		!plan_ranges(relids, ntables, &p.plan_heaps, &p.plan_ranges, p.plan, p.table_blocks,
					 &p.nmarks))
	{
		for (i = 0; i < ntables; i++)
		{
			PipelineTable t;

			memset(&t, 0, sizeof(t));
			(void) cb->prepare(cb->arg, i, &t);
		}
		return 0;
	}
	p.nranges = list_length(p.plan_ranges);
	p.plan_marks = palloc0(sizeof(int64) * p.nmarks);
	p.ts = palloc0(sizeof(TableState) * ntables);
	p.rs = palloc0(sizeof(RangeState) * p.nranges);
	for (i = 0; i < ntables; i++)
	{
		p.ts[i].first_range = p.plan[i].first_range;
		p.ts[i].nranges = p.plan[i].nranges;
		p.ts[i].marks = palloc0(sizeof(int64) * p.ts[i].nranges);
	}

	/*
	 * Every table to be read: the workers start now, and take each table's
	 * ranges as it is decided.
	 */
	if (cb->all_read)
	{
		uint64		blocks = 0;

		for (i = 0; i < ntables; i++)
			blocks += p.table_blocks[i];
		if (blocks >= (uint64) min_parallel_table_scan_size)
		{
			if (!pipeline_start(&p, call, vault, store, snapshot, Min(degree, p.nranges)))
			{
				for (i = 0; i < ntables; i++)
					pipeline_decide(&p, i);
				return 0;
			}
			ereport(DEBUG1,
					(errmsg("vault: every table is to be read: %d parallel workers start before the first is decided",
							p.nworkers)));
		}
	}

	for (i = 0; i < ntables; i++)
	{
		pipeline_decide(&p, i);
		if (p.group == NULL)
		{
			int			left = p.nranges - p.plan[i].first_range;

			if (p.plan[i].skip ||
				p.streamed_blocks < (uint64) min_parallel_table_scan_size)
				continue;
			/* the first table worth reading: the workers start */
			if (!pipeline_start(&p, call, vault, store, snapshot, Min(degree, left)))
			{
				while (++i < ntables)
					pipeline_decide(&p, i);
				return 0;
			}
		}
		else
		{
			pipeline_publish(&p, i);
			pipeline_consume(&p, false);
		}
	}
	if (p.group == NULL)
		return 0;				/* nothing, or too little, to read */

	for (i = 0; i < ntables; i++)
		if (p.plan[i].delta)
			ereport(DEBUG1,
					(errmsg("vault: the workers seal \"%s\" against the ranges of its previous stream",
							get_rel_name(p.plan[i].relid))));
	ereport(DEBUG2,
			(errmsg("vault: %d parallel workers back up %d tables (%d against their previous streams' ranges) in %d ranges (%llu blocks)",
					p.nworkers, p.streamed, p.ndelta, p.streamed_ranges,
					(unsigned long long) p.streamed_blocks)));
	pipeline_consume(&p, true);
	if (p.lead)
	{
		int			lead_ranges = pipeline_lead_end(p.lead);

		ereport(DEBUG2,
				(errmsg("vault: the calling backend read %d of the %d ranges itself",
						lead_ranges, p.streamed_ranges)));
	}
	group_finish(p.group);
	return p.nworkers;
}
