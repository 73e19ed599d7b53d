/*-------------------------------------------------------------------------
 * scan_worker.c
 *	  A parallel backup worker: ranges of tables read under the caller's
 *	  snapshot, written as COPY BINARY, cut, named and sealed.
 *
 * Owns: a dynamic background worker's life, as PostgreSQL's parallel
 * workers live theirs: attach to the caller's segment, send every error
 * and notice to the caller (pqmq), connect as the caller's session user,
 * join the caller's lock group, take its settings, role and snapshot; then
 * claim ranges one at a time until none is left.  For a table without a
 * previous stream a range's bytes are cut into chunks (the same cutter as
 * the caller's writer), each named and sealed whole with the vault's keys;
 * for the others the bytes themselves go to the caller.  Every message goes
 * to this worker's queue, a range's in order, ending with its counts.
 *
 * It reads only: never a vault table, never a write, no transaction id.
 * Its memory is fixed: one stream buffer, the cutter, one sealing buffer.
 *-------------------------------------------------------------------------
 */
#include "parallel/pipeline_int.h"

#include "access/table.h"
#include "access/xact.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

typedef struct ScanWorker
{
	PipeShared *shared;
	PipeTable  *tables;
	PipeHeap   *heaps;
	PipeRange  *ranges;
	shm_mq_handle *out;
	Chunker		chunker;
	ChunkCutter cutter;
	uint8	   *sealed;
	uint8	   *scratch;
	bool		seal;			/* the current range's table is sealed here */
} ScanWorker;

/* Send one message; a caller that has gone away ends the worker quietly. */
static void
send_parts(ScanWorker *w, const void *head, Size head_len, const void *body, Size body_len)
{
	shm_mq_iovec iov[2];
	shm_mq_result res;

	iov[0].data = head;
	iov[0].len = head_len;
	iov[1].data = body;
	iov[1].len = body_len;
	res = shm_mq_sendv(w->out, iov, body_len > 0 ? 2 : 1, false, true);
	if (res != SHM_MQ_SUCCESS)
		proc_exit(0);			/* the caller detached: it failed or was
								 * cancelled, and says so itself */
}

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
	chunk_name_and_seal(&w->shared->keys, w->shared->zstd_level, data, len, &msg.chunk,
						w->sealed, w->scratch);
	send_parts(w, &msg, sizeof(msg), w->sealed, msg.chunk.sealed_len);
}

/* the table stream's callback: bytes to the cutter, or to the caller */
static void
emit_bytes(void *arg, const char *data, size_t len)
{
	ScanWorker *w = (ScanWorker *) arg;
	char		type = PIPE_MSG_RAW;

	if (w->seal)
		chunk_cutter_write(&w->cutter, data, len);
	else
		send_parts(w, &type, 1, data, len);
}

/* the next range nobody has claimed, now this worker's; -1: none left */
static int
claim_range(ScanWorker *w, int me)
{
	PipeShared *sh = w->shared;
	int			k = -1;

	SpinLockAcquire(&sh->mutex);
	if (sh->next_range < sh->nranges)
	{
		k = sh->next_range++;
		sh->owner[k] = me;
	}
	SpinLockRelease(&sh->mutex);
	return k;
}

/* Read one range: the rows of its blocks of the table's heaps, in order. */
static void
scan_range(ScanWorker *w, TableStream *ts, TableStreamStats *stats, const PipeRange *r,
		   Snapshot snapshot)
{
	const PipeTable *t = &w->tables[r->table];
	uint64		heap_start = 0;
	PipeEndMsg	end;

	memset(stats, 0, sizeof(*stats));
	if (r->first)
		table_stream_header(ts);
	for (int h = 0; h < t->nheaps; h++)
	{
		const PipeHeap *heap = &w->heaps[t->first_heap + h];
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
	if (w->seal)
		chunk_cutter_flush(&w->cutter);

	memset(&end, 0, sizeof(end));
	end.type = PIPE_MSG_END;
	end.rows = stats->rows;
	end.bytes = stats->bytes;
	send_parts(w, &end, sizeof(end), NULL, 0);
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
			w->seal = w->tables[table].seal;
		}
		scan_range(w, ts, &stats, r, snapshot);
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
	int			me;
	dsm_segment *seg;
	shm_toc    *toc;
	ScanWorker	w;
	shm_mq	   *mq;
	Snapshot	snapshot;
	uint64		gear[256];

	memcpy(&me, MyBgworkerEntry->bgw_extra, sizeof(int));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "vault parallel worker");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(0);			/* the caller is gone already */
	toc = shm_toc_attach(PIPE_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invalid magic number in the vault's parallel backup segment")));
	memset(&w, 0, sizeof(w));
	w.shared = shm_toc_lookup(toc, PIPE_KEY_SHARED, false);
	w.tables = shm_toc_lookup(toc, PIPE_KEY_TABLES, false);
	w.heaps = shm_toc_lookup(toc, PIPE_KEY_HEAPS, false);
	w.ranges = shm_toc_lookup(toc, PIPE_KEY_RANGES, false);

	/* from here on, errors and notices go to the caller */
	mq = (shm_mq *) ((char *) shm_toc_lookup(toc, PIPE_KEY_ERROR_QUEUES, false) +
					 me * PIPE_ERROR_QUEUE_SIZE);
	shm_mq_set_sender(mq, MyProc);
	pq_redirect_to_shm_mq(seg, shm_mq_attach(mq, seg, NULL));
	mq = (shm_mq *) ((char *) shm_toc_lookup(toc, PIPE_KEY_DATA_QUEUES, false) +
					 (Size) me * PIPE_DATA_QUEUE_SIZE);
	shm_mq_set_sender(mq, MyProc);
	w.out = shm_mq_attach(mq, seg, NULL);

	BackgroundWorkerInitializeConnectionByOid(w.shared->database, w.shared->authenticated_user, 0);
	if (!BecomeLockGroupMember(w.shared->leader, w.shared->leader_pid))
		proc_exit(0);			/* the caller's backend has moved on */
	SetClientEncoding(GetDatabaseEncoding());

	/* the caller's settings, as its parallel query workers would take them */
	StartTransactionCommand();
	RestoreGUCState(shm_toc_lookup(toc, PIPE_KEY_GUC, false));
	CommitTransactionCommand();

	/* its role and snapshot: one instant for every range */
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	SetUserIdAndSecContext(w.shared->current_user, w.shared->sec_context);
	snapshot = RestoreSnapshot(shm_toc_lookup(toc, PIPE_KEY_SNAPSHOT, false));
	RestoreTransactionSnapshot(snapshot, w.shared->leader);
	snapshot = GetTransactionSnapshot();
	PushActiveSnapshot(snapshot);
	pgstat_report_activity(STATE_RUNNING, "vault: parallel backup worker");

	/* the chunker keyed as the vault's */
	keys_gear_table(&w.shared->keys, gear);
	if (chunker_init(&w.chunker, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG,
					 CHUNKER_DEFAULT_MAX) != 0)
		elog(ERROR, "invalid chunker parameters");
	explicit_bzero(gear, sizeof(gear));
	chunk_cutter_init(&w.cutter, &w.chunker, NULL, seal_chunk, &w);
	w.sealed = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));
	w.scratch = palloc(codec_sealed_bound(CHUNKER_DEFAULT_MAX));

	scan_ranges(&w, me, snapshot);

	PopActiveSnapshot();
	CommitTransactionCommand();
	explicit_bzero(&w.chunker, sizeof(w.chunker));
	proc_exit(0);
}
