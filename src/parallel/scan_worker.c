/*-------------------------------------------------------------------------
 * scan_worker.c
 *	  A parallel backup worker: ranges of tables read under the caller's
 *	  snapshot, written as COPY BINARY, cut, named and sealed.
 *
 * Owns: once a worker of the caller's group (group.c: the caller's
 * settings, role and snapshot), claiming ranges one at a time until none
 * is left (a table's once the caller has decided it; none of a table found
 * unchanged).  For a table without a
 * previous stream a range's bytes are cut into chunks (the same cutter as
 * the caller's writer), each named and sealed whole with the vault's keys.
 * For a delta table (a previous stream written in ranges of the same size)
 * a chunk writer of its own cuts, names, looks up and seals them against
 * the stretch the same range held in that stream (its manifest's entries
 * between the range's marks), as the caller's writer would: the chunks the
 * vault has go as their numbers, the others sealed, whole or as deltas.
 * For any other table the bytes themselves go to the caller.  Every message
 * goes to this worker's queue, a range's in order, ending with its counts.
 *
 * A range of a table whose page digest is taken ends with the records of
 * its blocks (table_stream.c takes them as it reads).
 *
 * It reads only: no write, no transaction id; of the vault's tables only
 * the chunks and manifests a delta table's writer reads, as the extension
 * owner.  Its memory is fixed: one stream buffer, the cutter, one sealing
 * buffer, a range's page records (12 bytes a block); for a delta table the
 * chunk store's buffers and bases and, a range at a time, a writer and its
 * window on the previous stream.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_int.h"

#include "access/table.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

typedef struct ScanWorker
{
	GroupWorker group;
	PipeShared *shared;
	PipeTable  *tables;
	PipeHeap   *heaps;
	PipeRange  *ranges;
	Chunker		chunker;
	ChunkCutter cutter;
	uint8	   *sealed;
	uint8	   *scratch;
	bool		seal;			/* the current range's table is sealed here */
	StringInfoData pages;		/* the current range's page records */
	StreamPages pages_sink;		/* collecting them */
	int64	   *marks;			/* PIPE_PART_MARKS */
	VaultCall	call;			/* a delta table's chunk store, once needed */
	VaultInfo	vault;
	ChunkStore *store;
	MemoryContext range_cxt;	/* the current range's writer */
	ChunkWriter *writer;		/* of a delta table's range, or NULL */
} ScanWorker;

/* the cutter's callback: name, seal and send one chunk */
static void
seal_chunk(void *arg, const char *data, size_t len, bool has_hash, uint64 cut_hash)
{
	ScanWorker *w = (ScanWorker *) arg;
	PipeChunkMsg msg;

	CHECK_FOR_INTERRUPTS();
	memset(&msg, 0, sizeof(msg));
	msg.type = PIPE_MSG_CHUNK;
	msg.chunk.has_hash = has_hash;
	msg.chunk.cut_hash = cut_hash;
	chunk_name_and_seal(&w->group.shared->keys, w->group.shared->zstd_level, data, len, &msg.chunk,
						w->sealed, w->scratch);
	group_worker_send(&w->group, &msg, sizeof(msg), w->sealed, msg.chunk.sealed_len);
}

/* a delta table writer's sink: a chunk sealed, or found in the vault */
static void
send_sealed(void *arg, const SealedChunk *c, const uint8 *sealed)
{
	ScanWorker *w = (ScanWorker *) arg;
	PipeChunkMsg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = PIPE_MSG_CHUNK;
	msg.chunk = *c;
	group_worker_send(&w->group, &msg, sizeof(msg), sealed, c->sealed_len);
}

/* the table stream's callback: bytes to the cutter, the writer, or the caller */
static void
emit_bytes(void *arg, const char *data, size_t len)
{
	ScanWorker *w = (ScanWorker *) arg;
	char		type = PIPE_MSG_RAW;

	if (w->writer)
		chunk_writer_write(w->writer, data, len);
	else if (w->seal)
		chunk_cutter_write(&w->cutter, data, len);
	else
		group_worker_send(&w->group, &type, 1, data, len);
}

/*
 * The writer of range k of a delta table, sealing against the stretch of
 * the previous stream the same range held (pipe_range_base).
 */
static void
delta_range_begin(ScanWorker *w, int k, const PipeRange *r)
{
	const PipeTable *t = &w->tables[r->table];
	MemoryContext old = CurrentMemoryContext;

	if (w->store == NULL)
	{
		/* the vault as far as finding and sealing its chunks goes */
		w->vault.vault_id = w->group.shared->vault_id;
		w->vault.name = "";
		w->vault.redundancy = "local";
		w->vault.zstd_level = w->group.shared->zstd_level;
		vault_call_begin(&w->call);
		w->store = chunk_store_open_keys(&w->call, &w->vault, &w->group.shared->keys);
		w->range_cxt = AllocSetContextCreate(TopMemoryContext, "vault delta range",
											 ALLOCSET_DEFAULT_SIZES);
	}
	MemoryContextSwitchTo(w->range_cxt);
	w->writer = chunk_writer_begin_sealing(w->store, send_sealed, w);
	pipe_range_base(w->writer, t, w->marks, k);
	MemoryContextSwitchTo(old);
}

/*
 * The next range nobody has claimed, now this worker's; -1: none left.
 * The ranges of a table found unchanged are passed over; those of a table
 * the caller has not decided yet wait until it has.
 */
static int
claim_range(ScanWorker *w, int me)
{
	PipeShared *sh = w->shared;

	for (;;)
	{
		int			k = -1;
		bool		wait = false;

		SpinLockAcquire(&sh->mutex);
		while (sh->next_range < sh->nranges)
		{
			const PipeTable *t = &w->tables[w->ranges[sh->next_range].table];

			if (w->ranges[sh->next_range].table >= sh->tables_ready)
			{
				wait = true;
				break;
			}
			if (t->skip)
			{
				sh->next_range = t->first_range + t->nranges;
				continue;
			}
			k = sh->next_range++;
			sh->owner[k] = me;
			break;
		}
		SpinLockRelease(&sh->mutex);
		if (!wait)
			return k;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 5,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Read one range: the rows of its blocks of the table's heaps, in order. */
static void
scan_range(ScanWorker *w, TableStream *ts, TableStreamStats *stats, int k, const PipeRange *r,
		   Snapshot snapshot)
{
	const PipeTable *t = &w->tables[r->table];
	PipeEndMsg	end;

	memset(stats, 0, sizeof(*stats));
	resetStringInfo(&w->pages);
	if (t->delta)
		delta_range_begin(w, k, r);
	pipe_range_rows(ts, t, w->heaps, r, snapshot);
	if (w->writer)
	{
		chunk_writer_cut(w->writer);
		w->writer = NULL;
		MemoryContextReset(w->range_cxt);
	}
	else if (w->seal)
		chunk_cutter_flush(&w->cutter);

	memset(&end, 0, sizeof(end));
	end.type = PIPE_MSG_END;
	end.rows = stats->rows;
	end.bytes = stats->bytes;
	group_worker_send(&w->group, &end, sizeof(end), w->pages.data, w->pages.len);
}

/* Claim and read ranges until none is left. */
static void
scan_ranges(ScanWorker *w, int me, Snapshot snapshot)
{
	TableStream *ts = NULL;
	TableStreamStats stats;
	Relation	root = NULL;
	int			table = -1;
	int			k;

	while ((k = claim_range(w, me)) >= 0)
	{
		const PipeRange *r = &w->ranges[k];

		if (k == vault_debug_parallel_fail)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("range %d of the backup fails as vault.debug_parallel_fail asks", k)));

		if (r->table != table)
		{
			if (ts)
			{
				table_stream_end(ts);
				table_close(root, NoLock);
			}
			table = r->table;
			root = table_open(w->tables[table].relid, AccessShareLock);
			ts = table_stream_begin(root, emit_bytes, w, &stats);
			table_stream_pages(ts, w->tables[table].pages ? &w->pages_sink : NULL);
			w->seal = w->tables[table].seal;
		}
		scan_range(w, ts, &stats, k, r, snapshot);
	}
	if (ts)
	{
		table_stream_end(ts);
		table_close(root, NoLock);
	}
}

void
vault_scan_worker_main(Datum arg)
{
	ScanWorker	w;
	uint64		gear[256];

	memset(&w, 0, sizeof(w));
	group_worker_attach(&w.group, arg, "vault: parallel backup worker");
	w.shared = group_worker_space(&w.group, PIPE_PART_SHARED);
	w.tables = group_worker_space(&w.group, PIPE_PART_TABLES);
	w.heaps = group_worker_space(&w.group, PIPE_PART_HEAPS);
	w.ranges = group_worker_space(&w.group, PIPE_PART_RANGES);
	w.marks = group_worker_space(&w.group, PIPE_PART_MARKS);

	/* the chunker keyed as the vault's */
	keys_gear_table(&w.group.shared->keys, gear);
	if (chunker_init(&w.chunker, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG,
					 CHUNKER_DEFAULT_MAX) != 0)
		elog(ERROR, "invalid chunker parameters");
	explicit_bzero(gear, sizeof(gear));
	chunk_cutter_init(&w.cutter, &w.chunker, NULL, seal_chunk, &w);
	w.sealed = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));
	w.scratch = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));
	initStringInfo(&w.pages);
	proof_records_sink(&w.pages, &w.pages_sink);

	scan_ranges(&w, w.group.me, w.group.snapshot);
	if (w.store)
		vault_call_end(&w.call);

	explicit_bzero(&w.chunker, sizeof(w.chunker));
	group_worker_exit(&w.group);
}
