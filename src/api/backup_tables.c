/*-------------------------------------------------------------------------
 * backup_tables.c
 *	  The tables of one recovery point: definitions captured, rows streamed
 *	  or referenced.
 *
 * Owns: for each table of a point, its row in point_tables (captured
 * definition, page digest: up front where an earlier stream might be
 * reused, else as the table is read) and how its rows get into the point: referenced
 * from an earlier point when unchanged.c proves the table unchanged, else
 * streamed into a chunk writer whose bases are the table's previous stream
 * in the vault: by this backend, or by the parallel pipeline's workers
 * (parallel/) when it takes them.  It runs inside backup.c's snapshot and
 * transaction and must not decide what an item holds or lock anything.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

static void
emit_to_writer(void *arg, const char *data, size_t len)
{
	ChunkWriter *w = (ChunkWriter *) arg;
	const ChunkWriterStats *st;

	chunk_writer_write(w, data, len);
	st = chunk_writer_running(w);
	progress_table(st->logical_bytes, st->new_chunks, st->chunks - st->new_chunks);
}

/*
 * Reference an earlier point's stream of this table (proven identical by
 * unchanged.c) instead of reading it: copy that manifest.
 */
static void
reuse_stream(VaultCall *call, int64 point_id, int ordinal, ProofMatch *prev,
			 TableStreamStats *ts, ChunkWriterStats *ws)
{
	Oid			types[4] = {INT8OID, INT4OID, INT8OID, INT4OID};
	Datum		values[4];

	values[0] = Int64GetDatum(point_id);
	values[1] = Int32GetDatum(ordinal);
	values[2] = Int64GetDatum(prev->point_id);
	values[3] = Int32GetDatum(prev->ordinal);
	vault_as_owner(call);
	/* new bytes: the manifest, counted as the writer counts it */
	/* (1.1: same vault, so the same geo mark) */
	ws->new_bytes = spi_int64(psprintf("WITH c AS (INSERT INTO vault_internal.manifests "
									   "  (point_id, ordinal, segment, chunk_nos%s) "
									   "  SELECT $1, $2, segment, chunk_nos%s FROM vault_internal.manifests "
									   "  WHERE point_id = $3 AND ordinal = $4 RETURNING chunk_nos) "
									   "SELECT coalesce(sum(24 + 8 * cardinality(chunk_nos)), 0)::bigint FROM c",
									   call->catalog >= VAULT_CATALOG_1_1 ? ", geo" : "",
									   call->catalog >= VAULT_CATALOG_1_1 ? ", geo" : ""),
							  4, types, values, NULL);
	/* where its ranges began: the same manifest, the same places */
	if (call->catalog >= VAULT_CATALOG_1_1)
		(void) spi_int64("UPDATE vault_internal.point_tables t "
						 "SET range_starts = p.range_starts, range_blocks = p.range_blocks "
						 "FROM vault_internal.point_tables p "
						 "WHERE t.point_id = $1 AND t.ordinal = $2 AND p.point_id = $3 AND p.ordinal = $4",
						 4, types, values, NULL);
	vault_as_caller(call);
	ts->rows = prev->rows;
	ts->bytes = prev->logical_bytes;
	ws->logical_bytes = prev->logical_bytes;
	ws->chunks = prev->chunks;
	ws->new_chunks = 0;
	ws->delta_chunks = 0;
	ws->manifest_bytes = ws->new_bytes;
}

/*
 * The table's stream in the latest available earlier point of this vault
 * (1.1): the bases its changed chunks may be stored as deltas against.
 * The vault's share lock keeps that point for the rest of the backup.
 * When workers wrote it in ranges of the size used now, *marks gets where
 * each range began in its manifest (NULL otherwise).
 */
static bool
previous_stream(VaultCall *call, VaultInfo *vault, Oid relid, int64 point_id,
				int64 *prev_point, int *prev_ordinal, int64 **marks, int *nmarks)
{
	Oid			types[3] = {INT8OID, OIDOID, INT8OID};
	Datum		values[3];
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	int			ret;

	*marks = NULL;
	*nmarks = 0;
	if (call->catalog < VAULT_CATALOG_1_1)
		return false;
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT t.point_id, t.ordinal, t.range_starts, t.range_blocks "
								"FROM vault_internal.point_tables t "
								"JOIN vault_internal.points p USING (point_id) "
								"WHERE t.source_oid = $2 AND p.vault_id = $1 AND p.point_id < $3 "
								"  AND p.state = 'available' "
								"ORDER BY t.point_id DESC LIMIT 1",
								3, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up the previous stream: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		null_starts;
		Datum		starts = SPI_getbinval(tup, desc, 3, &null_starts);
		Datum		blocks = SPI_getbinval(tup, desc, 4, &isnull);

		*prev_point = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		*prev_ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		if (!null_starts && !isnull && DatumGetInt32(blocks) == vault_parallel_range_size)
		{
			ArrayType  *arr = DatumGetArrayTypeP(starts);
			Datum	   *elems;
			bool	   *enulls;
			int			n;
			MemoryContext old = MemoryContextSwitchTo(cxt);

			deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &enulls, &n);
			*marks = palloc(sizeof(int64) * Max(n, 1));
			for (int i = 0; i < n; i++)
				(*marks)[i] = enulls[i] ? 0 : DatumGetInt64(elems[i]);
			*nmarks = n;
			MemoryContextSwitchTo(old);
		}
		found = true;
	}
	SPI_freetuptable(SPI_tuptable);
	vault_as_caller(call);
	MemoryContextSwitchTo(cxt);
	return found;
}

/* one table of the point: what backup_table_begin found out about it */
typedef struct TableJob
{
	Oid			relid;
	int			ordinal;
	bool		reuse;			/* proven unchanged since prev's point */
	ProofMatch	prev;
	bool		fold;			/* take its page digest as it is read */
	ProofDigest *digest;		/* that digest, from the stream's start */
	bool		has_base;		/* an earlier stream of it, for deltas */
	int64		base_point;
	int			base_ordinal;
	int64	   *base_marks;		/* where its ranges began there (workers
								 * wrote it), or NULL */
	int			base_nmarks;
} TableJob;

/* What the point's tables are backed up with, and where the totals go. */
typedef struct ItemRun
{
	VaultCall  *call;
	VaultInfo  *vault;
	ChunkStore *store;
	int64		point_id;
	TableJob   *jobs;
	int			njobs;
	BackupTotals *totals;
} ItemRun;

/* A writer for the table's stream, with its previous stream as the bases. */
static ChunkWriter *
table_writer(ItemRun *run, TableJob *job)
{
	ChunkWriter *w = chunk_writer_begin(run->store, run->point_id, job->ordinal);

	if (job->has_base)
		chunk_writer_set_base(w, job->base_point, job->base_ordinal);
	return w;
}

/*
 * The table's stream is written: its row of the point, the totals.  marks:
 * where each of its ranges began in its manifest, when workers wrote it
 * (NULL: this backend did, or it was referenced).
 */
static void
backup_table_end(ItemRun *run, TableJob *job, const TableStreamStats *ts, const ChunkWriterStats *ws,
				 const int64 *marks, int nmarks)
{
	Oid			utypes[8] = {INT8OID, INT4OID, INT8OID, INT8OID, INT8OID, BYTEAOID, INT8ARRAYOID, INT4OID};
	Datum		uvalues[8];
	bool		unulls[8] = {false, false, false, false, false, true, true, true};
	BackupTotals *totals = run->totals;

	uvalues[0] = Int64GetDatum(run->point_id);
	uvalues[1] = Int32GetDatum(job->ordinal);
	uvalues[2] = Int64GetDatum(ts->rows);
	uvalues[3] = Int64GetDatum(ws->logical_bytes);
	uvalues[4] = Int64GetDatum(ws->chunks);
	if (job->digest)
	{
		bytea	   *d = palloc(VARHDRSZ + PROOF_DIGEST_LEN);

		SET_VARSIZE(d, VARHDRSZ + PROOF_DIGEST_LEN);
		proof_digest_end(job->digest, (uint8 *) VARDATA(d));
		job->digest = NULL;
		uvalues[5] = PointerGetDatum(d);
		unulls[5] = false;
	}
	if (marks != NULL && nmarks > 0)
	{
		Datum	   *elems = palloc(sizeof(Datum) * nmarks);

		for (int i = 0; i < nmarks; i++)
			elems[i] = Int64GetDatum(marks[i]);
		uvalues[6] = PointerGetDatum(construct_array(elems, nmarks, INT8OID, 8, FLOAT8PASSBYVAL,
													 TYPALIGN_DOUBLE));
		uvalues[7] = Int32GetDatum(vault_parallel_range_size);
		unulls[6] = unulls[7] = false;
	}
	vault_as_owner(run->call);
	if (run->call->catalog >= VAULT_CATALOG_1_1)
		(void) spi_int64("UPDATE vault_internal.point_tables "
						 "SET rows = $3, logical_bytes = $4, chunks = $5, page_digest = coalesce($6, page_digest), "
						 "    range_starts = coalesce($7, range_starts), range_blocks = coalesce($8, range_blocks) "
						 "WHERE point_id = $1 AND ordinal = $2", 8, utypes, uvalues, unulls);
	else
		(void) spi_int64("UPDATE vault_internal.point_tables "
						 "SET rows = $3, logical_bytes = $4, chunks = $5, page_digest = coalesce($6, page_digest) "
						 "WHERE point_id = $1 AND ordinal = $2", 6, utypes, uvalues, unulls);
	vault_as_caller(run->call);

	totals->tables++;
	totals->rows += ts->rows;
	totals->logical_bytes += ws->logical_bytes;
	totals->new_bytes += ws->new_bytes;
	totals->manifest_bytes += ws->manifest_bytes;
	totals->chunks += ws->chunks;
	totals->new_chunks += ws->new_chunks;
	totals->delta_chunks += ws->delta_chunks;
}

/*
 * Capture one table's definition into the point and decide how its rows
 * get there: referenced from an earlier point of this vault if the table
 * is provably unchanged since, else streamed (against its previous stream
 * in this vault, if there is one).
 */
static void
backup_table_begin(ItemRun *run, TableJob *job, ScanProof *proof)
{
	VaultCall  *call = run->call;
	VaultInfo  *vault = run->vault;
	int64		point_id = run->point_id;
	int			ordinal = job->ordinal;
	Oid			relid = job->relid;
	Relation	rel = table_open(relid, AccessShareLock);
	Jsonb	   *def = tabledef_capture(call, relid);
	uint8		digest[PROOF_DIGEST_LEN];
	XLogRecPtr	maxlsn;
	ProofDigestResult found = PROOF_NONE;
	bool		have_digest;
	ProofMatch	prev;
	bool		reuse = false;
	Oid			types[9] = {INT8OID, INT4OID, TEXTOID, TEXTOID, OIDOID, OIDOID, JSONBOID,
	BYTEAOID, INT8OID};
	Datum		values[9];
	bool		nulls[9] = {false, false, false, false, false, false, false, false, true};

	/*
	 * The page digest up front only where an earlier point could offer a
	 * stream to reuse, and only until a page newer than its proof shows
	 * there is none; else the stream takes it as it reads the pages.
	 */
	if (proof->usable)
	{
		XLogRecPtr	bound = proof_candidate_bound(call, vault, relid, def);

		found = XLogRecPtrIsInvalid(bound) ? PROOF_NEWER :
			proof_table_digest(rel, bound, digest, &maxlsn);
	}
	have_digest = found == PROOF_DIGEST;
	if (have_digest)
		reuse = proof_find_unchanged(call, vault, relid, def, digest, maxlsn, &prev);
	job->fold = found == PROOF_NEWER;

	values[0] = Int64GetDatum(point_id);
	values[1] = Int32GetDatum(ordinal);
	values[2] = CStringGetTextDatum(get_namespace_name(RelationGetNamespace(rel)));
	values[3] = CStringGetTextDatum(RelationGetRelationName(rel));
	values[4] = ObjectIdGetDatum(relid);
	values[5] = ObjectIdGetDatum(rel->rd_rel->relowner);
	values[6] = JsonbPGetDatum(def);
	nulls[7] = !have_digest;
	if (have_digest)
	{
		bytea	   *d = palloc(VARHDRSZ + PROOF_DIGEST_LEN);

		SET_VARSIZE(d, VARHDRSZ + PROOF_DIGEST_LEN);
		memcpy(VARDATA(d), digest, PROOF_DIGEST_LEN);
		values[7] = PointerGetDatum(d);
	}
	if (reuse)
	{
		values[8] = Int64GetDatum(prev.point_id);
		nulls[8] = false;
	}
	vault_as_owner(call);
	(void) spi_int64(call->catalog >= VAULT_CATALOG_1_1 ?
					 "INSERT INTO vault_internal.point_tables "
					 "(point_id, ordinal, schema_name, table_name, source_oid, source_owner, definition, "
					 " page_digest, unchanged_since, geo) "
					 "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, p.geo FROM vault_internal.points p "
					 "WHERE p.point_id = $1" :
					 "INSERT INTO vault_internal.point_tables "
					 "(point_id, ordinal, schema_name, table_name, source_oid, source_owner, definition, "
					 " page_digest, unchanged_since) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9, types, values, nulls);
	vault_as_caller(call);

	job->reuse = reuse;
	job->prev = prev;
	if (reuse)
		ereport(DEBUG1,
				(errmsg("table \"%s\" is unchanged since recovery point " INT64_FORMAT ": its chunks are referenced, no row is read",
						RelationGetRelationName(rel), prev.point_id)));
	else
		job->has_base = previous_stream(call, vault, relid, point_id, &job->base_point,
										&job->base_ordinal, &job->base_marks, &job->base_nmarks);
	table_close(rel, NoLock);
}

/* A table proven unchanged: its earlier stream referenced. */
static void
backup_table_reuse(ItemRun *run, TableJob *job)
{
	ChunkWriterStats ws;
	TableStreamStats ts;

	reuse_stream(run->call, run->point_id, job->ordinal, &job->prev, &ts, &ws);
	progress_table(ws.logical_bytes, ws.new_chunks, ws.chunks - ws.new_chunks);
	progress_table_done();
	backup_table_end(run, job, &ts, &ws, NULL, 0);
}

/* A table streamed by this backend. */
static void
backup_table_serial(ItemRun *run, TableJob *job, Snapshot snapshot)
{
	Relation	rel = table_open(job->relid, AccessShareLock);
	ChunkWriter *w = table_writer(run, job);
	ChunkWriterStats ws;
	TableStreamStats ts;
	StreamPages pages;

	progress_phase("reading table");
	if (job->fold)
		job->digest = proof_digest_begin(rel);
	if (job->digest)
		proof_digest_sink(job->digest, &pages);
	table_stream_write(rel, snapshot, emit_to_writer, w, &ts, job->digest ? &pages : NULL);
	chunk_writer_finish(w, &ws);
	progress_table(ws.logical_bytes, ws.new_chunks, ws.chunks - ws.new_chunks);
	progress_table_done();
	table_close(rel, NoLock);
	backup_table_end(run, job, &ts, &ws, NULL, 0);
}

/*
 * Whether no earlier point of the vault holds any of the tables: then none
 * is unchanged since one, none has a previous stream, every one is read.
 */
static bool
no_earlier_stream(VaultCall *call, VaultInfo *vault, const Oid *relids, int n, int64 point_id)
{
	Oid			types[3] = {INT8OID, OIDARRAYOID, INT8OID};
	Datum		values[3];
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool		none;

	for (int i = 0; i < n; i++)
		elems[i] = ObjectIdGetDatum(relids[i]);
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[2] = Int64GetDatum(point_id);
	vault_as_owner(call);
	none = spi_int64("SELECT CASE WHEN EXISTS (SELECT 1 FROM vault_internal.point_tables t "
					 "JOIN vault_internal.points p USING (point_id) "
					 "WHERE p.vault_id = $1 AND t.source_oid = ANY ($2) AND t.point_id < $3) "
					 "THEN 0::int8 ELSE 1::int8 END", 3, types, values, NULL) == 1;
	vault_as_caller(call);
	return none;
}

/* the parallel pipeline's callbacks: its table i is run->jobs[i] */
typedef struct PipelineRun
{
	ItemRun    *run;
	ScanProof  *proof;
} PipelineRun;

static bool
pipeline_prepare(void *arg, int i, PipelineTable *t)
{
	PipelineRun *pr = (PipelineRun *) arg;
	TableJob   *job = &pr->run->jobs[i];

	backup_table_begin(pr->run, job, pr->proof);
	if (job->reuse)
		return false;
	t->seal = !job->has_base;
	t->pages = job->fold;
	t->base_point = job->base_point;
	t->base_ordinal = job->base_ordinal;
	t->marks = job->base_marks;
	t->nmarks = job->base_nmarks;
	return true;
}

static ChunkWriter *
pipeline_open(void *arg, int i)
{
	PipelineRun *pr = (PipelineRun *) arg;

	return table_writer(pr->run, &pr->run->jobs[i]);
}

static ProofDigest *
pipeline_digest(void *arg, int i)
{
	PipelineRun *pr = (PipelineRun *) arg;
	TableJob   *job = &pr->run->jobs[i];
	Relation	rel = table_open(job->relid, NoLock);	/* locked since its begin */

	job->digest = proof_digest_begin(rel);
	table_close(rel, NoLock);
	return job->digest;
}

static void
pipeline_done(void *arg, int i, const TableStreamStats *ts, const ChunkWriterStats *ws,
			  const int64 *marks, int nmarks)
{
	PipelineRun *pr = (PipelineRun *) arg;

	backup_table_end(pr->run, &pr->run->jobs[i], ts, ws, marks, nmarks);
}

/*
 * Begin every table (backup_table_begin) and stream those that need it
 * with workers, which start on a table's ranges as soon as it is begun,
 * while this backend begins the next ones; false when the pipeline read
 * nothing (every table is begun then too, and this backend streams them).
 */
static bool
backup_tables_parallel(ItemRun *run, Snapshot snapshot, ScanProof *proof, int degree)
{
	Oid		   *relids = palloc(sizeof(Oid) * Max(run->njobs, 1));
	PipelineRun pr;
	PipelineCallbacks cb;
	int			workers;

	for (int j = 0; j < run->njobs; j++)
		relids[j] = run->jobs[j].relid;
	pr.run = run;
	pr.proof = proof;
	cb.prepare = pipeline_prepare;
	cb.open = pipeline_open;
	cb.digest = pipeline_digest;
	cb.done = pipeline_done;
	cb.arg = &pr;
	cb.all_read = no_earlier_stream(run->call, run->vault, relids, run->njobs, run->point_id);
	progress_phase(run->njobs == 1 ? "reading table" : "reading tables");
	workers = parallel_backup(run->call, run->vault, run->store, snapshot, relids, run->njobs,
							  degree, &cb);
	run->totals->workers = workers;
	return workers > 0;
}

/*
 * Write every table of the point: each one's definition first, then its
 * rows, by workers where that can be done and pays (they read a table's
 * rows while this backend captures the next definitions), else by this
 * backend.
 */
void
backup_tables(VaultCall *call, VaultInfo *vault, ChunkStore *store, int64 point_id, List *relids,
			  Snapshot snapshot, ScanProof *proof, int degree, BackupTotals *totals)
{
	ItemRun		runspace;
	ItemRun    *run = &runspace;
	ListCell   *lc;
	int			j = 0;
	bool		streamed = false;

	memset(run, 0, sizeof(*run));
	run->call = call;
	run->vault = vault;
	run->store = store;
	run->point_id = point_id;
	run->totals = totals;
	run->njobs = list_length(relids);
	run->jobs = palloc0(sizeof(TableJob) * Max(run->njobs, 1));
	foreach(lc, relids)
	{
		run->jobs[j].relid = lfirst_oid(lc);
		run->jobs[j].ordinal = j + 1;
		j++;
	}
	if (degree > 0)
		streamed = backup_tables_parallel(run, snapshot, proof, degree);
	else
	{
		for (j = 0; j < run->njobs; j++)
			backup_table_begin(run, &run->jobs[j], proof);
	}
	for (j = 0; j < run->njobs; j++)
	{
		if (run->jobs[j].reuse)
			backup_table_reuse(run, &run->jobs[j]);
	}
	if (!streamed)
	{
		for (j = 0; j < run->njobs; j++)
		{
			if (!run->jobs[j].reuse)
				backup_table_serial(run, &run->jobs[j], snapshot);
		}
	}
}

