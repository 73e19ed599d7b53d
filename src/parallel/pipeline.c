/*-------------------------------------------------------------------------
 * pipeline.c
 *	  The caller's side of a parallel backup: plan the ranges, start the
 *	  workers, store what they send, in the caller's transaction.
 *
 * Owns: how many workers a backup gets (vault.max_parallel_workers, the
 * call's own degree, the slots the postmaster has), the ranges a point's
 * tables are read in (vault.parallel_range_size blocks, claimed one
 * at a time), the dynamic shared memory segment (the caller's snapshot,
 * settings and keys, a 2 MB data queue and an error queue per worker), and
 * storing: a sealed chunk is stored as it arrives, from whichever worker,
 * and takes its place in its table's manifest when every earlier range of
 * the table is in; a table with a previous stream gets its bytes range by
 * range, in order, through its writer, which cuts them against that
 * stream's bases.  A worker's error is raised here as the caller's own;
 * an error or a cancel here stops the workers (the segment's detach).
 *
 * Everything is stored by this backend in the caller's transaction, so a
 * parallel backup is exactly as atomic as a serial one.  It must not decide
 * what a point holds (backup.c does) nor read a table itself.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_int.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* what the segment's detach must undo, kept where an abort still finds it */
typedef struct PipelineCleanup
{
	PipeShared *shared;
	BackgroundWorkerHandle **handles;
	int			nworkers;
} PipelineCleanup;

typedef struct RangeState
{
	int64	   *chunk_nos;		/* a sealed table's range done ahead of an
								 * earlier one: its chunks, in order */
	int			n;
	int			cap;
	bool		done;
} RangeState;

typedef struct TableState
{
	ChunkWriter *writer;		/* NULL until its first bytes */
	int			first_range;
	int			nranges;
	int			next;			/* its ranges in the manifest so far */
	TableStreamStats ts;
} TableState;

typedef struct WorkerState
{
	shm_mq_handle *data;
	shm_mq_handle *errors;
	int			head;			/* the range of its next message; -1: not
								 * known yet */
	int			seen;			/* claims looked at up to here */
} WorkerState;

typedef struct Pipeline
{
	PipeShared *shared;
	PipeTable  *tables;
	PipeRange  *ranges;
	int			ntables;
	int			nranges;
	int			nworkers;
	PipelineCleanup *cleanup;
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

/* ---------------------------------------------------------------- set-up */

static void
pipeline_detached(dsm_segment *seg, Datum arg)
{
	PipelineCleanup *c = (PipelineCleanup *) DatumGetPointer(arg);

	explicit_bzero(&c->shared->keys, sizeof(c->shared->keys));
	for (int i = 0; i < c->nworkers; i++)
		TerminateBackgroundWorker(c->handles[i]);
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
		pt[i].first_heap = nheaps;
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

/* Start up to n workers on the segment; how many could be had. */
static int
launch_workers(dsm_segment *seg, PipelineCleanup *c, int n)
{
	BackgroundWorker bgw;
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	int			i;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "vault");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "vault_scan_worker_main");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "vault parallel worker");
	bgw.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	bgw.bgw_notify_pid = MyProcPid;
	c->handles = palloc0(sizeof(BackgroundWorkerHandle *) * n);
	for (i = 0; i < n; i++)
	{
		snprintf(bgw.bgw_name, BGW_MAXLEN, "vault parallel worker for PID %d", MyProcPid);
		memcpy(bgw.bgw_extra, &i, sizeof(int));
		if (!RegisterDynamicBackgroundWorker(&bgw, &c->handles[i]))
			break;
		c->nworkers = i + 1;
	}
	MemoryContextSwitchTo(old);
	return c->nworkers;
}

/* ---------------------------------------------------------------- errors */

/*
 * A message from worker i's error queue: an error becomes the caller's,
 * with the worker's SQLSTATE and text; a notice is passed on.
 */
static void
relay_message(int i, const char *data, Size len)
{
	StringInfoData msg;
	char		type;
	ErrorData	edata;

	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, len);
	type = pq_getmsgbyte(&msg);
	if (type != 'E' && type != 'N')
		return;					/* nothing else is sent */
	pq_parse_errornotice(&msg, &edata);
	edata.elevel = Min(edata.elevel, ERROR);
	edata.context = edata.context ?
		psprintf("%s\nvault parallel backup worker %d", edata.context, i) :
		psprintf("vault parallel backup worker %d", i);
	ThrowErrorData(&edata);
}

/* Raise what worker i has reported, if anything. */
static void
relay_errors(Pipeline *p, int i)
{
	Size		len;
	void	   *data;

	while (shm_mq_receive(p->ws[i].errors, &len, &data, true) == SHM_MQ_SUCCESS)
		relay_message(i, data, len);
}

/* Worker i went away with a range unfinished: its error, or this one. */
static void
worker_lost(Pipeline *p, int i)
{
	relay_errors(p, i);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("vault parallel backup worker %d exited before it finished its part of the backup", i),
			 errdetail("Range %d of %d was unfinished; nothing of this backup is kept.",
					   p->ws[i].head, p->nranges),
			 errhint("See the server log for the worker's end; vault.max_parallel_workers = 0 backs up without workers.")));
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
 * Whether range k's messages can be taken now: a sealed table's at any
 * time, the bytes of another only when every earlier range of it is in.
 */
static bool
range_ready(Pipeline *p, int k)
{
	const PipeRange *r = &p->ranges[k];
	TableState *t = &p->ts[r->table];

	return p->tables[r->table].seal || k == t->first_range + t->next;
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
		if (rs->chunk_nos)
			pfree(rs->chunk_nos);
		rs->chunk_nos = NULL;
		ts->next++;
	}
	if (ts->next == ts->nranges)
	{
		ChunkWriterStats ws;

		chunk_writer_finish(table_writer(p, t), &ws);
		p->tables_done++;
		p->cb->done(p->cb->arg, t, &ts->ts, &ws);
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

				if (len != sizeof(end))
					elog(ERROR, "malformed end message from vault parallel backup worker %d", i);
				memcpy(&end, data, sizeof(end));
				p->ws[i].head = -1;
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
	while (p->ranges_done < p->nranges)
	{
		bool		progressed = false;

		for (int i = 0; i < p->nworkers; i++)
		{
			int			k = head_range(p, i);
			Size		len;
			void	   *data;
			shm_mq_result res;

			if (k < 0 || !range_ready(p, k))
				continue;
			res = shm_mq_receive(p->ws[i].data, &len, &data, true);
			if (res == SHM_MQ_WOULD_BLOCK)
				continue;
			if (res == SHM_MQ_DETACHED)
				worker_lost(p, i);
			take_message(p, i, k, data, len);
			progressed = true;
		}
		if (progressed)
		{
			progress_counts(p->tables_done, p->bytes, p->chunks_new, p->chunks_reused);
			continue;
		}
		for (int i = 0; i < p->nworkers; i++)
			relay_errors(p, i);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (p->ranges_done < p->nranges)
		{
			pid_t		pid;
			bool		any = false;

			for (int i = 0; i < p->nworkers; i++)
				any |= GetBackgroundWorkerPid(p->cleanup->handles[i], &pid) != BGWH_STOPPED;
			if (!any)
			{
				/* every worker is gone: one of them failed before it could say */
				for (int i = 0; i < p->nworkers; i++)
					relay_errors(p, i);
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the vault's parallel backup workers exited with %d of %d ranges unread",
								p->nranges - p->ranges_done, p->nranges),
						 errhint("See the server log; vault.max_parallel_workers = 0 backs up without workers.")));
			}
		}
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
	shm_toc_estimator e;
	Size		snap_len;
	Size		guc_len;
	Size		shared_len;
	int			nranges;
	dsm_segment *seg;
	shm_toc    *toc;
	Pipeline	p;
	char	   *space;
	char	   *errq;
	char	   *dataq;
	int			i;
	ListCell   *lc;

	if (degree <= 0 || ntables == 0)
		return 0;
	if (!plan_ranges(tables, ntables, &heaps, &ranges, pt, &total_blocks))
		return 0;
	nranges = list_length(ranges);
	degree = Min(degree, nranges);

	/* the segment: shared state, tables, heaps, ranges, snapshot, settings, queues */
	snap_len = EstimateSnapshotSpace(snapshot);
	guc_len = EstimateGUCStateSpace();
	shared_len = add_size(offsetof(PipeShared, owner), mul_size(sizeof(int), nranges));
	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, shared_len);
	shm_toc_estimate_chunk(&e, mul_size(sizeof(PipeTable), ntables));
	shm_toc_estimate_chunk(&e, mul_size(sizeof(PipeHeap), Max(list_length(heaps), 1)));
	shm_toc_estimate_chunk(&e, mul_size(sizeof(PipeRange), nranges));
	shm_toc_estimate_chunk(&e, snap_len);
	shm_toc_estimate_chunk(&e, guc_len);
	shm_toc_estimate_chunk(&e, mul_size(PIPE_ERROR_QUEUE_SIZE, degree));
	shm_toc_estimate_chunk(&e, mul_size(PIPE_DATA_QUEUE_SIZE, degree));
	shm_toc_estimate_keys(&e, 8);
	seg = dsm_create(shm_toc_estimate(&e), DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (seg == NULL)
		return 0;
	toc = shm_toc_create(PIPE_MAGIC, dsm_segment_address(seg), shm_toc_estimate(&e));

	memset(&p, 0, sizeof(p));
	p.shared = shm_toc_allocate(toc, shared_len);
	memset(p.shared, 0, shared_len);
	SpinLockInit(&p.shared->mutex);
	p.shared->nranges = nranges;
	p.shared->ntables = ntables;
	p.shared->nheaps = list_length(heaps);
	p.shared->database = MyDatabaseId;
	p.shared->authenticated_user = GetAuthenticatedUserId();
	GetUserIdAndSecContext(&p.shared->current_user, &p.shared->sec_context);
	p.shared->leader = MyProc;
	p.shared->leader_pid = MyProcPid;
	p.shared->zstd_level = vault->zstd_level;
	chunk_store_keys(store, &p.shared->keys);
	for (i = 0; i < nranges; i++)
		p.shared->owner[i] = -1;
	shm_toc_insert(toc, PIPE_KEY_SHARED, p.shared);

	p.tables = shm_toc_allocate(toc, sizeof(PipeTable) * ntables);
	memcpy(p.tables, pt, sizeof(PipeTable) * ntables);
	shm_toc_insert(toc, PIPE_KEY_TABLES, p.tables);
	space = shm_toc_allocate(toc, sizeof(PipeHeap) * Max(list_length(heaps), 1));
	i = 0;
	foreach(lc, heaps)
		memcpy(space + sizeof(PipeHeap) * i++, lfirst(lc), sizeof(PipeHeap));
	shm_toc_insert(toc, PIPE_KEY_HEAPS, space);
	p.ranges = shm_toc_allocate(toc, sizeof(PipeRange) * nranges);
	i = 0;
	foreach(lc, ranges)
		memcpy(&p.ranges[i++], lfirst(lc), sizeof(PipeRange));
	shm_toc_insert(toc, PIPE_KEY_RANGES, p.ranges);
	space = shm_toc_allocate(toc, snap_len);
	SerializeSnapshot(snapshot, space);
	shm_toc_insert(toc, PIPE_KEY_SNAPSHOT, space);
	space = shm_toc_allocate(toc, guc_len);
	SerializeGUCState(guc_len, space);
	shm_toc_insert(toc, PIPE_KEY_GUC, space);
	errq = shm_toc_allocate(toc, mul_size(PIPE_ERROR_QUEUE_SIZE, degree));
	shm_toc_insert(toc, PIPE_KEY_ERROR_QUEUES, errq);
	dataq = shm_toc_allocate(toc, mul_size(PIPE_DATA_QUEUE_SIZE, degree));
	shm_toc_insert(toc, PIPE_KEY_DATA_QUEUES, dataq);

	/* from here on, an error or a cancel stops the workers and wipes the keys */
	p.cleanup = MemoryContextAllocZero(TopTransactionContext, sizeof(PipelineCleanup));
	p.cleanup->shared = p.shared;
	on_dsm_detach(seg, pipeline_detached, PointerGetDatum(p.cleanup));

	/* workers join this backend's lock group: their locks never wait on ours */
	if (MyProc->lockGroupLeader == NULL)
		BecomeLockGroupLeader();
	p.ws = palloc0(sizeof(WorkerState) * degree);
	for (i = 0; i < degree; i++)
	{
		shm_mq	   *mq;

		mq = shm_mq_create(errq + (Size) i * PIPE_ERROR_QUEUE_SIZE, PIPE_ERROR_QUEUE_SIZE);
		shm_mq_set_receiver(mq, MyProc);
		mq = shm_mq_create(dataq + (Size) i * PIPE_DATA_QUEUE_SIZE, PIPE_DATA_QUEUE_SIZE);
		shm_mq_set_receiver(mq, MyProc);
	}
	p.nworkers = launch_workers(seg, p.cleanup, degree);
	if (p.nworkers == 0)
	{
		ereport(DEBUG1,
				(errmsg("vault: no background worker slot is free: the backup runs serially")));
		dsm_detach(seg);
		return 0;
	}
	for (i = 0; i < p.nworkers; i++)
	{
		p.ws[i].errors = shm_mq_attach((shm_mq *) (errq + (Size) i * PIPE_ERROR_QUEUE_SIZE), seg,
									   p.cleanup->handles[i]);
		p.ws[i].data = shm_mq_attach((shm_mq *) (dataq + (Size) i * PIPE_DATA_QUEUE_SIZE), seg,
									 p.cleanup->handles[i]);
		p.ws[i].head = -1;
	}
	ereport(DEBUG1,
			(errmsg("vault: %d parallel workers back up %d tables in %d ranges (%llu blocks)",
					p.nworkers, ntables, nranges, (unsigned long long) total_blocks)));

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
	consume(&p);

	/* every range is in: the workers are finishing; let them, then let go */
	for (i = 0; i < p.nworkers; i++)
		(void) WaitForBackgroundWorkerShutdown(p.cleanup->handles[i]);
	for (i = 0; i < p.nworkers; i++)
		relay_errors(&p, i);
	dsm_detach(seg);
	return p.nworkers;
}
