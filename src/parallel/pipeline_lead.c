/*-------------------------------------------------------------------------
 * pipeline_lead.c
 *	  The calling backend of a parallel backup reading ranges itself, as
 *	  parallel query's leader takes part in its own plan, while its workers
 *	  have nothing for it to store.
 *
 * Owns: whether the caller takes part (vault.parallel_leader_participation),
 * claiming the next range when its workers' queues are empty, and reading
 * it as a worker would: its rows under the caller's snapshot, cut by a
 * chunker keyed as the workers' are, each chunk named and sealed with the
 * vault's keys and stored at once, the workers' queues drained after each
 * one so that none of them waits on a full queue while the caller reads.
 * The caller reads ranges of the tables the workers seal: a table sealed
 * whole (new to the vault, or read again without a previous stream), and a
 * table sealed against the stretch of its previous stream the same range
 * held (a sealing writer of its own over a store of its own, as a worker's,
 * whose chunks go to the table's writer instead of a queue).  The ranges of
 * a table whose bytes go to the caller's writer in order stay the workers'.
 *
 * It must not plan ranges, decide tables or start workers (pipeline.c),
 * nor place chunks in a manifest other than through pipeline_store.c.  Its
 * memory: one chunker, two sealing buffers, a range's table stream, page
 * records and delta writer (reset after each range), and, once a delta
 * table's range is read, the lookup store's buffers and bases.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_caller.h"

#include "access/table.h"
#include "miscadmin.h"
#include "utils/memutils.h"

struct PipelineLead
{
	VaultCall  *call;
	VaultInfo  *vault;
	Snapshot	snapshot;
	VaultKeys	keys;			/* the vault's, wiped with this memory */
	int			zstd_level;
	Chunker		chunker;		/* keyed as the workers' */
	uint8	   *sealed;
	uint8	   *scratch;
	MemoryContext cxt;			/* the pipeline's: writers, ranges' chunks */
	MemoryContext range_cxt;	/* a range's stream, reset after it */
	ChunkStore *delta_store;	/* a delta table's lookups and bases, once
								 * needed */
	int			ranges;			/* read by the caller so far */
};

/* one range the caller reads */
typedef struct LeadRange
{
	Pipeline   *p;
	int			k;
	ChunkCutter cutter;			/* a table sealed whole */
	ChunkWriter *writer;		/* a delta table's, against its stretch of
								 * the previous stream */
} LeadRange;

/*
 * The caller's part in pipeline p, or NULL when it takes none.  The store's
 * keys and the snapshot are the ones the workers were given.
 */
PipelineLead *
pipeline_lead_begin(VaultCall *call, ChunkStore *store, VaultInfo *vault, Snapshot snapshot)
{
	PipelineLead *lead;
	uint64		gear[256];

	if (!vault_parallel_leader_participation)
		return NULL;
	lead = palloc0(sizeof(PipelineLead));
	/* the keys, and the chunker's key-derived table, go with this memory */
	secret_wipe_with(CurrentMemoryContext, &lead->keys, sizeof(lead->keys));
	secret_wipe_with(CurrentMemoryContext, &lead->chunker, sizeof(lead->chunker));
	lead->call = call;
	lead->vault = vault;
	lead->snapshot = snapshot;
	chunk_store_keys(store, &lead->keys);
	lead->zstd_level = vault->zstd_level;
	keys_gear_table(&lead->keys, gear);
	if (chunker_init(&lead->chunker, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG,
					 CHUNKER_DEFAULT_MAX) != 0)
		elog(ERROR, "invalid chunker parameters");
	explicit_bzero(gear, sizeof(gear));
	lead->sealed = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));
	lead->scratch = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));
	lead->cxt = CurrentMemoryContext;
	lead->range_cxt = AllocSetContextCreate(CurrentMemoryContext, "vault caller's range",
											ALLOCSET_DEFAULT_SIZES);
	return lead;
}

/* The caller's part is over: how many ranges it read; its keys forgotten. */
int
pipeline_lead_end(PipelineLead *lead)
{
	int			ranges;

	if (lead == NULL)
		return 0;
	ranges = lead->ranges;
	explicit_bzero(&lead->keys, sizeof(lead->keys));
	explicit_bzero(&lead->chunker, sizeof(lead->chunker));
	MemoryContextDelete(lead->range_cxt);
	return ranges;
}

/*
 * One chunk of the range sealed (or found in the vault): stored, its place
 * kept for the manifest; then what the workers sent meanwhile, so that they
 * never wait on the caller.
 */
static void
lead_store(LeadRange *l, const SealedChunk *c, const uint8 *sealed)
{
	Pipeline   *p = l->p;
	MemoryContext old = MemoryContextSwitchTo(p->lead->cxt);	/* not the scan's row context */
	ChunkWriter *w = pipeline_table_writer(p, p->ranges[l->k].table);
	ChunkWriterStats before = *chunk_writer_running(w);
	const ChunkWriterStats *after;

	pipeline_range_add_chunk(&p->rs[l->k], chunk_writer_put_sealed(w, c, sealed));
	after = chunk_writer_running(w);
	p->bytes += after->logical_bytes - before.logical_bytes;
	p->chunks_new += after->new_chunks - before.new_chunks;
	pipeline_consume(p, false);
	MemoryContextSwitchTo(old);
}

/* the cutter's callback (a table sealed whole): name and seal one chunk */
static void
lead_chunk(void *arg, const char *data, size_t len, bool has_hash, uint64 cut_hash)
{
	LeadRange  *l = (LeadRange *) arg;
	PipelineLead *lead = l->p->lead;
	SealedChunk c;

	CHECK_FOR_INTERRUPTS();
	memset(&c, 0, sizeof(c));
	c.has_hash = has_hash;
	c.cut_hash = cut_hash;
	chunk_name_and_seal(&lead->keys, lead->zstd_level, data, len, &c, lead->sealed, lead->scratch);
	lead_store(l, &c, lead->sealed);
}

/* a delta table's writer's sink: a chunk sealed, or found in the vault */
static void
lead_sealed(void *arg, const SealedChunk *c, const uint8 *sealed)
{
	lead_store((LeadRange *) arg, c, sealed);
}

/* the table stream's callback: bytes to the cutter or the delta writer */
static void
lead_emit(void *arg, const char *data, size_t len)
{
	LeadRange  *l = (LeadRange *) arg;

	if (l->writer)
		chunk_writer_write(l->writer, data, len);
	else
		chunk_cutter_write(&l->cutter, data, len);
}

/*
 * The writer of range k of a delta table (in the range's context), sealing
 * against the stretch of the previous stream the same range held, as a
 * worker's.
 */
static ChunkWriter *
lead_delta_writer(Pipeline *p, int k, LeadRange *l)
{
	PipelineLead *lead = p->lead;
	const PipeTable *t = &p->tables[p->ranges[k].table];
	ChunkWriter *w;

	if (lead->delta_store == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(lead->cxt);

		lead->delta_store = chunk_store_open_keys(lead->call, lead->vault, &lead->keys);
		MemoryContextSwitchTo(old);
	}
	w = chunk_writer_begin_sealing(lead->delta_store, lead_sealed, l);
	pipe_range_base(w, t, p->marks, k);
	return w;
}

/*
 * The next unclaimed range, now the caller's, if it is of a decided table
 * the workers seal; -1 otherwise (the workers take it).
 */
static int
lead_claim(Pipeline *p)
{
	PipeShared *sh = p->shared;
	int			k = -1;

	SpinLockAcquire(&sh->mutex);
	while (sh->next_range < sh->nranges)
	{
		const PipeRange *r = &p->ranges[sh->next_range];
		const PipeTable *t = &p->tables[r->table];

		if (r->table >= sh->tables_ready)
			break;
		if (t->skip)
		{
			sh->next_range = t->first_range + t->nranges;
			continue;
		}
		if (t->seal || t->delta)
		{
			k = sh->next_range++;
			sh->owner[k] = PIPE_OWNER_CALLER;
		}
		break;
	}
	SpinLockRelease(&sh->mutex);
	return k;
}

/* Read range k: its rows, cut, sealed and stored; its page records kept. */
static void
lead_read(Pipeline *p, int k)
{
	PipelineLead *lead = p->lead;
	const PipeRange *r = &p->ranges[k];
	const PipeTable *pt = &p->tables[r->table];
	MemoryContext old = MemoryContextSwitchTo(lead->range_cxt);
	LeadRange	l;
	TableStreamStats stats;
	StringInfoData pages;
	StreamPages sink;
	TableStream *ts;
	Relation	root;
	PipeEndMsg	end;

	if (k == vault_debug_parallel_fail)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("range %d of the backup fails as vault.debug_parallel_fail asks", k)));
	l.p = p;
	l.k = k;
	l.writer = pt->delta ? lead_delta_writer(p, k, &l) : NULL;
	chunk_cutter_init(&l.cutter, &lead->chunker, NULL, lead_chunk, &l);
	memset(&stats, 0, sizeof(stats));
	root = table_open(pt->relid, AccessShareLock);
	ts = table_stream_begin(root, lead_emit, &l, &stats);
	initStringInfo(&pages);
	if (pt->pages)
	{
		proof_records_sink(&pages, &sink);
		table_stream_pages(ts, &sink);
	}
	pipe_range_rows(ts, pt, p->heaps, r, lead->snapshot);
	/* a range ends with a cut, as a worker's */
	if (l.writer)
		chunk_writer_cut(l.writer);
	else
		chunk_cutter_flush(&l.cutter);
	table_stream_end(ts);
	table_close(root, NoLock);

	MemoryContextSwitchTo(lead->cxt);
	if (pt->pages && pages.len > 0)
	{
		p->rs[k].pages = palloc(pages.len);
		memcpy(p->rs[k].pages, pages.data, pages.len);
	}
	MemoryContextReset(lead->range_cxt);
	memset(&end, 0, sizeof(end));
	end.type = PIPE_MSG_END;
	end.rows = stats.rows;
	end.bytes = stats.bytes;
	pipeline_range_done(p, k, &end);
	lead->ranges++;
	MemoryContextSwitchTo(old);
}

/*
 * The caller has nothing of its workers' to store: read a range itself if
 * one is to be had.  False when it takes no part or no range is its.
 */
bool
pipeline_lead_read(Pipeline *p)
{
	int			k;

	if (p->lead == NULL || (k = lead_claim(p)) < 0)
		return false;
	lead_read(p, k);
	return true;
}
